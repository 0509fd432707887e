"""TensorBoard event files in every run directory, with one tag vocabulary across arms.

``tensorboard --logdir results/<study>`` then shows every arm and seed of a study together
(runs named ``<arm>/<env>_<seed>``). The tags are Stable-Baselines3's own names where SB3 has the
concept, so an SB3 arm's logger needs no renaming and a zoo user reads them at once; the rest are
ours. The x-axis of every tag is the env step.

Who writes what: the runner writes the ``eval/*``, ``rollout/ep_*`` and ``time/fps`` tags for every
arm (from the harness's own evaluation, the training env's Monitor and its clock); an agent that
offers ``set_logger(logger)`` writes its training tags through ``logger.record(tag, value, step)``
once every ``logger.every`` gradient updates (our TD3 from its update, SB3 arms through SB3's
logger, whose ``train/*`` keys pass through unchanged).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

#: The shared vocabulary: tag -> what it is. An arm writes the tags whose concept it has.
TAGS: dict[str, str] = {
    "train/critic_loss": "critic loss of the last update (SB3: mean over the last train() call)",
    "train/actor_loss": "actor loss of the last actor update",
    "train/q_mean": "mean Q(s, a) of the critic over a replay minibatch",
    "train/learning_rate": "current learning rate",
    "train/n_updates": "gradient updates so far",
    "rollout/ep_rew_mean": "mean return of the last 100 training episodes (as SB3 logs it)",
    "rollout/ep_len_mean": "mean length of the last 100 training episodes",
    "rollout/noise_std": "std of the Gaussian exploration noise, in units of the normalized action",
    "eval/mean_reward": "the harness's evaluation: mean return of its fixed deterministic episodes",
    "eval/mean_ep_length": "mean length of the evaluation episodes",
    "eval/q_estimate": "critic's mean Q(s_t, a_t) over the evaluation states",
    "eval/q_true": "mean discounted return observed from those states",
    "eval/q_bias": "q_estimate - q_true (positive: overestimation)",
    "time/fps": "env steps per second of training since the last record (evaluation excluded)",
    "per/beta": "prioritized replay: importance-sampling exponent",
    "per/priority_mean": "prioritized replay: mean priority p_i^alpha over the buffer",
    "per/priority_max": "prioritized replay: largest priority a new transition enters with",
    "train/n_steps": "n of the n-step returns",
}

#: Gradient updates between two records of an agent's training tags.
LOG_EVERY = 250
#: The event files are named events.out.tfevents.*: what a run directory holds besides rl-zoo3's files.
EVENTS_GLOB = "events.out.tfevents.*"


class ScalarLogger(Protocol):
    """What an agent's ``set_logger`` receives."""

    every: int

    def record(self, tag: str, value: float, step: int) -> None:
        """Record ``value`` under ``tag`` at env step ``step``."""


class TensorBoardLogger:
    """One run's event file, in its run directory.

    ``purge_step`` (a resumed run: the checkpoint's step) tells TensorBoard to drop what an earlier
    session wrote from that step on, so a resumed run shows one curve."""

    def __init__(self, run_dir: Path, every: int = LOG_EVERY, purge_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter  # imports tensorboard: only when logging

        self.every = every
        self.writer = SummaryWriter(str(run_dir), purge_step=purge_step, flush_secs=30)

    def record(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, float(value), int(step))

    def close(self) -> None:
        self.writer.close()
