"""Our TD3 update against SB3's TD3.train (through the parity kit any agent uses, harness.verify.parity)
and against the paper's formulas computed here by hand.

The batches are built to reveal faults: a quarter of their transitions are terminal (the
``(1 - done)`` mask matters), the target critics answer about 10 and 12 (the min of the two
matters), the target noise clip binds on most samples and the actor has two outputs; in the
update by hand, per-sample discounts differ (n-step returns) and importance weights differ
(prioritized replay). Each of these faults fails a test here (README, "Parity"):
min of the twin target critics replaced by max, no policy delay, a wrong noise clip, no
target smoothing, the online critic in the target, no terminal mask, gamma instead of the
per-sample discounts, the importance weights ignored, a wrong Polyak rate, the actor trained
on the second critic.
"""

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch

from custom_td3 import TD3, TD3Config
from custom_td3.replay import Batch
from harness.agents import get_arm
from harness.verify import parity

ENV = "LunarLanderContinuous-v3"  # 8 observations, 2 actions
UPDATES, BATCH, GAMMA = 100, 64, 0.98


def make_batch(rng: np.random.Generator, obs_dim: int, act_dim: int, n_step: bool, weighted: bool) -> Batch:
    """A synthetic minibatch: terminals, per-sample discounts gamma**k (k in 1..3) and non-uniform weights."""

    def t(x):
        return torch.as_tensor(np.asarray(x, dtype=np.float32))

    ks = rng.integers(1, 4, size=(BATCH, 1)) if n_step else np.ones((BATCH, 1))
    return Batch(
        observations=t(rng.normal(size=(BATCH, obs_dim))),
        actions=t(rng.uniform(-1, 1, size=(BATCH, act_dim))),
        rewards=t(rng.normal(size=(BATCH, 1))),
        next_observations=t(rng.normal(size=(BATCH, obs_dim))),
        dones=t(rng.random((BATCH, 1)) < 0.25),
        discounts=t(GAMMA**ks),
        weights=t(rng.uniform(0.1, 2.0, size=(BATCH, 1)) if weighted else np.ones((BATCH, 1))),
        indices=np.arange(BATCH),
    )


def lift_targets(critic_target: torch.nn.Module) -> None:
    """Target critics that answer about 10 and 12 rather than about 0: the discount, the terminal mask
    and the min of the two then change the target by whole units, not by the width of initial noise."""
    with torch.no_grad():
        critic_target.qf0[-1].bias += 10.0
        critic_target.qf1[-1].bias += 12.0


@pytest.mark.parametrize(
    "case",
    [
        *parity.REFERENCES["sb3-td3"].cases,  # what `python -m harness parity --agent td3` runs
        parity.Case(
            "delay2-clip0.5",
            {"policy_delay": 2, "target_policy_noise": 0.2, "target_noise_clip": 0.5, "tau": 0.005},
            noise=True,
        ),
        parity.Case(
            "delay1-clip0.05",
            {"policy_delay": 1, "target_policy_noise": 0.2, "target_noise_clip": 0.05, "tau": 0.005},
            noise=True,
        ),
        parity.Case(
            "delay3-clip0.05-tau0.02",
            {"policy_delay": 3, "target_policy_noise": 0.2, "target_noise_clip": 0.05, "tau": 0.02},
            noise=True,
        ),
    ],
    ids=["kit-noise-off", "kit-noise-on", "delay2-clip0.5", "delay1-clip0.05", "delay3-clip0.05-tau0.02"],
)
def test_100_updates_match_sb3(case, each_backend):
    """The parity kit (harness.verify.parity): SB3's weights, 100 identical minibatches with terminals,
    every network within 1e-5 of SB3's TD3 after them."""
    [result] = parity.run(get_arm("td3"), "sb3-td3", UPDATES, 1e-5, cases=(case,))
    assert not result.error and not result.skipped, result.rows()
    assert result.updates == (UPDATES, UPDATES)
    assert set(result.diffs) == {"actor", "actor_target", "qf0", "qf0_target", "qf1", "qf1_target"}
    assert max(result.diffs.values()) < 1e-5, result.rows()
    assert result.moved > 1e-3  # not vacuous: the actor did change
    assert result.passed


def test_one_update_by_hand_with_weights_discounts_and_terminals():
    """The critic loss, its gradients, the actor's gradients and the Polyak step of one update,
    computed here in float64 from the formulas of Fujimoto et al. (2018) with importance weights."""
    clip, tau = 0.05, 0.01
    env = gym.make(ENV)
    agent = TD3(
        env,
        TD3Config(
            net_arch=(32, 32),
            batch_size=BATCH,
            learning_starts=0,
            gamma=GAMMA,
            tau=tau,
            policy_delay=1,
            target_noise_clip=clip,
            prioritized=True,
        ),
        seed=0,
    )
    lift_targets(agent.critic_target)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    batch = make_batch(np.random.default_rng(1), obs_dim, act_dim, n_step=True, weighted=True)
    before = {
        n: copy.deepcopy(getattr(agent, n)).double() for n in ("actor", "critic", "actor_target", "critic_target")
    }
    generator = torch.Generator().set_state(agent.noise_gen.get_state())
    b = Batch(*(x.double() if isinstance(x, torch.Tensor) else x for x in batch))

    info = agent.train(batch)

    noise = torch.empty_like(batch.actions).normal_(0.0, 0.2, generator=generator).double().clamp(-clip, clip)
    with torch.no_grad():
        next_actions = (before["actor_target"](b.next_observations) + noise).clamp(-1.0, 1.0)
        q1_next, q2_next = before["critic_target"](b.next_observations, next_actions)
        target = b.rewards + (1.0 - b.dones) * b.discounts * torch.minimum(q1_next, q2_next)
    q1, q2 = before["critic"](b.observations, b.actions)
    loss = (b.weights * (q1 - target) ** 2).mean() + (b.weights * (q2 - target) ** 2).mean()
    loss.backward()
    assert info["critic_loss"].item() == pytest.approx(loss.item(), rel=1e-5)
    for (name, got), want in zip(agent.critic.named_parameters(), before["critic"].parameters(), strict=True):
        assert torch.allclose(got.grad.double(), want.grad, rtol=1e-4, atol=1e-6), f"critic gradient {name}"

    critic_after = copy.deepcopy(agent.critic).double()  # the actor ascends the critic just updated
    actor_loss = -critic_after.q1(b.observations, before["actor"](b.observations)).mean()
    actor_loss.backward()
    assert info["actor_loss"].item() == pytest.approx(actor_loss.item(), rel=1e-5)
    for (name, got), want in zip(agent.actor.named_parameters(), before["actor"].parameters(), strict=True):
        assert torch.allclose(got.grad.double(), want.grad, rtol=1e-4, atol=1e-7), f"actor gradient {name}"

    for net in ("actor", "critic"):
        online, target_now, target_before = (
            getattr(agent, net).parameters(),
            getattr(agent, f"{net}_target").parameters(),
            before[f"{net}_target"].parameters(),
        )
        for p, t_now, t_before in zip(online, target_now, target_before, strict=True):
            expected = (1 - tau) * t_before + tau * p.detach().double()
            assert torch.allclose(t_now.double(), expected, atol=1e-6), f"Polyak step of {net}_target"
    # Not vacuous: weights, discounts, the terminal mask and the min each change the loss by more than 1%.
    assert (torch.maximum(q1_next, q2_next) - torch.minimum(q1_next, q2_next)).mean() > 1.0
    for field, value in (("weights", 1.0), ("discounts", GAMMA), ("dones", 0.0)):
        other = getattr(b, field).clone().fill_(value)
        y = (
            target
            if field == "weights"
            else b.rewards
            + (1.0 - (other if field == "dones" else b.dones))
            * (other if field == "discounts" else b.discounts)
            * torch.minimum(q1_next, q2_next)
        )
        w = other if field == "weights" else b.weights
        changed = ((w * (q1 - y) ** 2).mean() + (w * (q2 - y) ** 2).mean()).item()
        assert abs(changed - loss.item()) > 1e-2 * abs(loss.item()), field


@pytest.mark.parametrize("case", parity.REFERENCES["sb3-td3"].cases, ids=["kit-noise-off", "kit-noise-on"])
def test_every_member_of_a_batched_group_update_matches_sb3(case, monkeypatch):
    """The parity kit's comparison for a seed group: three members of our TD3 start from SB3's weights and
    make the kit's 100 updates through the group's batched update (each member its minibatch, the kit's,
    and its target noise from its own generator seeded as SB3's); every member's every network within
    1e-5 of SB3's TD3, as a single agent's is."""
    import custom_td3.group as group_module
    from custom_td3.group import TD3Group

    ref = parity.REFERENCES["sb3-td3"]
    settings = {**parity.SETTINGS, **case.settings, **ref.fixed}
    env = parity.BoxEnv(parity.OBS_DIM, [-1.0] * parity.ACT_DIM, [1.0] * parity.ACT_DIM)
    sb3, initial, batches = parity.reference_run(ref, settings, env, UPDATES)
    config = parity._agent_config(get_arm("td3"), settings, ref)
    members = [TD3(parity.BoxEnv(parity.OBS_DIM, [-1.0] * 2, [1.0] * 2), config, seed=k) for k in range(3)]
    for m in members:
        m.parity_load(initial)
        m.noise_gen = torch.Generator().manual_seed(parity.NOISE_SEED)
        m.buffer.draw = lambda size, beta: (np.arange(size), np.ones(size, dtype=np.float32))
    feed = iter(batches)

    def the_kits_batch(buffers, draws):
        b = next(feed)
        k = len(buffers)
        return Batch(
            observations=b.observations.expand(k, -1, -1),
            actions=b.actions.expand(k, -1, -1),
            rewards=b.rewards.expand(k, -1, -1),
            next_observations=b.next_observations.expand(k, -1, -1),
            dones=b.dones.expand(k, -1, -1),
            discounts=torch.full((k, *b.rewards.shape), config.gamma),
            weights=torch.ones(k, *b.rewards.shape),
            indices=np.stack([idx for idx, _ in draws]),
        )

    monkeypatch.setattr(group_module, "stack_batches", the_kits_batch)
    group = TD3Group(members)
    group._set_running([0, 1, 2])
    for _ in range(UPDATES):
        group._batched_update([0.0] * 3)
    group._set_running([])
    theirs = parity.sb3_weights(sb3, ref)
    for k, member in enumerate(members):
        assert member.num_updates == UPDATES
        mine = member.parity_weights()
        for net in ref.networks:
            worst = max(float((a - b).abs().max()) for a, b in zip(theirs[net], mine[net], strict=True))
            assert worst < 1e-5, (k, net, worst)
    moved = max(float((a - b).abs().max()) for a, b in zip(theirs["actor"], initial["actor"], strict=True))
    assert moved > 1e-3  # not vacuous: the actor did change
