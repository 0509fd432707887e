"""``check-agent --learning``: does a short run on Pendulum-v1 beat the random floor?

The run takes the arm's resolved hyperparameters with ``learning_starts`` scaled as a study scales
it: by the check's steps over the env's full budget, the arm's own or, for an arm with no budget of
its own (an agent by import path without a hyperparameter file), the one the built-in arms give the
env, as a study beside them would. An agent whose warm-up then still outlasts the check made no
update, and its row says so (skipped) rather than calling it worse than random.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from harness.agents import ARMS, Arm
from harness.config import reference, resolve
from harness.config.schema import has_learning_starts
from harness.run.evaluator import Evaluator, measure_random
from harness.run.runner import start_agent
from harness.run.spec import EVAL_SEED
from harness.verify.check import CheckFailed, CheckSkipped, no_update_reason

LEARNING_ENV = "Pendulum-v1"


def env_budget(env_id: str) -> int | None:
    """The env's full budget in a study of the built-in arms: the largest of their n_timesteps."""
    budgets = [resolve.resolve(arm, env_id).n_timesteps for arm in ARMS.values() if arm.sets_budget and arm.zoo_algo]
    return max((b for b in budgets if b), default=None)


def learning_config(arm: Arm, steps: int) -> tuple[Any, str]:
    """The arm's resolved config on LEARNING_ENV with learning_starts scaled as a study of ``steps``
    steps would scale it, and how it was scaled, in words ("" when the config has no learning_starts)."""
    resolved = resolve.resolve(arm, LEARNING_ENV)
    config = resolved.config
    full = resolved.n_timesteps or env_budget(LEARNING_ENV)
    if not has_learning_starts(config) or not full:
        return config, ""
    scaled = round(config.learning_starts * min(1.0, steps / full))
    whose = "its" if resolved.n_timesteps else "the built-in arms'"
    how = (
        f"learning_starts {scaled:,} ({config.learning_starts:,} scaled by {steps:,} / {full:,} steps, "
        f"{whose} budget on {LEARNING_ENV})"
    )
    return dataclasses.replace(config, learning_starts=scaled), how


def learns(arm: Arm, steps: int, device: str) -> str:
    """Train on LEARNING_ENV for ``steps`` steps; its 10 evaluation episodes must beat the random
    policy's score by two standard errors. CheckSkipped when its settings allow no update."""
    config, how = learning_config(arm, steps)
    blocked = no_update_reason(config, steps)
    if blocked is not None:
        late = how and config.learning_starts >= steps
        raise CheckSkipped(
            f"{how} is beyond the check's {steps:,} steps: no update was made"
            if late
            else f"{blocked}: no update was made"
        )
    env, agent = start_agent(arm, LEARNING_ENV, config, 0, device)
    agent.learn(steps, lambda step: True)
    env.close()
    updates = arm.capabilities.updates(agent)
    if updates == 0 and not has_learning_starts(config):
        raise CheckSkipped(f"no update was made in the check's {steps:,} steps (its Config has no learning_starts)")
    returns = evaluate(LEARNING_ENV, agent, episodes=10)
    floor = reference.lookup(LEARNING_ENV).random
    floor = floor if floor is not None else measure_random(LEARNING_ENV)
    mean, se = float(returns.mean()), float(returns.std(ddof=1) / np.sqrt(len(returns)))
    text = (
        f"{steps:,} steps{f', {how}' if how else ''}: mean return {mean:.1f} (standard error {se:.1f}) "
        f"against the random floor {floor:.1f}"
    )
    if mean - 2 * se <= floor:
        made_none = f"; it made no gradient update in {steps:,} steps" if updates == 0 else ""
        raise CheckFailed(f"{text}: not above it by two standard errors{made_none}")
    return text


def evaluate(env_id: str, agent: Any, episodes: int = 2) -> np.ndarray:
    """Returns (episodes,) of the agent's deterministic policy on the harness's evaluation episodes."""
    evaluator = Evaluator(env_id, episodes, EVAL_SEED)
    returns, _ = evaluator.evaluate(lambda obs: agent.predict(obs, deterministic=True))
    evaluator.close()
    return returns
