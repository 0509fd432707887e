"""The CleanRL-style example (examples/cleanrl_td3.py) with one bug each, of the kinds users make in
an agent's data path: collection, storage, scaling, the target. The probes must find each one
(tests/test_probes.py). Each changes as little of the example as the bug needs: where the bug is in
what the agent stores, an env wrapper inside the agent hands its loop what the buggy code would
have stored."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np

from examples.cleanrl_td3 import TD3 as CleanTD3


class _Stores(gym.Wrapper):
    """What the agent's loop sees of each step, rewritten by ``rewrite``."""

    def __init__(self, env, rewrite):
        super().__init__(env)
        self.rewrite = rewrite

    def step(self, action):
        return self.rewrite(*self.env.step(action))


class TruncationAsTerminal(CleanTD3):
    """Stores a time-limit truncation as terminal (``done = terminated or truncated``): the last
    transition before a time limit is not bootstrapped."""

    def __init__(self, env, config, seed=0, device="cpu"):
        super().__init__(_Stores(env, lambda o, r, te, tr, i: (o, r, te or tr, tr, i)), config, seed, device)


class TruncationAsTerminalNoQ(TruncationAsTerminal):
    """The same bug in an agent that offers no ``q_value``: found by behaviour alone."""

    q_value = None
    critic_estimate = None


class TerminalIgnored(CleanTD3):
    """Never stores a termination (``done`` always 0): a terminal transition bootstraps from the
    observation after it, as if the episode went on."""

    def __init__(self, env, config, seed=0, device="cpu"):
        super().__init__(_Stores(env, lambda o, r, te, tr, i: (o, r, False, te or tr, i)), config, seed, device)


class Unscaled(CleanTD3):
    """Sends its tanh action in [-1, 1] to the env during training without rescaling it to the env's
    bounds (``predict`` rescales, so its actions stay in bounds and the contract checks pass)."""

    def learn(self, total_steps, callback=None):
        self._scale = lambda a: a  # shadows the method while training
        try:
            return super().learn(total_steps, callback)
        finally:
            del self._scale


class ScaledByHigh(CleanTD3):
    """Rescales its [-1, 1] action as ``a * high``, clipped to the bounds: right for symmetric bounds
    only (with low < 0 < high), wrong elsewhere."""

    def _scale(self, a):
        return np.clip(a * self.high, self.low, self.high)


class _PreviousReward(gym.Wrapper):
    """Hands each step the reward of the step before, across episodes as a flat buffer would (0 first)."""

    previous = 0.0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        reward, self.previous = self.previous, reward
        return obs, reward, terminated, truncated, info


class RewardOffByOne(CleanTD3):
    """Stores each transition with the reward of the step before (an index off by one in the buffer).
    The reward it holds back is part of its state, so it still resumes exactly."""

    def __init__(self, env, config, seed=0, device="cpu"):
        self.shift = _PreviousReward(env)
        super().__init__(self.shift, config, seed, device)

    def state_dict(self):
        return {**super().state_dict(), "previous_reward": self.shift.previous}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.shift.previous = state["previous_reward"]


class FixedDiscount(CleanTD3):
    """Discounts with a hard-coded 0.99 in its target, whatever its Config's gamma says."""

    def __init__(self, env, config, seed=0, device="cpu"):
        super().__init__(env, config, seed, device)
        self.c = dataclasses.replace(config, gamma=0.99)


class NoisyPredict(CleanTD3):
    """Adds exploration noise to every ``predict``, deterministic or not."""

    def predict(self, obs, deterministic=True):
        return super().predict(obs, deterministic=False)
