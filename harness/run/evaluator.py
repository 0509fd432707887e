"""The one evaluation protocol, owned by the harness and identical for every arm.

K episodes with deterministic actions on a separate evaluation env; episode i resets with
seed ``eval_seed + i``, so every arm and every training seed is scored on the same episodes.
``rollout`` is the one episode loop: evaluation, ``enjoy``, ``record`` and the random-policy
reference scores all act through it.

For an arm with a critic the evaluation also records its episodes (``harness.run.values``): they
then run past the env's time limit by ``extend_by`` steps so that the discounted return observed
from every state of the episode is (nearly) complete, while its score counts only the steps up to
the limit, as every other arm's does.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from harness.run.envs import make_env
from harness.run.spec import EVAL_SEED
from harness.run.values import Trajectory

#: observation -> action
Policy = Callable[[np.ndarray], np.ndarray]


def rollout(
    env: gym.Env,
    policy: Policy,
    seed: int,
    on_step: Callable[[gym.Env, int], None] | None = None,
    record: Trajectory | None = None,
) -> tuple[float, int]:
    """One episode of ``policy`` from ``env.reset(seed=seed)`` until termination or truncation;
    returns (return, length). ``on_step(env, t)`` is called after step ``t`` (0-based), e.g. to render;
    ``record`` receives every observation, action and reward, and whether the episode terminated."""
    obs, _ = env.reset(seed=seed)
    total, length, done = 0.0, 0, False
    while not done:
        action = policy(obs)
        if record is not None:
            record.observations.append(np.array(obs))  # copies: an env may reuse its arrays
            record.actions.append(np.array(action))
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        if record is not None:
            record.rewards.append(float(reward))
            record.terminated = bool(terminated)
        if on_step is not None:
            on_step(env, length)
        length += 1
        done = terminated or truncated
    return total, length


class Evaluator:
    """The fixed evaluation episodes of a run; ``extend_by`` > 0 builds a second env whose time limit
    is that many steps longer, on which recorded episodes run (see the module's docstring)."""

    def __init__(self, env_id: str, n_episodes: int, eval_seed: int, extend_by: int = 0):
        self.env = make_env(env_id)
        self.seeds = [eval_seed + i for i in range(n_episodes)]
        spec = self.env.spec
        #: The env's time limit (None: none): a recorded episode's score counts this many steps.
        self.horizon: int | None = spec.max_episode_steps if spec is not None else None
        self.long_env: gym.Env | None = None
        if extend_by > 0 and self.horizon is not None:
            self.long_env = make_env(env_id, max_episode_steps=self.horizon + extend_by)

    def evaluate(self, policy: Policy, trajectories: list[Trajectory] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Returns (episode returns (K,), episode lengths (K,)) of ``policy`` on the fixed episodes.

        With ``trajectories`` (a list), each episode is recorded into it, run on the extended env when
        there is one; the returns and lengths are still those of the episodes up to the time limit."""
        returns, lengths = np.zeros(len(self.seeds)), np.zeros(len(self.seeds), dtype=np.int64)
        for i, seed in enumerate(self.seeds):
            if trajectories is None:
                returns[i], lengths[i] = rollout(self.env, policy, seed)
                continue
            traj = Trajectory()
            rollout(self.long_env or self.env, policy, seed, record=traj)
            returns[i], lengths[i] = traj.score(self.horizon if self.long_env is not None else None)
            trajectories.append(traj)
        return returns, lengths

    def close(self) -> None:
        self.env.close()
        if self.long_env is not None:
            self.long_env.close()


def measure_random(env_id: str, episodes: int = 100, seed: int = 0) -> float:
    """Mean return of uniform random actions over the harness's evaluation episodes."""
    evaluator = Evaluator(env_id, episodes, EVAL_SEED)
    space = evaluator.env.action_space
    space.seed(seed)
    returns, _ = evaluator.evaluate(lambda obs: space.sample())
    evaluator.close()
    return float(np.mean(returns))
