"""Value-estimation bias (Fujimoto et al. 2018, Figure 1): what the critic believes beside what the
policy earns.

At every evaluation, for an arm whose agent offers ``q_value(observations, actions)``, the harness
takes the states s_t and actions a_t of its evaluation episodes and compares the critic's
Q(s_t, a_t) with the discounted return observed from s_t on, G_t = sum_k gamma^k r_{t+k}.

**Time limits.** The critics of every arm bootstrap through a time-limit truncation (the limit is
not part of the state), so they estimate an infinite-horizon value; the return observed up to the
limit falls short of it by gamma^(T-t) V(s_T), which near the limit is most of it. The harness
therefore *extends* the evaluation episodes of such arms past the env's time limit by
``horizon_extension(gamma)`` steps (the policy keeps acting; only the limit moves), so the return
of every state of the original episode is cut at weight gamma^k <= ``TOLERANCE``, and it *keeps
only states whose cut is that small*: an episode still truncated before the extension ran out (an
env's own internal limit) contributes only its states at least that far from its end; a
terminated episode contributes all its states (nothing follows termination). The evaluation's
scores count only the steps up to the env's time limit, so they are the ordinary protocol's.

Shapes: ``observations`` (N, obs_dim) and ``actions`` (N, act_dim) in the env's own units;
``q_value`` returns (N,).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

#: The largest weight gamma^k the cut-off tail of an observed return may carry.
TOLERANCE = 0.01

#: (observations (N, obs_dim), actions (N, act_dim)) -> critic estimates (N,)
QValue = Callable[[np.ndarray, np.ndarray], np.ndarray]


def horizon_extension(gamma: float, tolerance: float = TOLERANCE) -> int | None:
    """The fewest steps k with gamma^k <= tolerance (0 for gamma = 0); None when no k exists (gamma = 1).

    Extending an episode by k steps leaves every one of its states at least k + 1 steps from the new end."""
    if gamma <= 0.0:
        return 0
    if gamma >= 1.0:
        return None
    return max(0, math.ceil(math.log(tolerance) / math.log(gamma) - 1e-9))


def returns_to_go(rewards: Sequence[float] | np.ndarray, gamma: float) -> np.ndarray:
    """G_t = r_t + gamma G_{t+1} with G_T = 0: the discounted return observed from each step, (T,)."""
    rewards = np.asarray(rewards, dtype=np.float64)
    out = np.zeros_like(rewards)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def usable_states(length: int, terminated: bool, gamma: float, tolerance: float = TOLERANCE) -> np.ndarray:
    """Mask (length,) of the steps whose observed return-to-go is the true one up to a tail of weight
    <= tolerance: every step of a terminated episode; otherwise steps t with gamma^(length - t) <= tolerance."""
    if terminated:
        return np.ones(length, dtype=bool)
    remaining = length - np.arange(length)
    with np.errstate(under="ignore"):
        return np.power(float(gamma), remaining) <= tolerance


@dataclass
class Trajectory:
    """One episode as acted: observation before each step, the action taken, the reward received."""

    observations: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    terminated: bool = False

    def __len__(self) -> int:
        return len(self.rewards)

    def score(self, horizon: int | None) -> tuple[float, int]:
        """(return, length) of the episode's first ``horizon`` steps (all when None), summed in step
        order as ``rollout`` sums them, so the score is bit-identical to an episode cut there."""
        rewards = self.rewards if horizon is None else self.rewards[:horizon]
        total = 0.0
        for r in rewards:
            total += r
        return total, len(rewards)


@dataclass(frozen=True)
class ValueBias:
    """Mean critic estimate and mean observed discounted return over ``states`` evaluation states."""

    estimate: float
    true: float
    states: int

    @property
    def bias(self) -> float:
        """estimate - true: positive when the critic overestimates."""
        return self.estimate - self.true

    def row(self) -> list[float | int]:
        """The values of ``rundir.VALUE_COLUMNS``: estimate, true, bias, states."""
        return [self.estimate, self.true, self.bias, self.states]


def value_bias(
    trajectories: Sequence[Trajectory],
    q_value: QValue,
    gamma: float,
    horizon: int | None = None,
    tolerance: float = TOLERANCE,
) -> ValueBias:
    """The critic's mean Q(s_t, a_t) and the mean observed return-to-go over the usable states of the
    first ``horizon`` steps of each trajectory (the evaluation episode; later steps only lengthen the
    observed returns). NaN means with ``states == 0`` when no state is usable."""
    observations, actions, targets = [], [], []
    for traj in trajectories:
        n = len(traj) if horizon is None else min(horizon, len(traj))
        if n == 0:
            continue
        mask = usable_states(len(traj), traj.terminated, gamma, tolerance)[:n]
        if not mask.any():
            continue
        g = returns_to_go(traj.rewards, gamma)[:n]
        idx = np.flatnonzero(mask)
        observations.append(np.stack([np.asarray(traj.observations[i]).reshape(-1) for i in idx]))
        actions.append(np.stack([np.asarray(traj.actions[i]).reshape(-1) for i in idx]))
        targets.append(g[idx])
    if not targets:
        return ValueBias(float("nan"), float("nan"), 0)
    true = np.concatenate(targets)
    estimate = np.asarray(q_value(np.concatenate(observations), np.concatenate(actions)), dtype=np.float64)
    return ValueBias(float(estimate.reshape(-1).mean()), float(true.mean()), int(true.size))
