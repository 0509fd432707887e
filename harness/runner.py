"""One run: environment, agent, the harness's evaluation schedule, and the run directory.

The runner knows arms only through the registry and the Agent contract.
"""

from __future__ import annotations

import shutil
import time
import traceback
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from stable_baselines3.common.utils import set_random_seed

from harness import results
from harness.agents import get_arm
from harness.config import as_plain
from harness.envs import make_env
from harness.evaluator import Evaluator
from harness.spec import RunSpec

#: Receives progress events: dicts with "key", "event" (start|progress|eval|done|failed) and numbers.
Reporter = Callable[[dict[str, Any]], None]

PROGRESS_EVERY_S = 1.0
RATE_WINDOW = 30


def decide(spec: RunSpec, results_root: Path) -> str:
    """What to do with ``spec`` given its directory: 'skip' (complete, same spec), 'run' (absent or
    unfinished with the same spec) or 'supersede' (a different spec is there: it is moved aside)."""
    run_dir = spec.run_dir(results_root)
    if not run_dir.exists():
        return "run"
    meta = results.read_meta(run_dir)
    if meta is not None and meta.get("spec_hash") == spec.spec_hash():
        return "skip" if meta.get("status") == results.STATUS_COMPLETE else "run"
    return "supersede"


def supersede(spec: RunSpec, results_root: Path) -> Path:
    """Move an existing run of a different spec to ``<study>/superseded/<arm>/<env>_<seed>.<hash>``."""
    run_dir = spec.run_dir(results_root)
    meta = results.read_meta(run_dir) or {}
    tag = meta.get("spec_hash") or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    target = Path(results_root) / spec.study / "superseded" / f"{spec.key}.{tag}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(run_dir), str(target))
    return target


def execute(spec: RunSpec, results_root: Path, threads: int = 1, report: Reporter | None = None) -> dict[str, Any]:
    """Train and evaluate one run, writing its directory; returns a summary dict.

    Exceptions inside training are recorded in meta.json (status 'failed') and returned, so
    one bad run does not stop a study.
    """
    report = report or (lambda event: None)
    torch.set_num_threads(threads)
    run_dir = spec.run_dir(results_root)
    if run_dir.exists():
        shutil.rmtree(run_dir)  # an unfinished run of this same spec: it restarts from scratch
    run_dir.mkdir(parents=True)
    meta = {
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
    results.write_json(run_dir / "meta.json", meta)
    results.write_config(run_dir, as_plain(spec.config))
    report({"key": spec.key, "event": "start", "steps": 0, "total": spec.budget.total_steps})
    try:
        summary = _train(spec, run_dir, report)
    except KeyboardInterrupt:
        meta.update(status=results.STATUS_INTERRUPTED)
        meta["timings"]["finished"] = _now()
        results.write_json(run_dir / "meta.json", meta)
        report({"key": spec.key, "event": "failed", "error": "interrupted"})
        raise
    except Exception as exc:  # noqa: BLE001 - recorded and reported; the study goes on
        meta.update(status=results.STATUS_FAILED, error=f"{type(exc).__name__}: {exc}",
                    traceback=traceback.format_exc())
        meta["timings"]["finished"] = _now()
        results.write_json(run_dir / "meta.json", meta)
        report({"key": spec.key, "event": "failed", "error": meta["error"]})
        return {"key": spec.key, "status": results.STATUS_FAILED, "error": meta["error"]}
    meta["status"] = results.STATUS_COMPLETE
    meta["timings"].update(finished=_now(), **{k: summary[k] for k in ("wall_s", "train_s", "eval_s", "steps_per_s")})
    meta["result"] = {k: summary[k] for k in ("env_steps", "updates", "final_return_mean", "model")}
    results.write_json(run_dir / "meta.json", meta)
    report({"key": spec.key, "event": "done", "steps": summary["env_steps"], "total": spec.budget.total_steps,
            "last_return": summary["final_return_mean"], "steps_per_s": summary["steps_per_s"]})
    return {"key": spec.key, "status": results.STATUS_COMPLETE, **summary}


def _train(spec: RunSpec, run_dir: Path, report: Reporter) -> dict[str, Any]:
    set_random_seed(spec.seed)
    env = make_env(spec.env_id, monitor_dir=run_dir)
    env.action_space.seed(spec.seed)
    env.reset(seed=spec.seed)
    agent = get_arm(spec.arm).build(env, spec.config, spec.seed, spec.device)
    evaluator = Evaluator(spec.env_id, spec.budget.eval_episodes, spec.eval_seed)
    log = results.EvalLog(run_dir, spec.budget.eval_episodes)
    budget = spec.budget
    start = time.perf_counter()
    clock = {"eval_s": 0.0, "last_report": start, "last_return": None}
    # (training seconds, step) samples: steps/s over the last RATE_WINDOW reports, so the rate and
    # ETA follow the current phase (random warm-up is far faster than training).
    samples: deque[tuple[float, int]] = deque([(0.0, 0)], maxlen=RATE_WINDOW)

    def evaluate(step: int) -> None:
        t0 = time.perf_counter()
        returns, lengths = evaluator.evaluate(lambda obs: agent.predict(obs, deterministic=True))
        now = time.perf_counter()
        clock["eval_s"] += now - t0
        clock["last_return"] = float(returns.mean())
        log.append(step, agent.num_updates, now - start, clock["eval_s"], returns, lengths)
        report({"key": spec.key, "event": "eval", "steps": step, "total": budget.total_steps,
                "last_return": clock["last_return"]})

    def on_step(step: int) -> bool:
        if step % budget.eval_freq == 0 and step < budget.total_steps:
            evaluate(step)
        now = time.perf_counter()
        if now - clock["last_report"] >= PROGRESS_EVERY_S:
            clock["last_report"] = now
            samples.append((now - start - clock["eval_s"], step))
            (t0, s0), (t1, s1) = samples[0], samples[-1]
            report({"key": spec.key, "event": "progress", "steps": step, "total": budget.total_steps,
                    "steps_per_s": (s1 - s0) / (t1 - t0) if t1 > t0 else None,
                    "last_return": clock["last_return"]})
        return True

    try:
        evaluate(0)
        agent.learn(budget.total_steps, on_step)
        evaluate(agent.num_timesteps)
        model = agent.save(run_dir / "model")
    finally:
        env.close()
        evaluator.close()
    wall = time.perf_counter() - start
    train_s = wall - clock["eval_s"]
    return {"env_steps": agent.num_timesteps, "updates": agent.num_updates, "wall_s": wall,
            "train_s": train_s, "eval_s": clock["eval_s"], "steps_per_s": agent.num_timesteps / train_s,
            "final_return_mean": clock["last_return"], "model": model.name}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
