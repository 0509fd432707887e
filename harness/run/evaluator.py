"""The one evaluation protocol, owned by the harness and identical for every arm.

K episodes with deterministic actions on a separate evaluation env; episode i resets with
seed ``eval_seed + i``, so every arm and every training seed is scored on the same episodes.
``rollout`` is the one episode loop: evaluation, ``enjoy``, ``record`` and the random-policy
reference scores all act through it.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from harness.run.envs import make_env
from harness.run.spec import EVAL_SEED

#: observation -> action
Policy = Callable[[np.ndarray], np.ndarray]


def rollout(
    env: gym.Env, policy: Policy, seed: int, on_step: Callable[[gym.Env, int], None] | None = None
) -> tuple[float, int]:
    """One episode of ``policy`` from ``env.reset(seed=seed)`` until termination or truncation;
    returns (return, length). ``on_step(env, t)`` is called after step ``t`` (0-based), e.g. to render."""
    obs, _ = env.reset(seed=seed)
    total, length, done = 0.0, 0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(policy(obs))
        total += float(reward)
        if on_step is not None:
            on_step(env, length)
        length += 1
        done = terminated or truncated
    return total, length


class Evaluator:
    def __init__(self, env_id: str, n_episodes: int, eval_seed: int):
        self.env = make_env(env_id)
        self.seeds = [eval_seed + i for i in range(n_episodes)]

    def evaluate(self, policy: Policy) -> tuple[np.ndarray, np.ndarray]:
        """Returns (episode returns (K,), episode lengths (K,)) of ``policy`` on the fixed episodes."""
        returns, lengths = np.zeros(len(self.seeds)), np.zeros(len(self.seeds), dtype=np.int64)
        for i, seed in enumerate(self.seeds):
            returns[i], lengths[i] = rollout(self.env, policy, seed)
        return returns, lengths

    def close(self) -> None:
        self.env.close()


def measure_random(env_id: str, episodes: int = 100, seed: int = 0) -> float:
    """Mean return of uniform random actions over the harness's evaluation episodes."""
    evaluator = Evaluator(env_id, episodes, EVAL_SEED)
    space = evaluator.env.action_space
    space.seed(seed)
    returns, _ = evaluator.evaluate(lambda obs: space.sample())
    evaluator.close()
    return float(np.mean(returns))
