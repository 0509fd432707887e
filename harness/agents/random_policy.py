"""The uniform-random policy as an arm: the floor line of every comparison.

It goes through the same runner and evaluation protocol as the learning arms (its training
"episodes" are logged by the monitor too); it never learns. Its actions are uniform random in the
action bounds; asked for a deterministic action, it draws it from a generator seeded by its seed and
the observation's bytes: a fixed random policy, so it keeps the contract (the same observation gets
the same action, a saved and loaded one acts alike) and is still uniform random over episodes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from harness.agents.base import StepCallback
from harness.config.schema import hp


@dataclass(frozen=True)
class RandomConfig:
    """No hyperparameters of its own; ``learning_starts`` exists only so budgets scale it like any arm's."""

    learning_starts: int = hp(0, "Unused: the random policy never learns", low=0)


class RandomAgent:
    num_timesteps: int
    num_updates: int
    #: Its deterministic policy is fixed by its seed: every evaluation would return the same, so it is run once.
    learns = False

    def __init__(self, env: gym.Env, seed: int):
        self.env, self.seed = env, seed
        self.train_rng = np.random.default_rng(seed)  # actions while "training"
        self.eval_rng = np.random.default_rng(seed + 1)  # actions while evaluated, kept apart
        space = env.action_space
        assert isinstance(space, gym.spaces.Box)  # the env factory admits Box action spaces only
        self.low, self.high = space.low, space.high
        self.num_timesteps, self.num_updates = 0, 0
        self._obs: np.ndarray | None = None

    def _sample(self, rng: np.random.Generator) -> np.ndarray:
        action: np.ndarray = rng.uniform(self.low, self.high).astype(self.env.action_space.dtype)
        return action

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        while self.num_timesteps < total_steps:
            if self._obs is None:
                self._obs, _ = self.env.reset()
            obs, _, terminated, truncated, _ = self.env.step(self._sample(self.train_rng))
            self._obs = None if terminated or truncated else obs
            self.num_timesteps += 1
            if not callback(self.num_timesteps):
                break

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        if not deterministic:
            return self._sample(self.eval_rng)
        key = np.frombuffer(hashlib.blake2b(np.ascontiguousarray(obs).tobytes(), digest_size=8).digest(), np.uint64)
        return self._sample(np.random.default_rng([self.seed, int(key[0])]))

    def save(self, path: Path) -> Path:
        path = Path(path).with_suffix(".json")
        path.write_text(
            json.dumps(
                {"policy": "uniform random", "low": self.low.tolist(), "high": self.high.tolist(), "seed": self.seed}
            )
        )
        return path

    def set_precision(self, precision: str) -> None:
        """Any precision: it makes no gradient updates."""

    @property
    def at_episode_boundary(self) -> bool:
        return self._obs is None

    def diagnose(self) -> str | None:
        return None

    def state_dict(self) -> dict[str, Any]:
        env_rng = getattr(self.env.unwrapped, "np_random", None)
        return {
            "train_rng": self.train_rng.bit_generator.state,
            "eval_rng": self.eval_rng.bit_generator.state,
            "num_timesteps": self.num_timesteps,
            "env_rng": env_rng.bit_generator.state if env_rng is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.train_rng.bit_generator.state = state["train_rng"]
        self.eval_rng.bit_generator.state = state["eval_rng"]
        self.num_timesteps = state["num_timesteps"]
        if state["env_rng"] is not None:
            self.env.unwrapped.np_random.bit_generator.state = state["env_rng"]
        self._obs = None


def build_random(env: gym.Env, config: RandomConfig, seed: int, device: str) -> RandomAgent:
    return RandomAgent(env, seed)


def load_random(path: Path, env: gym.Env, device: str) -> RandomAgent:
    return RandomAgent(env, json.loads(Path(path).read_text())["seed"])
