"""The agent contract: what the runner needs from every arm, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

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

    def learn(self, total_steps: int, callback: StepCallback) -> object:
        """Train until ``num_timesteps == total_steps`` (or the callback returns False); what it
        returns is ignored (SB3 and our TD3 return the agent).

        An agent that detects divergence itself raises FloatingPointError (custom_td3's
        TrainingDiverged is one): the run is then recorded as diverged, with the message as its cause.
        """

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Action for one unbatched observation."""

    def save(self, path: Path) -> Path:
        """Write the policy (enough to act) under ``path`` (suffix chosen by the arm); return the file."""

    @property
    def at_episode_boundary(self) -> bool:
        """Whether a checkpoint taken now resumes exactly (the runner waits for it when it can)."""

    def diagnose(self) -> str | None:
        """None while losses and parameters are finite; otherwise the cause, for status 'diverged'."""

    def state_dict(self) -> dict[str, Any]:
        """The whole training state, picklable: networks, optimizers, replay buffer, RNGs, counters."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a ``state_dict()``; the next ``learn`` picks up where it stopped."""


# Optional capabilities beyond the Protocol, detected with getattr (an arm without them still runs):
#   q_value(observations (N, obs_dim), actions (N, act_dim), env units) -> (N,) np.ndarray
#       the critic's estimate Q(s, a): the harness compares it with observed returns at every
#       evaluation (harness.run.values); ``critic_estimate``, a string, says what it estimates.
#   set_logger(logger) -> None
#       training scalars go to ``logger.record(tag, value, env_step)`` once every ``logger.every``
#       gradient updates, under the tags of harness.run.tblog.TAGS.
