"""``parity``: does a TD3-family agent's update compute what Stable-Baselines3's TD3 (or DDPG) computes?

Both start from the same weights (SB3's, its target critics lifted to answer about 10 and 12 so
that the terminal mask and the min of the twin critics move the target by whole units), take the
same hyperparameters and the same minibatches (a quarter of their transitions terminal), and
each runs ``updates`` updates; then the largest parameter difference of each network is compared
with a threshold. With the target-policy noise on (std 0.2, clip 0.05, which binds on most draws),
the agent draws its noise from a generator the kit hands it, seeded as SB3's global one.

The adapter an agent implements (docs/agents.md):

    parity_load(weights)                   take SB3's networks
    parity_update(batch, generator=None)   one update on ``batch`` (a ``ParityBatch``); with a
                                           generator, draw the target noise from it as SB3 does:
                                           torch.empty_like(batch.actions).normal_(0, std, generator=generator)
    parity_weights() -> weights            hand the networks back

``weights`` maps "actor", "actor_target", "qf0", "qf0_target" (and "qf1", "qf1_target" for TD3)
to a network's parameters in order, [W0, b0, W1, b1, ...], each W as torch.nn.Linear holds it
(out, in): MLPs with ReLU between layers and tanh after the actor's last; a critic reads the
observation and the action concatenated, in that order. The kit sets SB3's hyperparameter names
(``SETTINGS`` and each case's) on the agent's Config where it has them, or passes them to a
classmethod ``parity_config(settings) -> Config`` when the agent has one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import stable_baselines3
import torch
from stable_baselines3.common.logger import configure
from stable_baselines3.common.type_aliases import ReplayBufferSamples

from harness.agents import Arm
from harness.config.schema import build_config, fields_of
from harness.errors import UsageError
from harness.verify.conformance import BoxEnv

ADAPTER = ("parity_load", "parity_update", "parity_weights")
#: The settings both sides take in every case (SB3's names); small networks, a batch of 64.
SETTINGS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "gamma": 0.98,
    "batch_size": 64,
    "buffer_size": 5000,
    "learning_starts": 0,
    "net_arch": [32, 32],
}
OBS_DIM, ACT_DIM = 6, 2
TERMINAL_FRACTION = 0.25
NOISE_SEED = 123


@dataclass(frozen=True)
class ParityBatch:
    """One minibatch, float32 tensors: observations (B, obs), actions (B, act) in [-1, 1], rewards
    (B, 1), next_observations (B, obs), dones (B, 1) with 1.0 for a terminal transition."""

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    dones: torch.Tensor


@dataclass(frozen=True)
class Case:
    """One comparison: the settings that differ between cases, and whether target noise is on."""

    name: str
    settings: dict[str, Any]
    noise: bool = False


@dataclass(frozen=True)
class Reference:
    algo: type
    #: The settings this reference fixes, set on the agent too (DDPG: one critic, no delay, no noise).
    fixed: dict[str, Any]
    networks: tuple[str, ...]
    cases: tuple[Case, ...]
    #: Keys the agent's Config must have for the comparison to mean anything.
    required: tuple[str, ...]


_TD3_NETS = ("actor", "actor_target", "qf0", "qf0_target", "qf1", "qf1_target")
REFERENCES = {
    "sb3-td3": Reference(
        stable_baselines3.TD3,
        {"n_critics": 2},
        _TD3_NETS,
        (
            Case(
                "target noise off, policy delay 2",
                {"policy_delay": 2, "tau": 0.005, "target_policy_noise": 0.0, "target_noise_clip": 0.5},
            ),
            Case(
                "target noise on (std 0.2, clip 0.05), policy delay 2",
                {"policy_delay": 2, "tau": 0.005, "target_policy_noise": 0.2, "target_noise_clip": 0.05},
                noise=True,
            ),
        ),
        ("learning_rate", "gamma", "tau", "net_arch", "policy_delay", "target_policy_noise", "target_noise_clip"),
    ),
    "sb3-ddpg": Reference(
        stable_baselines3.DDPG,
        {"n_critics": 1, "policy_delay": 1, "target_policy_noise": 0.0, "target_noise_clip": 0.0},
        _TD3_NETS[:4],
        (Case("DDPG: one critic, no delay, no target noise", {"tau": 0.005}),),
        ("learning_rate", "gamma", "tau", "net_arch"),
    ),
}


@dataclass
class Comparison:
    name: str
    threshold: float
    diffs: dict[str, float] = field(default_factory=dict)  # network -> largest |difference|
    moved: float = 0.0  # largest change of the reference's actor: the updates did something
    updates: tuple[int, int | None] = (0, None)  # SB3's and the agent's update counts
    skipped: str = ""
    error: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.skipped) or (
            not self.error and bool(self.diffs) and max(self.diffs.values()) <= self.threshold and self.moved > 1e-3
        )

    def rows(self) -> list[str]:
        if self.skipped:
            return [f"skip  {self.name}: {self.skipped}"]
        if self.error:
            return [f"FAIL  {self.name}: {self.error}"]
        theirs, mine = self.updates
        counts = f"SB3 made {theirs} updates" + (f", the agent {mine}" if mine is not None else "")
        head = f"{'pass' if self.passed else 'FAIL'}  {self.name}: {counts}"
        lines = [head]
        for net, diff in self.diffs.items():
            verdict = "ok" if diff <= self.threshold else f"ABOVE the threshold {self.threshold:g}"
            lines.append(f"        {net:<12} largest |difference| {diff:.2e}  {verdict}")
        if self.moved <= 1e-3:
            lines.append(f"        the reference's actor moved only {self.moved:.1e}: the comparison proves nothing")
        return lines


def describe(arm: Arm, reference: str, updates: int, threshold: float) -> str:
    settings = ", ".join(f"{k}={v}" for k, v in SETTINGS.items())
    return (
        f"parity of {arm.name} against {reference}: {updates} updates on identical minibatches of "
        f"{SETTINGS['batch_size']} ({TERMINAL_FRACTION:.0%} terminal), {OBS_DIM} observations, {ACT_DIM} actions; "
        f"{settings}; threshold {threshold:g} per network"
    )


def run(
    arm: Arm, reference: str = "sb3-td3", updates: int = 100, threshold: float = 1e-5, cases: tuple[Case, ...] = ()
) -> list[Comparison]:
    """Every case of ``reference`` (or ``cases``) for ``arm``; UsageError if it lacks the adapter."""
    ref = REFERENCES[reference]
    missing = [m for m in ADAPTER if arm.agent_cls is None or not hasattr(arm.agent_cls, m)]
    if missing:
        raise UsageError(
            f"agent '{arm.name}' does not implement the parity adapter: no {', '.join(missing)} "
            "(docs/agents.md, 'The parity kit')"
        )
    return [compare(arm, ref, case, updates, threshold) for case in cases or ref.cases]


def compare(arm: Arm, ref: Reference, case: Case, updates: int, threshold: float) -> Comparison:
    """One case: both sides from SB3's weights, ``updates`` updates on identical batches, networks compared."""
    result = Comparison(case.name, threshold)
    settings = {**SETTINGS, **case.settings, **ref.fixed}
    env = BoxEnv(OBS_DIM, [-1.0] * ACT_DIM, [1.0] * ACT_DIM)
    try:
        config = _agent_config(arm, settings, ref)
    except UsageError as exc:
        result.error = str(exc)
        return result
    accepts_generator = "generator" in inspect.signature(arm.agent_cls.parity_update).parameters  # type: ignore[union-attr]
    if case.noise and not accepts_generator:
        result.skipped = "parity_update takes no generator, so the target noise cannot be shared"
        return result
    sb3, initial, batches = reference_run(ref, settings, env, updates)
    initial_actor = initial["actor"]
    try:
        agent: Any = arm.build(env, config, 1, "cpu")  # another seed: the weights are copied below
        agent.parity_load(initial)
    except Exception as exc:
        result.error = f"taking SB3's weights: {type(exc).__name__}: {exc}"
        return result
    generator = torch.Generator().manual_seed(NOISE_SEED) if case.noise else None
    update: Callable[[ParityBatch], None] = (
        (lambda b: agent.parity_update(b, generator=generator)) if accepts_generator else agent.parity_update
    )
    try:
        for batch in batches:
            update(batch)
        mine = agent.parity_weights()
    except Exception as exc:
        result.error = f"updating: {type(exc).__name__}: {exc}"
        return result
    theirs = sb3_weights(sb3, ref)
    for net in ref.networks:
        if net not in mine:
            result.error = f"parity_weights() has no network '{net}' (it has {', '.join(mine) or 'none'})"
            return result
        a, b = theirs[net], [torch.as_tensor(np.asarray(w)) for w in mine[net]]
        shapes_a, shapes_b = [tuple(x.shape) for x in a], [tuple(x.shape) for x in b]
        if shapes_a != shapes_b:
            result.error = f"network '{net}': parameter shapes {shapes_b}, SB3's are {shapes_a}"
            return result
        result.diffs[net] = max(float((x - y.to(x.dtype)).abs().max()) for x, y in zip(a, b, strict=True))
    result.moved = max(float((x - y).abs().max()) for x, y in zip(theirs["actor"], initial_actor, strict=True))
    result.updates = (int(sb3._n_updates), arm.capabilities.updates(agent))
    return result


def reference_run(
    ref: Reference, settings: dict[str, Any], env: Any, updates: int
) -> tuple[Any, dict[str, list[torch.Tensor]], list[ParityBatch]]:
    """SB3's side of a comparison: its model (target critics lifted), the weights it starts from, and
    the ``updates`` minibatches it then trains on (its target noise from torch's global generator
    seeded NOISE_SEED). Returns (the trained model, the initial weights, the minibatches)."""
    sb3 = _reference_model(ref, settings, env)
    initial = sb3_weights(sb3, ref)
    rng = np.random.default_rng(0)
    batches = [_batch(rng, settings["batch_size"]) for _ in range(updates)]
    feed = iter(
        ReplayBufferSamples(b.observations, b.actions, b.next_observations, b.dones, b.rewards) for b in batches
    )
    sb3.replay_buffer.sample = lambda *args, **kwargs: next(feed)
    torch.manual_seed(NOISE_SEED)  # SB3 draws the target noise from torch's global generator
    sb3.train(gradient_steps=updates, batch_size=settings["batch_size"])
    return sb3, initial, batches


def _agent_config(arm: Arm, settings: dict[str, Any], ref: Reference) -> Any:
    """The agent's config with ``settings`` where its Config has the keys (or through ``parity_config``)."""
    make = getattr(arm.agent_cls, "parity_config", None)
    if make is not None:
        return make(dict(settings))
    names = set(fields_of(arm.config_cls))
    lacking = [k for k in ref.required if k not in names]
    if lacking:
        raise UsageError(
            f"its Config has no {', '.join(lacking)} (the kit sets SB3's names; an agent with other names "
            "maps them in a classmethod parity_config(settings))"
        )
    values = {k: v for k, v in settings.items() if k in names}
    return build_config(arm.config_cls, {**arm.preset, **values}, f"parity settings of {arm.name}")


def _reference_model(ref: Reference, settings: dict[str, Any], env: Any) -> Any:
    own = {k: settings[k] for k in ("learning_rate", "buffer_size", "learning_starts", "batch_size", "tau", "gamma")}
    if ref.algo is stable_baselines3.TD3:
        own |= {k: settings[k] for k in ("policy_delay", "target_policy_noise", "target_noise_clip")}
    policy_kwargs = {"net_arch": list(settings["net_arch"]), "n_critics": ref.fixed["n_critics"]}
    model = ref.algo("MlpPolicy", env, policy_kwargs=policy_kwargs, seed=0, **own)
    model.set_logger(configure(None, []))
    with torch.no_grad():  # target critics answering about 10 and 12, not about 0
        for i, q in enumerate(model.critic_target.q_networks):
            q[-1].bias += 10.0 + 2.0 * i
    return model


def sb3_weights(model: Any, ref: Reference) -> dict[str, list[torch.Tensor]]:
    """The reference model's networks, as ``parity_weights()`` hands an agent's back."""
    nets = {"actor": model.actor.mu, "actor_target": model.actor_target.mu}
    for i in range(ref.fixed["n_critics"]):
        nets |= {f"qf{i}": model.critic.q_networks[i], f"qf{i}_target": model.critic_target.q_networks[i]}
    return {name: [p.detach().clone() for p in net.parameters()] for name, net in nets.items()}


def _batch(rng: np.random.Generator, size: int, obs_dim: int = OBS_DIM, act_dim: int = ACT_DIM) -> ParityBatch:
    def t(x: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float32))

    return ParityBatch(
        observations=t(rng.normal(size=(size, obs_dim))),
        actions=t(rng.uniform(-1, 1, size=(size, act_dim))),
        rewards=t(rng.normal(size=(size, 1))),
        next_observations=t(rng.normal(size=(size, obs_dim))),
        dones=t(rng.random((size, 1)) < TERMINAL_FRACTION),
    )
