"""A few seconds of real training per (env, arm) to estimate a study's wall-clock before it starts."""

from __future__ import annotations

import dataclasses
import heapq
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch

from harness.agents import get_arm
from harness.config.schema import has_learning_starts, learning_starts
from harness.errors import AgentError, UsageError
from harness.run import matmul
from harness.run.bounds import stall_limit
from harness.run.diagnostics import RunDiagnostics
from harness.run.envs import make_env
from harness.run.evaluator import Evaluator
from harness.run.spec import RunSpec

RANDOM_STEPS = 200
WARMUP_STEPS = 20
#: Training steps a calibration asks for at most: it stops after ``seconds``, or here for fast arms.
MAX_TRAIN_STEPS = 20_000
#: A calibration whose agent goes this long without calling back, or without returning once its
#: callback returned False, is an agent that hangs or ignores its callback (a slow one keeps calling back).
LIMIT_S = 60.0


@dataclass(frozen=True)
class Rates:
    """Measured env steps per second in each phase of a run."""

    random: float  # before learning_starts: env steps and buffer writes
    train: float  # after: env steps with gradient updates
    predict: float  # evaluation: deterministic actions, no learning
    episode_steps: int  # the eval env's time limit (plus the value measure's extension): an episode's most steps
    setup_s: float  # building env, evaluator and agent


def measure(spec: RunSpec, threads: int, seconds: float = 2.0) -> Rates:
    """Train ``spec``'s arm for about ``seconds`` after a short random phase, and time each phase."""
    torch.set_num_threads(threads)
    matmul.apply(spec.matmul_backend)  # estimates follow the study's backend
    config = spec.config
    if has_learning_starts(config):
        config = dataclasses.replace(config, learning_starts=RANDOM_STEPS)
    t_setup = time.perf_counter()
    env = make_env(spec.env_id)
    arm = get_arm(spec.arm)
    agent = arm.build(env, config, spec.seed, spec.device)
    if arm.capabilities.precision:
        cast(Any, agent).set_precision(spec.precision)  # the estimate follows the study's precision
    setup = time.perf_counter() - t_setup
    marks: dict[str, tuple[float, int]] = {}

    def on_step(step: int) -> bool:
        now = time.perf_counter()
        if step == RANDOM_STEPS:
            marks["random_end"] = (now, step)
        elif step == RANDOM_STEPS + WARMUP_STEPS:
            marks["train_start"] = (now, step)
        elif "train_start" in marks and now - marks["train_start"][0] >= seconds:
            marks["train_end"] = (now, step)
            return False
        return True

    start = time.perf_counter()
    total = RANDOM_STEPS + WARMUP_STEPS + MAX_TRAIN_STEPS
    seen = {"steps": 0}

    def counted(step: int) -> bool:
        seen["steps"] = step
        progress.tick()
        go_on = on_step(step)
        if not go_on:
            progress.stopping()
        return go_on

    def doing() -> str:
        return (
            f"calibrating {spec.arm} on {spec.env_id}: learn({total:,}) had not returned ({seen['steps']:,} steps "
            f"reported; its callback returns False after about {seconds:g} s of training)"
        )

    with stall_limit(LIMIT_S, doing) as progress:
        agent.learn(total, counted)
    end = (time.perf_counter(), int(agent.num_timesteps))
    env.close()
    if "train_start" not in marks:
        raise AgentError(
            f"calibrating {spec.arm} on {spec.env_id}: learn({total:,}) returned at num_timesteps = "
            f"{agent.num_timesteps:,} with its callback having seen {seen['steps']:,} steps; it must call back "
            "after every env step and stop when the callback returns False"
        )
    marks.setdefault("train_end", end)  # a fast arm reaches the step bound before the seconds are up
    # One evaluation episode exactly as a run evaluates (the value measure's longer episodes included).
    with tempfile.TemporaryDirectory(prefix="calibrate-") as folder:
        diagnostics = RunDiagnostics(dataclasses.replace(spec, tensorboard=False), Path(folder), agent, env)
        evaluator = Evaluator(spec.env_id, 1, spec.eval_seed, extend_by=diagnostics.extend_by, limit_s=LIMIT_S)
        t0 = time.perf_counter()
        _, lengths, _ = diagnostics.evaluate(evaluator)
        predict = evaluator.steps_run / max(time.perf_counter() - t0, 1e-9)
        limit = evaluator.horizon
        evaluator.close()
    episode_steps = int(limit or lengths.max()) + (diagnostics.extend_by if limit else 0)
    (t_r, _), (t_s, s_s), (t_e, s_e) = marks["random_end"], marks["train_start"], marks["train_end"]
    return Rates(RANDOM_STEPS / (t_r - start), (s_e - s_s) / (t_e - t_s), predict, episode_steps, setup)


def run_seconds(spec: RunSpec, rates: Rates) -> float:
    """Estimated wall-clock of one run: random phase, training phase, and evaluations at most."""
    b, ls = spec.budget, min(learning_starts(spec.config), spec.budget.total_steps)
    eval_steps = len(b.eval_steps()) * b.eval_episodes * rates.episode_steps
    return rates.setup_s + ls / rates.random + (b.total_steps - ls) / rates.train + eval_steps / rates.predict


def makespan(durations: Sequence[float], jobs: int) -> float:
    """Wall-clock of running ``durations`` on ``jobs`` workers, longest first, each to the first free worker."""
    slots = [0.0] * jobs
    for d in sorted(durations, reverse=True):
        heapq.heapreplace(slots, slots[0] + d)
    return max(slots) if durations else 0.0


def calibrate(specs: Sequence[RunSpec], threads: int) -> dict[tuple[str, str], Rates]:
    """Rates for each distinct (env, arm) among ``specs``, measured once each."""
    rates: dict[tuple[str, str], Rates] = {}
    for spec in specs:
        if (spec.env_id, spec.arm) not in rates:
            try:
                rates[spec.env_id, spec.arm] = measure(spec, threads)
            except AgentError as exc:
                raise UsageError(
                    f"{exc}. Nothing was run; `make check-agent AGENT={spec.arm}` checks the whole contract"
                ) from None
    return rates
