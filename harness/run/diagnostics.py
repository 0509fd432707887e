"""What a run shows beyond its score: TensorBoard tags (``tblog``) and the critic's value bias (``values``).

The runner makes one ``RunDiagnostics`` per run and calls it at each evaluation and env step; it
finds an agent's optional capabilities (``q_value``, ``set_logger``) with getattr, never by arm.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from harness.run.evaluator import Evaluator
from harness.run.spec import RunSpec
from harness.run.tblog import LOG_EVERY, TensorBoardLogger
from harness.run.values import Trajectory, ValueBias, horizon_extension, value_bias

#: Training episodes the rollout/ep_* tags average over (SB3's ep_info_buffer).
EPISODE_WINDOW = 100


class RunDiagnostics:
    """The TensorBoard logger of a run (None with ``spec.tensorboard`` off) and its value probe (None
    for an arm without ``q_value``, a config without ``gamma``, or ``spec.value_episodes`` 0), which
    records the first ``spec.value_episodes`` episodes of each evaluation.

    ``env`` is the training env (SB3's Monitor); ``resumed_at`` the env step a resumed run continues
    from (TensorBoard drops an earlier session's records from there on)."""

    def __init__(self, spec: RunSpec, run_dir: Path, agent: Any, env: gym.Env, resumed_at: int | None = None):
        gamma = getattr(spec.config, "gamma", None)
        q_value = getattr(agent, "q_value", None)
        measured = q_value is not None and spec.value_episodes > 0
        self.gamma: float | None = float(gamma) if measured and gamma is not None else None
        self.value_episodes = spec.value_episodes
        self.agent = agent
        #: Steps the evaluation episodes run past the time limit (harness.run.values); 0 without a probe.
        self.extend_by = (horizon_extension(self.gamma) or 0) if self.gamma is not None else 0
        self.critic_estimate: str | None = (
            str(getattr(agent, "critic_estimate", "Q(s, a)")) if self.gamma is not None else None
        )
        self.logger = TensorBoardLogger(run_dir, LOG_EVERY, purge_step=resumed_at) if spec.tensorboard else None
        if self.logger is not None and callable(getattr(agent, "set_logger", None)):
            agent.set_logger(self.logger)
        self.env = env
        self._episodes = len(getattr(env, "episode_returns", ()))
        self._last_log_step = resumed_at or 0
        self._mark: tuple[float, float, int] | None = None  # (clock, eval seconds, step) at the last fps record

    @property
    def has_critic(self) -> bool:
        return self.gamma is not None

    def evaluate(self, evaluator: Evaluator) -> tuple[np.ndarray, np.ndarray, ValueBias | None]:
        """The evaluation's (returns (K,), lengths (K,)) and, for an arm with a critic, its value bias."""
        policy = lambda obs: self.agent.predict(obs, deterministic=True)  # noqa: E731
        if self.gamma is None:
            return (*evaluator.evaluate(policy), None)
        trajectories: list[Trajectory] = []
        returns, lengths = evaluator.evaluate(policy, trajectories, recorded=self.value_episodes)
        bias = value_bias(trajectories, self.agent.q_value, self.gamma, evaluator.horizon)
        return returns, lengths, bias

    def evaluated(self, step: int, returns: np.ndarray, lengths: np.ndarray, bias: ValueBias | None) -> None:
        """Record an evaluation's scalars."""
        if self.logger is None:
            return
        self.logger.record("eval/mean_reward", float(np.mean(returns)), step)
        self.logger.record("eval/mean_ep_length", float(np.mean(lengths)), step)
        if bias is not None and bias.states > 0:
            self.logger.record("eval/q_estimate", bias.estimate, step)
            self.logger.record("eval/q_true", bias.true, step)
            self.logger.record("eval/q_bias", bias.bias, step)

    def on_step(self, step: int, eval_s: float) -> None:
        """After every env step: training-episode and steps/s scalars, at most once every LOG_EVERY steps.

        ``eval_s`` is the run's evaluation time so far, kept out of the steps/s."""
        if self.logger is None or step - self._last_log_step < LOG_EVERY:
            return
        self._last_log_step = step
        returns = getattr(self.env, "episode_returns", None)
        if returns is not None and len(returns) > self._episodes:
            self._episodes = len(returns)
            lengths = getattr(self.env, "episode_lengths", [])
            self.logger.record("rollout/ep_rew_mean", float(np.mean(returns[-EPISODE_WINDOW:])), step)
            if len(lengths):
                self.logger.record("rollout/ep_len_mean", float(np.mean(lengths[-EPISODE_WINDOW:])), step)
        now = time.perf_counter()
        if self._mark is not None:
            t0, e0, s0 = self._mark
            train_s = (now - t0) - (eval_s - e0)
            if train_s > 0 and step > s0:
                self.logger.record("time/fps", (step - s0) / train_s, step)
        self._mark = (now, eval_s, step)

    def close(self) -> None:
        if self.logger is not None:
            self.logger.close()
