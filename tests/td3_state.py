"""Every tensor of a TD3 agent's training state, by name: for bit-exact comparisons of two agents."""

import torch


def tensors(agent) -> dict[str, torch.Tensor]:
    """Networks, targets and the optimizers' moment tensors of ``agent``."""
    nets = ("actor", "critic", "actor_target", "critic_target")
    out = {f"{n}.{k}": v for n in nets for k, v in getattr(agent, n).state_dict().items()}
    for n in ("actor_optimizer", "critic_optimizer"):
        for pid, st in getattr(agent, n).state_dict()["state"].items():
            out.update({f"{n}.{pid}.{k}": v for k, v in st.items() if torch.is_tensor(v)})
    return out
