"""Probe environments: tiny envs whose value or best action is known in closed form, each isolating
one part of a continuous-action agent's data path (after Andy Jones, "Debugging RL, without the
agonizing pain", 2021, with probes for time limits, action scaling and credit added).

Each class states its answer in its docstring and computes it (``value``, ``best_action``), so the
probe battery (``harness.verify.probes``) and the docs read one definition. Importing this module
registers every probe as an ordinary env id (``PROBE_IDS``), so ``compare`` and ``tune`` run on them.

Observations are float32 Boxes; actions are in [-1, 1] except ActionScaleEnv's, so every other
probe is blind to how an agent rescales its actions. ActionScaleEnv does not clip: its reward is
computed from the action as given, so an action sent in the wrong units is paid for in those units.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

Obs = np.ndarray


class ProbeEnv(gym.Env[np.ndarray, np.ndarray]):
    """The common part: a 1-D observation and action space unless a subclass says otherwise, and an
    episode step counter ``t``. Subclasses give ``first()`` (the first observation, drawn from
    ``np_random``) and ``transition(action) -> (obs, reward, terminated)``."""

    action_space: gym.spaces.Box
    #: (low, high) of each action dimension, and the observation's size.
    ACTION_BOUNDS: tuple[tuple[float, float], ...] = ((-1.0, 1.0),)
    OBS_DIM = 1

    def __init__(self) -> None:
        # Spaces per instance: a space's sample() draws from its own RNG, seeded per env.
        low, high = (np.array(b, np.float32) for b in zip(*self.ACTION_BOUNDS, strict=True))
        self.action_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(self.OBS_DIM,), dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Obs, dict]:
        super().reset(seed=seed)
        self.t = 0
        self.obs = self.first()
        return self.obs.copy(), {}

    def step(self, action: np.ndarray) -> tuple[Obs, float, bool, bool, dict]:
        obs, reward, terminated = self.transition(np.asarray(action, dtype=np.float64).reshape(self.action_space.shape))
        self.t += 1
        self.obs = obs
        return obs.copy(), float(reward), terminated, False, {}

    def first(self) -> Obs:
        raise NotImplementedError

    def transition(self, action: np.ndarray) -> tuple[Obs, float, bool]:
        raise NotImplementedError


def _obs(*values: float) -> Obs:
    return np.array(values, dtype=np.float32)


def _phases(period: int) -> tuple[float, ...]:
    """``period`` phases spread evenly over [-1, 1]."""
    return tuple(-1.0 + 2.0 * k / (period - 1) for k in range(period))


class ConstantEnv(ProbeEnv):
    """One step, reward +1, terminated; the observation is always 0 and the action does not matter.

    Q(0, a) = 1 for every a and every gamma: a terminal transition's target is its reward alone.
    With gamma = 0 nothing is bootstrapped, so it isolates the value loss and the optimizer; with
    gamma > 0 a target that bootstraps through the termination gives 1 / (1 - gamma) instead."""

    OBS = _obs(0.0)

    def first(self) -> Obs:
        return self.OBS.copy()

    def transition(self, action: np.ndarray) -> tuple[Obs, float, bool]:
        return self.OBS.copy(), 1.0, True

    def value(self, obs: Obs, gamma: float) -> float:
        return 1.0


class ObsValueEnv(ProbeEnv):
    """One step, terminated; the observation is -1 or +1 at random and the reward equals it.

    Q(s, a) = s for every a: a critic that cannot tell the two observations apart (its observation
    input not trained, or not used) learns 0 for both."""

    OBSERVATIONS = (_obs(-1.0), _obs(1.0))

    def first(self) -> Obs:
        return _obs(self.np_random.choice([-1.0, 1.0]))

    def transition(self, action: np.ndarray) -> tuple[Obs, float, bool]:
        return self.obs.copy(), float(self.obs[0]), True

    def value(self, obs: Obs, gamma: float) -> float:
        return float(obs[0])


class DiscountEnv(ProbeEnv):
    """Two steps: observation +1, reward 0; then observation -1, reward REWARD = 10, terminated. The
    action does not matter; the terminal observation is the first one again, so a target that
    bootstraps through the termination reads a value the critic has learned.

    Q(+1, a) = 10 gamma and Q(-1, a) = 10: the first step's value is the discounted reward at the end.
    (The reward is 10, not 1, so that a soft-value agent's entropy bonus, of the order of 0.5 per
    step at most, stays small beside it.)"""

    FIRST, SECOND = _obs(1.0), _obs(-1.0)
    OBSERVATIONS = (FIRST, SECOND)
    REWARD = 10.0

    def first(self) -> Obs:
        return self.FIRST.copy()

    def transition(self, action: np.ndarray) -> tuple[Obs, float, bool]:
        if self.t == 0:
            return self.SECOND.copy(), 0.0, False
        return self.FIRST.copy(), self.REWARD, True

    def value(self, obs: Obs, gamma: float) -> float:
        return self.REWARD * gamma if obs[0] > 0 else self.REWARD


class TimeLimitEnv(ProbeEnv):
    """Reward REWARD = 10 every step, never terminated; a time limit of ``PERIOD`` = 4 steps truncates
    the episode. The observation is the phase t mod PERIOD, spread over [-1, 1], so the step after
    the limit looks like the first one and a truncated episode's last transition bootstraps from a
    learned value.

    Q(s, a) = 10 / (1 - gamma) at every phase, the last included. A truncation stored as terminal
    makes the last phase's value 10 (its target is the reward alone), the one before it
    10 (1 + gamma), and so on."""

    OBSERVATIONS = tuple(_obs(x) for x in _phases(4))
    PERIOD = len(OBSERVATIONS)
    REWARD = 10.0

    def first(self) -> Obs:
        return self.OBSERVATIONS[0].copy()

    def transition(self, action: np.ndarray) -> tuple[Obs, float, bool]:
        return self.OBSERVATIONS[(self.t + 1) % self.PERIOD].copy(), self.REWARD, False

    def value(self, obs: Obs, gamma: float) -> float:
        return self.REWARD / (1.0 - gamma)


class ActionScaleEnv(ProbeEnv):
    """One step, terminated; two actions with asymmetric, non-unit bounds [1, 5] and [-6, -2]. The
    reward, 1 - 4 |u - u*|^2 with u the action mapped linearly onto [-1, 1] per dimension (no
    clipping), peaks at the action BEST = (4, -5) (u* = (0.5, -0.5)). The observation, uniform in
    [-1, 1], is noise the reward does not depend on (a constant one would leave nothing for a batch
    normalization to normalize).

    The best deterministic action is (4, -5) at every observation. An agent that sends its [-1, 1]
    action to the env unscaled finds the env's reward best at the edges and ends at (5, -6); one that
    scales by the upper bound, a * high, cannot reach below -2 on the second dimension."""

    ACTION_BOUNDS = ((1.0, 5.0), (-6.0, -2.0))
    BEST = np.array([4.0, -5.0])

    def first(self) -> Obs:
        return _obs(self.np_random.uniform(-1.0, 1.0))

    def transition(self, action: np.ndarray) -> tuple[Obs, float, bool]:
        low, high = self.action_space.low, self.action_space.high
        u, best = 2.0 * (action - low) / (high - low) - 1.0, 2.0 * (self.BEST - low) / (high - low) - 1.0
        return self.first(), 1.0 - 4.0 * float(np.sum((u - best) ** 2)), True

    def best_action(self, obs: Obs, gamma: float) -> np.ndarray:
        return self.BEST.copy()


class CreditEnv(ProbeEnv):
    """Episodes of ``LENGTH`` steps, the last terminated. Every step brings a fresh observation x,
    uniform in [-1, 1] and independent of everything before; the reward 1 - 4 (a - 0.8 x)^2 depends on
    that step's observation and action only.

    The best action is a = 0.8 x. Whatever a critic bootstraps, the next observation does not depend
    on the action, so the best action does not depend on gamma or on how episode ends are stored. A
    reward or an observation stored with the wrong transition (one step early or late) carries no
    information about the action it is paired with, and the policy learns a constant instead."""

    LENGTH = 4
    SLOPE = 0.8

    def first(self) -> Obs:
        return _obs(self.np_random.uniform(-1.0, 1.0))

    def transition(self, action: np.ndarray) -> tuple[Obs, float, bool]:
        reward = 1.0 - 4.0 * float((action[0] - self.SLOPE * self.obs[0]) ** 2)
        return self.first(), reward, self.t + 1 >= self.LENGTH

    def best_action(self, obs: Obs, gamma: float) -> np.ndarray:
        return np.array([self.SLOPE * float(obs[0])])


class TimeLimitActionEnv(ProbeEnv):
    """The time limit seen through behaviour (for agents without ``q_value``). Never terminated; a
    time limit of ``PERIOD`` = 3 steps truncates the episode. An action a in [-1, 1] invests
    i = (a + 1) / 2 in [0, 1]: it brings BENEFIT i - COST i^2 = 4 i - 8 i^2 now and pays PAYBACK i = 16 i
    back on the next step. The observation is (the phase t mod PERIOD spread over [-1, 1], 2 i - 1 of
    the step before); a new episode starts at phase 0 with a random earlier investment.

    Q(s, a) = const + (BENEFIT + gamma PAYBACK) i - COST i^2, so the best investment is
    i* = min(1, (BENEFIT + gamma PAYBACK) / (2 COST)) at every phase, the last before the limit
    included: the payback falls after the limit but is still part of the return (gamma 0.5: i* = 0.75,
    a* = 0.5). An agent that stores the truncation as terminal sees no payback for the last phase's
    investment and learns BENEFIT / (2 COST) = 0.25 there (a = -0.5). Both lie inside the bounds, so
    neither answer is a saturated actor's."""

    OBS_DIM = 2
    PERIOD = 3
    PHASES = _phases(PERIOD)
    BENEFIT, COST, PAYBACK = 4.0, 8.0, 16.0

    def first(self) -> Obs:
        return _obs(self.PHASES[0], self.np_random.uniform(-1.0, 1.0))

    def transition(self, action: np.ndarray) -> tuple[Obs, float, bool]:
        i = 0.5 * (float(np.clip(action[0], -1.0, 1.0)) + 1.0)
        reward = self.PAYBACK * 0.5 * (float(self.obs[1]) + 1.0) + self.BENEFIT * i - self.COST * i**2
        return _obs(self.PHASES[(self.t + 1) % self.PERIOD], 2.0 * i - 1.0), reward, False

    def best_action(self, obs: Obs, gamma: float) -> np.ndarray:
        """a* = 2 i* - 1 (the same at every observation)."""
        return np.array([2.0 * min(1.0, (self.BENEFIT + gamma * self.PAYBACK) / (2.0 * self.COST)) - 1.0])

    def cut_action(self) -> float:
        """The best action at the last phase for an agent that ends the return at the time limit."""
        return 2.0 * self.BENEFIT / (2.0 * self.COST) - 1.0


#: env id -> (class, time limit or None): every probe as an ordinary env id.
PROBES: dict[str, tuple[type[ProbeEnv], int | None]] = {
    "ProbeConstant-v0": (ConstantEnv, None),
    "ProbeObsValue-v0": (ObsValueEnv, None),
    "ProbeDiscount-v0": (DiscountEnv, None),
    "ProbeTimeLimit-v0": (TimeLimitEnv, TimeLimitEnv.PERIOD),
    "ProbeActionScale-v0": (ActionScaleEnv, None),
    "ProbeCredit-v0": (CreditEnv, None),
    "ProbeTimeLimitAction-v0": (TimeLimitActionEnv, TimeLimitActionEnv.PERIOD),
}
PROBE_IDS = tuple(PROBES)


def register() -> None:
    """Register every probe with gymnasium (once; importing this module does it)."""
    for env_id, (cls, limit) in PROBES.items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=f"{__name__}:{cls.__name__}", max_episode_steps=limit)


register()
