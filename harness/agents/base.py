"""The agent contract: what the runner needs from every arm, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

#: Called after every environment step with the agent's total env steps so far;
#: returning False stops training.
StepCallback = Callable[[int], bool]


class Agent(Protocol):
    """One arm's learner, as the harness drives it."""

    @property
    def num_timesteps(self) -> int:
        """Environment steps taken so far."""

    @property
    def num_updates(self) -> int:
        """Gradient updates (critic steps) taken so far."""

    def learn(self, total_steps: int, callback: StepCallback) -> None:
        """Train until ``num_timesteps == total_steps`` (or the callback returns False)."""

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Action for one unbatched observation."""

    def save(self, path: Path) -> Path:
        """Write the policy (enough to act) under ``path`` (suffix chosen by the arm); return the file."""
