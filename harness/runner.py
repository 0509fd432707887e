"""One run: environment, agent, the harness's evaluation schedule, checkpoints, the run directory.

The runner knows arms only through the registry and the Agent contract. A run holds an flock
on its directory while it works; it checkpoints its whole state every ``checkpoint_every`` env
steps (or ``checkpoint_seconds`` of work), at an episode boundary when the arm can resume
exactly from there; repeating the run resumes from the newest checkpoint, truncating the
evaluation and monitor logs back to what the checkpoint had seen, so no row is duplicated.
"""

from __future__ import annotations

import shutil
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from stable_baselines3.common.utils import set_random_seed

from harness import checkpoint, results
from harness.agents import get_arm
from harness.config import as_plain
from harness.envs import make_env
from harness.evaluator import Evaluator
from harness.locks import Locked, RunLock, held_elsewhere
from harness.spec import RunSpec

#: Receives progress events: dicts with "key", "event" (start|progress|eval|done|failed|...) and numbers.
Reporter = Callable[[dict[str, Any]], None]

PROGRESS_EVERY_S = 1.0
RATE_WINDOW = 30
DIAGNOSE_EVERY = 1000
#: Statuses a repeated command leaves alone: the run has its final answer.
FINAL = (results.STATUS_COMPLETE, results.STATUS_DIVERGED, results.STATUS_STOPPED)


@dataclass(frozen=True)
class CheckpointPolicy:
    """Checkpoint every ``steps`` env steps if given, else after ``seconds`` of work."""

    steps: int | None = None
    seconds: float = 600.0


class Diverged(Exception):
    def __init__(self, step: int, cause: str):
        super().__init__(f"diverged at step {step}: {cause}")
        self.step, self.cause = step, cause


def decide(spec: RunSpec, results_root: Path) -> str:
    """What a repeated command does with ``spec``: 'run' (nothing there), 'skip' (final, same spec),
    'resume' (unfinished, same spec, a checkpoint exists), 'restart' (unfinished, no checkpoint),
    'busy' (another live process holds it) or 'supersede' (a different spec is there)."""
    run_dir = spec.run_dir(results_root)
    if not run_dir.exists():
        return "run"
    if held_elsewhere(run_dir):
        return "busy"
    meta = results.read_meta(run_dir)
    if not spec.matches(meta):
        return "supersede" if any(p.name != ".lock" for p in run_dir.iterdir()) else "run"
    if meta.get("status") in FINAL:
        return "skip"
    return "resume" if checkpoint.latest(run_dir) else "restart"


def supersede(spec: RunSpec, results_root: Path) -> Path:
    """Move an existing run of a different spec to ``<study>/superseded/<arm>/<env>_<seed>.<hash>``."""
    run_dir = spec.run_dir(results_root)
    meta = results.read_meta(run_dir) or {}
    tag = meta.get("spec_hash") or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    target = Path(results_root) / spec.study / "superseded" / f"{spec.key}.{tag}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(run_dir), str(target))
    return target


#: Called after every evaluation with (env step, mean return); may raise to stop the run.
EvalHook = Callable[[int, float], None]
#: Called after every checkpoint is written with (run directory, env step): e.g. to copy it off the machine.
CheckpointHook = Callable[[Path, int], None]


def execute(spec: RunSpec, results_root: Path, threads: int = 1, report: Reporter | None = None,
            policy: CheckpointPolicy = CheckpointPolicy(), on_eval: EvalHook | None = None,
            passthrough: tuple[type[BaseException], ...] = (),
            on_checkpoint: CheckpointHook | None = None) -> dict[str, Any]:
    """Train (or resume) and evaluate one run under its lock; returns a summary dict.

    Failures inside training are recorded in meta.json and returned, so one bad run does not
    stop a study; a run held by another process is left alone (status 'busy'). Exceptions of a
    ``passthrough`` type (raised by ``on_eval``, e.g. a pruned Optuna trial) stop the run with
    status 'stopped' and propagate. ``on_checkpoint`` sees every checkpoint once it is written.
    """
    report = report or (lambda event: None)
    torch.set_num_threads(threads)
    run_dir = spec.run_dir(results_root)
    try:
        with RunLock(run_dir):
            return _execute_locked(spec, run_dir, report, threads, policy, on_eval, passthrough, on_checkpoint)
    except Locked as exc:
        report({"key": spec.key, "event": "busy", "reason": str(exc)})
        return {"key": spec.key, "status": "busy", "error": str(exc)}


def _execute_locked(spec: RunSpec, run_dir: Path, report: Reporter, threads: int, policy: CheckpointPolicy,
                    on_eval: EvalHook | None, passthrough: tuple[type[BaseException], ...],
                    on_checkpoint: CheckpointHook | None) -> dict[str, Any]:
    meta = results.read_meta(run_dir)
    same = spec.matches(meta)
    if same and meta["status"] in FINAL:  # finished by another process meanwhile
        return {"key": spec.key, "status": meta["status"], "skipped": True}
    latest = checkpoint.latest(run_dir) if same else None
    if latest is None:
        for path in run_dir.iterdir():  # an unfinished run without a checkpoint starts over
            if path.name != ".lock":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        meta = _new_meta(spec, threads)
        results.write_config(run_dir, as_plain(spec.config))
    else:
        meta["resumes"] = meta.get("resumes", []) + [{"from_step": latest[0], "at": _now(), "threads": threads}]
    meta.update(status=results.STATUS_RUNNING, threads=threads)
    meta.pop("error", None)
    results.write_json(run_dir / "meta.json", meta)
    report({"key": spec.key, "event": "start", "steps": latest[0] if latest else 0,
            "total": spec.budget.total_steps, "resumed": bool(latest)})

    def finish(status: str, **fields: Any) -> None:
        meta.update(status=status, **fields)
        meta["timings"]["finished"] = _now()
        results.write_json(run_dir / "meta.json", meta)

    try:
        summary = _train(spec, run_dir, report, policy, latest[1] if latest else None, on_eval, on_checkpoint)
    except passthrough as exc:
        finish(results.STATUS_STOPPED, error=f"{type(exc).__name__}: {exc}")
        raise
    except KeyboardInterrupt:
        finish(results.STATUS_INTERRUPTED)
        report({"key": spec.key, "event": "failed", "error": "interrupted"})
        raise
    except Diverged as exc:
        finish(results.STATUS_DIVERGED, divergence={"step": exc.step, "cause": exc.cause})
        report({"key": spec.key, "event": "failed", "error": str(exc)})
        return {"key": spec.key, "status": results.STATUS_DIVERGED, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - recorded and reported; the study goes on
        finish(results.STATUS_FAILED, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        report({"key": spec.key, "event": "failed", "error": meta["error"]})
        return {"key": spec.key, "status": results.STATUS_FAILED, "error": meta["error"]}
    meta["timings"].update({k: summary[k] for k in ("wall_s", "train_s", "eval_s", "steps_per_s")})
    meta["result"] = {k: summary[k] for k in ("env_steps", "updates", "final_return_mean", "model")}
    finish(results.STATUS_COMPLETE)
    shutil.rmtree(run_dir / checkpoint.DIRNAME, ignore_errors=True)  # the run is final: its checkpoints are not needed
    report({"key": spec.key, "event": "done", "steps": summary["env_steps"], "total": spec.budget.total_steps,
            "last_return": summary["final_return_mean"], "steps_per_s": summary["steps_per_s"]})
    return {"key": spec.key, "status": results.STATUS_COMPLETE, **summary}


def _new_meta(spec: RunSpec, threads: int) -> dict[str, Any]:
    return {
        "spec": {"study": spec.study, **spec.identity(), "hp_sources": list(spec.hp_sources),
                 "learning_starts_configured": spec.learning_starts_configured,
                 "learning_starts_scale": spec.budget.learning_starts_scale},
        "spec_hash": spec.spec_hash(),
        "status": results.STATUS_RUNNING,
        "versions": results.package_versions(),
        "git": results.git_state(),
        "host": results.host_info(),
        "threads": threads,
        "timings": {"started": _now()},
    }


def _train(spec: RunSpec, run_dir: Path, report: Reporter, policy: CheckpointPolicy,
           resume_from: Path | None, on_eval: EvalHook | None = None,
           on_checkpoint: CheckpointHook | None = None) -> dict[str, Any]:
    saved = checkpoint.load(resume_from) if resume_from else None
    runner_state = saved["runner"] if saved else {"eval_rows": 0, "monitor_rows": 0, "train_s": 0.0, "eval_s": 0.0}
    set_random_seed(spec.seed)
    results.truncate_monitor(run_dir, runner_state["monitor_rows"])
    env = make_env(spec.env_id, monitor_dir=run_dir, append=saved is not None)
    env.action_space.seed(spec.seed)
    env.reset(seed=spec.seed)
    agent = get_arm(spec.arm).build(env, spec.config, spec.seed, spec.device)
    if saved:
        agent.load_state_dict(saved["agent"])
    evaluator = Evaluator(spec.env_id, spec.budget.eval_episodes, spec.eval_seed)
    log = results.EvalLog(run_dir, spec.budget.eval_episodes, keep_rows=runner_state["eval_rows"])
    budget = spec.budget
    start = time.perf_counter()
    # Time already spent by earlier sessions of this run (up to their last checkpoint).
    clock = {"eval_s": runner_state["eval_s"], "offset": runner_state["train_s"] + runner_state["eval_s"],
             "last_report": start, "last_return": log.last_return, "last_ckpt": agent.num_timesteps,
             "last_ckpt_time": start}
    samples: deque[tuple[float, int]] = deque([(0.0, agent.num_timesteps)], maxlen=RATE_WINDOW)

    def elapsed() -> float:
        return clock["offset"] + time.perf_counter() - start

    def evaluate(step: int) -> None:
        t0 = time.perf_counter()
        returns, lengths = evaluator.evaluate(lambda obs: agent.predict(obs, deterministic=True))
        clock["eval_s"] += time.perf_counter() - t0
        clock["last_return"] = float(returns.mean())
        log.append(step, agent.num_updates, elapsed(), clock["eval_s"], returns, lengths)
        report({"key": spec.key, "event": "eval", "steps": step, "total": budget.total_steps,
                "last_return": clock["last_return"]})
        check(step)
        if on_eval is not None:
            on_eval(step, clock["last_return"])

    def check(step: int) -> None:
        cause = agent.diagnose()
        if cause is not None:
            raise Diverged(step, cause)

    def save_checkpoint(step: int) -> None:
        total = elapsed()
        state = {"agent": agent.state_dict(), "runner": {
            "eval_rows": len(log), "monitor_rows": results.monitor_rows(run_dir),
            "train_s": total - clock["eval_s"], "eval_s": clock["eval_s"], "step": step}}
        checkpoint.save(run_dir, step, state)
        if on_checkpoint is not None:
            on_checkpoint(run_dir, step)
        clock["last_ckpt"], clock["last_ckpt_time"] = step, time.perf_counter()
        report({"key": spec.key, "event": "checkpoint", "steps": step, "total": budget.total_steps})

    def on_step(step: int) -> bool:
        if step % budget.eval_freq == 0 and step < budget.total_steps:
            evaluate(step)
        elif step % DIAGNOSE_EVERY == 0:
            check(step)
        now = time.perf_counter()
        due = (step - clock["last_ckpt"] >= policy.steps if policy.steps
               else now - clock["last_ckpt_time"] >= policy.seconds)
        if due and step < budget.total_steps and agent.at_episode_boundary:
            save_checkpoint(step)
        if now - clock["last_report"] >= PROGRESS_EVERY_S:
            clock["last_report"] = now
            samples.append((now - start - clock["eval_s"], step))
            (t0, s0), (t1, s1) = samples[0], samples[-1]
            report({"key": spec.key, "event": "progress", "steps": step, "total": budget.total_steps,
                    "steps_per_s": (s1 - s0) / (t1 - t0) if t1 > t0 else None,
                    "last_return": clock["last_return"]})
        return True

    try:
        if len(log) == 0:
            evaluate(0)
        try:
            agent.learn(budget.total_steps, on_step)
        except FloatingPointError as exc:  # an agent's own NaN check (custom_td3.TrainingDiverged)
            raise Diverged(agent.num_timesteps, str(exc)) from exc
        evaluate(agent.num_timesteps)
        model = agent.save(run_dir / "model")
    finally:
        env.close()
        evaluator.close()
    wall = elapsed()
    train_s = wall - clock["eval_s"]
    return {"env_steps": agent.num_timesteps, "updates": agent.num_updates, "wall_s": wall,
            "train_s": train_s, "eval_s": clock["eval_s"], "steps_per_s": agent.num_timesteps / train_s,
            "final_return_mean": clock["last_return"], "model": model.name}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
