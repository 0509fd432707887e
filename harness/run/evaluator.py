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
from typing import Any

import gymnasium as gym
import numpy as np

from harness.errors import AgentError
from harness.run.bounds import stall_limit
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
    max_steps: int | None = None,
) -> tuple[float, int]:
    """One episode of ``policy`` from ``env.reset(seed=seed)`` until termination or truncation;
    returns (return, length). ``on_step(env, t)`` is called after step ``t`` (0-based), e.g. to render;
    ``record`` receives every observation, action and reward, and whether the episode terminated.
    ``max_steps``: AgentError when the episode has not ended after that many steps."""
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
        if max_steps is not None and not done and length >= max_steps:
            raise AgentError(f"the episode had not ended after {max_steps:,} steps (the env has no time limit)")
    return total, length


#: Relative tolerance of the bounds check (of the action range): rescaling [-1, 1] costs an ulp or two.
BOUNDS_RTOL = 1e-5
#: An evaluation that goes this long without an action is stopped as a hanging agent (a slow agent on a busy
#: machine keeps acting and is left alone).
EVALUATION_LIMIT_S = 600.0
#: Episode steps at most on an env without a time limit: an agent that never ends one is stopped.
MAX_EPISODE_STEPS = 100_000


def action_problem(action: Any, space: gym.spaces.Box) -> str | None:
    """Why ``action`` is not an action of ``space`` (shape, finiteness, bounds up to BOUNDS_RTOL), or None."""
    a = np.asarray(action)
    if a.shape != space.shape:
        return f"action of shape {a.shape}, the env's is {space.shape}"
    if not np.issubdtype(a.dtype, np.number) or not np.all(np.isfinite(a)):
        return f"action {a} is not finite"
    slack = BOUNDS_RTOL * (space.high - space.low)
    if np.any(a < space.low - slack) or np.any(a > space.high + slack):
        return f"action {a} outside [{space.low}, {space.high}]"
    return None


def checked(policy: Policy, space: gym.Space[Any]) -> Policy:
    """``policy`` raising AgentError at the first action that is not one of ``space`` (a Box)."""
    if not isinstance(space, gym.spaces.Box):
        return policy

    def act(obs: np.ndarray) -> np.ndarray:
        action = policy(obs)
        problem = action_problem(action, space)
        if problem is not None:
            raise AgentError(f"predict(deterministic=True) gave an {problem}")
        return action

    return act


class Evaluator:
    """The fixed evaluation episodes of a run; ``extend_by`` > 0 builds a second env whose time limit
    is that many steps longer, on which recorded episodes run (see the module's docstring)."""

    def __init__(
        self, env_id: str, n_episodes: int, eval_seed: int, extend_by: int = 0, limit_s: float = EVALUATION_LIMIT_S
    ):
        self.env = make_env(env_id)
        self.limit_s = limit_s  # an evaluation this long without an action is stopped as a hanging agent
        self.steps_run = 0  # env steps taken by every evaluation so far, extended episodes' included
        self.seeds = [eval_seed + i for i in range(n_episodes)]
        spec = self.env.spec
        #: The env's time limit (None: none): a recorded episode's score counts this many steps.
        self.horizon: int | None = spec.max_episode_steps if spec is not None else None
        #: Steps after which an episode is stopped as one that never ends (an env without a time limit).
        self.max_steps: int | None = None if self.horizon is not None else MAX_EPISODE_STEPS
        self.long_env: gym.Env | None = None
        if extend_by > 0 and self.horizon is not None:
            self.long_env = make_env(env_id, max_episode_steps=self.horizon + extend_by)

    def evaluate(
        self, policy: Policy, trajectories: list[Trajectory] | None = None, recorded: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Returns (episode returns (K,), episode lengths (K,)) of ``policy`` on the fixed episodes.

        With ``trajectories`` (a list), each episode (the first ``recorded`` of them, when given) is
        recorded into it, run on the extended env when there is one; the returns and lengths are still
        those of the episodes up to the time limit, so recording changes no score."""
        returns, lengths = np.zeros(len(self.seeds), dtype=np.float64), np.zeros(len(self.seeds), dtype=np.int64)
        checked_act = checked(policy, self.env.action_space)
        where = {"episode": 0}

        def doing() -> str:
            return f"evaluation episode {where['episode'] + 1} of {len(self.seeds)} had not ended"

        with stall_limit(self.limit_s, doing) as progress:

            def act(obs: np.ndarray) -> np.ndarray:
                action = checked_act(obs)
                progress.tick()
                return action

            for i, seed in enumerate(self.seeds):
                where["episode"] = i
                try:
                    if trajectories is None or (recorded is not None and i >= recorded):
                        returns[i], lengths[i] = rollout(self.env, act, seed, max_steps=self.max_steps)
                        self.steps_run += int(lengths[i])
                        continue
                    traj = Trajectory()
                    self.steps_run += rollout(
                        self.long_env or self.env, act, seed, record=traj, max_steps=self.max_steps
                    )[1]
                except AgentError as exc:
                    raise AgentError(f"episode {i + 1} of {len(self.seeds)} (reset seed {seed}): {exc}") from None
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
