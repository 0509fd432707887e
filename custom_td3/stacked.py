"""K members' networks and Adam state as tensors with a leading member axis, for a seed group's update.

``Stack(members)`` copies the members' actor, critic, their targets and both Adam states into
stacked tensors (a weight of shape (K, out, in), a bias (K, out)) and then points every member's
own parameters and Adam moments at its slice: the members keep working as ordinary agents (their
``train``, ``predict``, ``state_dict``) on the same memory the stacked update writes, so nothing is
ever copied back. ``release(member)`` gives a member its own storage again when it leaves.

The stacked forward passes are the networks of ``networks.py`` with ``torch.baddbmm`` in place of
each Linear: member k's slice of every output is what member k's network computes (to fp32
rounding, since a batched product may sum in another order). ``StackedAdam`` is torch's Adam,
element for element, with a step count and a learning rate per member.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from custom_td3.networks import ACTIVATION_CLASSES, IN_PLACE
from custom_td3.noisy import NoisyLinear

if TYPE_CHECKING:
    from custom_td3.td3 import TD3

NETS = ("actor", "critic", "actor_target", "critic_target")
#: (f(eps_in) (K, in), f(eps_out) (K, out)) for each NoisyLinear of the actor, in module order.
Noise = list[tuple[torch.Tensor, torch.Tensor]]


class Stack:
    """The networks and Adam states of ``members`` (K ordinary TD3 agents of one config), stacked."""

    def __init__(self, members: Sequence[TD3]):
        self.members = list(members)
        first = self.members[0]
        self.params: dict[str, dict[str, torch.Tensor]] = {}
        for net in NETS:
            modules = [getattr(m, net) for m in self.members]
            stacked = {}
            for name, _ in modules[0].named_parameters():
                own = [dict(module.named_parameters())[name] for module in modules]
                tensor = torch.stack([p.detach() for p in own])
                for k, p in enumerate(own):
                    p.data = tensor[k]
                stacked[name] = tensor.requires_grad_(not net.endswith("target"))
            self.params[net] = stacked
        self.actor_adam = StackedAdam([m.actor_optimizer for m in self.members], list(self.params["actor"].values()))
        self.critic_adam = StackedAdam([m.critic_optimizer for m in self.members], list(self.params["critic"].values()))
        self.activation = first.config.activation_fn
        self.actor_layers = _linear_prefixes(first.actor.mu, "mu")
        self.noisy = any(isinstance(m, NoisyLinear) for m in first.actor.modules())
        self.critic_layers = [_linear_prefixes(getattr(first.critic, q), q) for q in ("qf0", "qf1")]

    def __len__(self) -> int:
        return len(self.members)

    # ------------------------------------------------------------------ forward passes, (K, B, ...) -> (K, B, ...)
    def actor(self, obs: torch.Tensor, noise: Noise | None = None, target: bool = False) -> torch.Tensor:
        """mu(s) of every member: (K, B, obs_dim) -> (K, B, act_dim); NoisyNets layers use ``noise``
        (one draw per member) or, without it, their mean weights, as the target actor always does."""
        params = self.params["actor_target" if target else "actor"]
        layers = []
        for i, prefix in enumerate(self.actor_layers):
            if not self.noisy:
                layers.append((params[f"{prefix}.weight"], params[f"{prefix}.bias"]))
                continue
            weight, bias = params[f"{prefix}.weight_mu"], params[f"{prefix}.bias_mu"]
            if noise is not None:
                eps_in, eps_out = noise[i]
                weight = weight + params[f"{prefix}.weight_sigma"] * (eps_out[:, :, None] * eps_in[:, None, :])
                bias = bias + params[f"{prefix}.bias_sigma"] * eps_out
            layers.append((weight, bias))
        return torch.tanh(self._mlp(obs, layers))

    def critic(
        self, obs: torch.Tensor, action: torch.Tensor, target: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(Q1, Q2) of every member, each (K, B, 1)."""
        params = self.params["critic_target" if target else "critic"]
        x = torch.cat([obs, action], dim=2)
        q1, q2 = (
            self._mlp(x, [(params[f"{p}.weight"], params[f"{p}.bias"]) for p in prefixes])
            for prefixes in self.critic_layers
        )
        return q1, q2

    def q1(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Q1 alone, (K, B, 1): what the actors ascend."""
        params = self.params["critic"]
        x = torch.cat([obs, action], dim=2)
        return self._mlp(x, [(params[f"{p}.weight"], params[f"{p}.bias"]) for p in self.critic_layers[0]])

    def _mlp(self, x: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """``Linear, act, ..., Linear`` with weights (K, out, in) and biases (K, out) on x (K, B, in)."""
        act = ACTIVATION_CLASSES[self.activation]
        for i, (weight, bias) in enumerate(layers):
            # .float(): under bf16 only the product is bf16 (TD3.set_precision); in fp32 it changes nothing.
            x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2)).float()
            if i < len(layers) - 1:
                x = act(inplace=True)(x) if self.activation in IN_PLACE else act()(x)
        return x

    # ------------------------------------------------------------------ the rest of an update
    def polyak(self, tau: float) -> None:
        """Both targets <- (1 - tau) * target + tau * online, every member at once."""
        with torch.no_grad():
            for net in ("actor", "critic"):
                for name, param in self.params[net].items():
                    self.params[f"{net}_target"][name].mul_(1.0 - tau).add_(param, alpha=tau)

    def release(self) -> None:
        """Give every member its own storage again (copies of its slices): the stack is no longer used."""
        for m in self.members:
            release(m)


def release(member: TD3) -> None:
    """``member``'s parameters and Adam moments copied to storage of their own."""
    for net in NETS:
        for p in getattr(member, net).parameters():
            p.data = p.data.clone()
    for opt in (member.actor_optimizer, member.critic_optimizer):
        for state in opt.state.values():
            for key, value in state.items():
                if isinstance(value, torch.Tensor):
                    state[key] = value.clone()


def _linear_prefixes(seq: nn.Module, prefix: str) -> list[str]:
    """Parameter-name prefixes (``mu.0``, ``mu.2``, ...) of the linear layers of an ``mlp``, in order."""
    return [f"{prefix}.{i}" for i, m in enumerate(seq.children()) if isinstance(m, (nn.Linear, NoisyLinear))]


class StackedAdam:
    """Adam (Kingma and Ba 2015, torch's defaults for everything but lr) over stacked parameters,
    each member with its own step count and learning rate.

    Its moments and step counts are the members' own Adam state: each member's optimizer is pointed
    at its slices, so a member's own ``optimizer.step()`` and this one move the same numbers.
    """

    def __init__(self, optimizers: Sequence[torch.optim.Adam], params: list[torch.Tensor]):
        group = optimizers[0].param_groups[0]
        self.beta1, self.beta2 = group["betas"]
        self.eps = group["eps"]
        for opt in optimizers:
            g = opt.param_groups[0]
            plain = len(opt.param_groups) == 1 and g["weight_decay"] == 0 and not g["amsgrad"] and not g["maximize"]
            if not plain or g["betas"] != group["betas"] or g["eps"] != self.eps:
                raise ValueError("a seed group's Adam needs every member's Adam alike, without weight decay or amsgrad")
        self.params = params
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        # One count per parameter tensor and member, as torch's Adam keeps them (all equal in practice).
        self.steps = torch.zeros(len(params), len(optimizers), dtype=torch.float32, device=params[0].device)
        for k, opt in enumerate(optimizers):
            for i, p in enumerate(opt.param_groups[0]["params"]):
                state = opt.state.get(p)
                if state:
                    self.steps[i, k] = state["step"]
                    self.exp_avg[i][k] = state["exp_avg"]
                    self.exp_avg_sq[i][k] = state["exp_avg_sq"]
                opt.state[p] = {
                    "step": self.steps[i, k],
                    "exp_avg": self.exp_avg[i][k],
                    "exp_avg_sq": self.exp_avg_sq[i][k],
                }

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor], lr: float | torch.Tensor) -> None:
        """One Adam step of every member; ``lr`` one for all, or (K,) one per member."""
        self.steps += 1
        step = self.steps[0].double()
        bias_correction1 = 1.0 - self.beta1**step
        bias_correction2_sqrt = (1.0 - self.beta2**step).sqrt()
        step_size = (lr / bias_correction1).float()
        bias_correction2_sqrt = bias_correction2_sqrt.float()
        for param, grad, exp_avg, exp_avg_sq in zip(self.params, grads, self.exp_avg, self.exp_avg_sq, strict=True):
            shape = (-1,) + (1,) * (param.dim() - 1)
            exp_avg.lerp_(grad, 1.0 - self.beta1)
            exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1.0 - self.beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt.view(shape)).add_(self.eps)
            param.sub_(step_size.view(shape) * exp_avg / denom)
