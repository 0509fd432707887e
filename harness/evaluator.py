"""The one evaluation protocol, owned by the harness and identical for every arm.

K episodes with deterministic actions on a separate evaluation env; episode i resets with
seed ``eval_seed + i``, so every arm and every training seed is scored on the same episodes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from harness.envs import make_env


class Evaluator:
    def __init__(self, env_id: str, n_episodes: int, eval_seed: int):
        self.env = make_env(env_id)
        self.seeds = [eval_seed + i for i in range(n_episodes)]

    def evaluate(self, policy: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Returns (episode returns (K,), episode lengths (K,)) of ``policy`` on the fixed episodes."""
        returns, lengths = np.zeros(len(self.seeds)), np.zeros(len(self.seeds), dtype=np.int64)
        for i, seed in enumerate(self.seeds):
            obs, _ = self.env.reset(seed=seed)
            done = False
            while not done:
                obs, reward, terminated, truncated, _ = self.env.step(policy(obs))
                returns[i] += float(reward)
                lengths[i] += 1
                done = terminated or truncated
        return returns, lengths

    def close(self) -> None:
        self.env.close()
