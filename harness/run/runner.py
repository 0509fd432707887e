"""One run: environment, agent, the harness's evaluation schedule, checkpoints, the run directory.

The runner knows arms only through the registry and the Agent contract. A run holds an flock
on its directory while it works; it checkpoints its whole state every ``checkpoint_every`` env
steps (or ``checkpoint_seconds`` of work), at an episode boundary when the arm can resume
exactly from there; repeating the run resumes from the newest checkpoint, truncating the
evaluation and monitor logs back to what the checkpoint had seen, so no row is duplicated.
"""

from __future__ import annotations

import errno
import resource
import shutil
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import torch
from stable_baselines3.common.utils import set_random_seed

from harness.agents import Agent, Arm, get_arm
from harness.config.schema import as_plain
from harness.errors import AgentError, EnvFault
from harness.run import checkpoint, matmul, provenance, record, rundir
from harness.run.diagnostics import RunDiagnostics
from harness.run.envs import make_env
from harness.run.evaluator import Evaluator
from harness.run.locks import Locked, RunLock, held_elsewhere
from harness.run.record import Status
from harness.run.spec import RunSpec

#: Receives progress events: dicts with "key", "event" (start|progress|eval|done|failed|...) and numbers.
Reporter = Callable[[dict[str, Any]], None]

PROGRESS_EVERY_S = 1.0
RATE_WINDOW = 30
DIAGNOSE_EVERY = 1000
#: Statuses a repeated command leaves alone: the run has its final answer.
FINAL = record.FINAL


@dataclass(frozen=True)
class CheckpointPolicy:
    """Checkpoint every ``steps`` env steps if given, else after ``seconds`` of work."""

    steps: int | None = None
    seconds: float = 600.0


class _Divergence(Exception):
    """The run's verdict 'diverged': raised when the agent's ``diagnose()`` names a non-finite value,
    or when the agent itself raises FloatingPointError (custom_td3's TrainingDiverged is one)."""

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
    recorded = rundir.read_record(run_dir)
    if recorded is None or not spec.matches(recorded):
        return "supersede" if any(p.name != rundir.LOCK_NAME for p in run_dir.iterdir()) else "run"
    if recorded.is_final:
        return "skip"
    return "resume" if checkpoint.latest(run_dir) else "restart"


def recorded_backend(spec: RunSpec, results_root: Path) -> str:
    """The matmul backend of the run already at ``spec``'s directory (default when none is recorded)."""
    recorded = rundir.read_record(spec.run_dir(results_root))
    return recorded.matmul_backend if recorded is not None else "default"


def recorded_precision(spec: RunSpec, results_root: Path) -> str:
    """The precision of the run already at ``spec``'s directory (fp32 when none is recorded)."""
    recorded = rundir.read_record(spec.run_dir(results_root))
    return recorded.precision if recorded is not None else "fp32"


def supersede(spec: RunSpec, results_root: Path) -> Path:
    """Move an existing run of a different spec to ``<study>/superseded/<arm>/<env>_<seed>.<hash>``."""
    run_dir = spec.run_dir(results_root)
    recorded = rundir.read_record(run_dir)
    tag = (recorded.spec_hash if recorded is not None else "") or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = Path(results_root) / spec.study / "superseded" / f"{spec.key}.{tag}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(run_dir), str(target))
    return target


#: Called after every evaluation with (env step, mean return, gradient updates so far); may raise to stop the run.
EvalHook = Callable[[int, float, int | None], None]
#: Called after every checkpoint is written with (run directory, env step): e.g. to copy it off the machine.
CheckpointHook = Callable[[Path, int], None]


def execute(
    spec: RunSpec,
    results_root: Path,
    threads: int = 1,
    report: Reporter | None = None,
    policy: CheckpointPolicy = CheckpointPolicy(),
    on_eval: EvalHook | None = None,
    passthrough: tuple[type[BaseException], ...] = (),
    on_checkpoint: CheckpointHook | None = None,
) -> dict[str, Any]:
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
        return {"key": spec.key, "status": Status.BUSY, "error": str(exc)}


def _execute_locked(
    spec: RunSpec,
    run_dir: Path,
    report: Reporter,
    threads: int,
    policy: CheckpointPolicy,
    on_eval: EvalHook | None,
    passthrough: tuple[type[BaseException], ...],
    on_checkpoint: CheckpointHook | None,
) -> dict[str, Any]:
    recorded = rundir.read_record(run_dir)
    if recorded is not None and not spec.matches(recorded):
        recorded = None  # another spec's files: the run starts over
    if recorded is not None and recorded.is_final:  # finished by another process meanwhile
        return {"key": spec.key, "status": recorded.status, "skipped": True}
    if recorded is not None and checkpoint.latest(run_dir):
        for what, was, now in (
            ("matmul backend", recorded.matmul_backend, spec.matmul_backend),
            ("precision", recorded.precision, spec.precision),
        ):
            if was != now:
                error = f"resumed on {what} {now}, but its first part ran on {was}; a run keeps one {what.split()[-1]} (the study's)"
                report({"key": spec.key, "event": "failed", "error": error})
                return {"key": spec.key, "status": rundir.STATUS_FAILED, "error": error}
    newest = checkpoint.newest_loadable(run_dir) if recorded is not None else checkpoint.Newest(None, None)
    for skipped in newest.skipped:  # a checkpoint cut short or corrupted: the next older one is used
        report({"key": spec.key, "event": "note", "text": f"checkpoint skipped, it does not load: {skipped}"})
    latest = (newest.step, newest.state) if newest.step is not None and newest.state is not None else None
    if recorded is None or latest is None:
        rundir.clear_run_dir(run_dir)  # an unfinished run without a checkpoint starts over
        meta = _new_record(spec, threads)
        if newest.skipped:
            meta.extra["restarted"] = {"because": "no checkpoint loads", "skipped": list(newest.skipped)}
        rundir.write_config(run_dir, as_plain(spec.config))
    else:
        meta = recorded
        resume = {"from_step": latest[0], "at": _now(), "threads": threads}
        meta.resumes.append({**resume, **({"skipped": list(newest.skipped)} if newest.skipped else {})})
    meta.status, meta.threads, meta.error = Status.RUNNING, threads, None
    rundir.write_record(run_dir, meta)
    report(
        {
            "key": spec.key,
            "event": "start",
            "steps": latest[0] if latest else 0,
            "total": spec.budget.total_steps,
            "resumed": bool(latest),
        }
    )

    def finish(status: Status, error: str | None = None, **fields: Any) -> None:
        meta.status, meta.error = status, error
        for name, value in fields.items():
            setattr(meta, name, value)
        meta.timings.finished = _now()
        try:
            rundir.write_record(run_dir, meta)
        except OSError as exc:  # a full disk: the status stays 'running', which the next command resumes
            report({"key": spec.key, "event": "note", "text": f"meta.json not written ({exc.strerror or exc})"})

    try:
        summary = _train(spec, run_dir, report, policy, latest[1] if latest else None, on_eval, on_checkpoint)
    except passthrough as exc:
        finish(rundir.STATUS_STOPPED, error=f"{type(exc).__name__}: {exc}")
        raise
    except KeyboardInterrupt:
        finish(rundir.STATUS_INTERRUPTED)
        report({"key": spec.key, "event": "failed", "error": "interrupted"})
        raise
    except _Divergence as exc:
        finish(rundir.STATUS_DIVERGED, divergence={"step": exc.step, "cause": exc.cause})
        report({"key": spec.key, "event": "failed", "error": str(exc)})
        return {"key": spec.key, "status": rundir.STATUS_DIVERGED, "error": str(exc)}
    except Exception as exc:  # recorded and reported; the study goes on
        if _out_of_space(exc):  # the run can resume once there is room: interrupted, not failed
            free = shutil.disk_usage(run_dir).free
            error = (
                f"{type(exc).__name__}: {exc}; {free / 2**20:.1f} MiB free on the disk of {run_dir}: "
                "make room, then repeat the command to resume"
            )
            _remove_temporaries(run_dir)
            finish(rundir.STATUS_INTERRUPTED, error=error)
            report({"key": spec.key, "event": "failed", "error": error})
            return {"key": spec.key, "status": rundir.STATUS_INTERRUPTED, "error": error}
        finish(rundir.STATUS_FAILED, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        report({"key": spec.key, "event": "failed", "error": meta.error})
        return {"key": spec.key, "status": rundir.STATUS_FAILED, "error": meta.error}
    for name in ("wall_s", "train_s", "eval_s", "steps_per_s", "cpu_s"):
        setattr(meta.timings, name, summary[name])
    meta.result = record.Result(
        **{k: summary[k] for k in ("env_steps", "updates", "final_return_mean", "model", "critic")}
    )
    finish(rundir.STATUS_COMPLETE)
    shutil.rmtree(run_dir / checkpoint.DIRNAME, ignore_errors=True)  # the run is final: its checkpoints are not needed
    report(
        {
            "key": spec.key,
            "event": "done",
            "steps": summary["env_steps"],
            "total": spec.budget.total_steps,
            "last_return": summary["final_return_mean"],
            "steps_per_s": summary["steps_per_s"],
        }
    )
    return {"key": spec.key, "status": rundir.STATUS_COMPLETE, **summary}


def _new_record(spec: RunSpec, threads: int) -> record.RunRecord:
    return record.RunRecord(
        spec={
            "study": spec.study,
            **spec.identity(),
            "hp_sources": list(spec.hp_sources),
            "learning_starts_configured": spec.learning_starts_configured,
            "learning_starts_scale": spec.budget.learning_starts_scale,
        },
        spec_hash=spec.spec_hash(),
        status=Status.RUNNING,
        agent=dict(spec.agent_code),
        versions=provenance.package_versions(),
        git=provenance.git_state(),
        host=provenance.host_info(),
        threads=threads,
        matmul_backend=spec.matmul_backend,
        precision=spec.precision,
        timings=record.Timings(started=_now()),
        tuning_overlap=spec.tuning_overlap,
        algorithm=dict(spec.algorithm) or None,
    )


class _Clock:
    """The run's clocks and marks: time spent (including earlier sessions up to their checkpoint),
    time in evaluation, the last checkpoint, the last progress report, and the rate window."""

    def __init__(
        self, offset_s: float, eval_s: float, step: int, last_return: float | None, cpu_offset_s: float | None = 0.0
    ):
        self.start = time.perf_counter()
        self.cpu_start = cpu_seconds()
        self.cpu_offset_s = cpu_offset_s  # CPU seconds of earlier sessions; None: not recorded (an older checkpoint)
        self.offset_s = offset_s  # train + eval seconds of earlier sessions of this run
        self.eval_s = eval_s
        self.last_return = last_return
        self.last_report = self.start
        self.last_ckpt_step, self.last_ckpt_time = step, self.start
        self.steps_seen = step  # the last env step the agent's callback reported
        self.samples: deque[tuple[float, int]] = deque([(0.0, step)], maxlen=RATE_WINDOW)

    def elapsed(self) -> float:
        """Seconds of this run so far, earlier sessions included."""
        return self.offset_s + time.perf_counter() - self.start

    def cpu(self) -> float | None:
        """CPU seconds of this run so far (user + system, children included), earlier sessions included;
        None when an earlier session's were not recorded."""
        return None if self.cpu_offset_s is None else self.cpu_offset_s + cpu_seconds() - self.cpu_start

    def checkpoint_due(self, step: int, policy: CheckpointPolicy) -> bool:
        if policy.steps:
            return step - self.last_ckpt_step >= policy.steps
        return time.perf_counter() - self.last_ckpt_time >= policy.seconds

    def checkpointed(self, step: int) -> None:
        self.last_ckpt_step, self.last_ckpt_time = step, time.perf_counter()

    def report_due(self) -> bool:
        """True at most once every PROGRESS_EVERY_S."""
        now = time.perf_counter()
        if now - self.last_report < PROGRESS_EVERY_S:
            return False
        self.last_report = now
        return True

    def eta(self, step: int, rate: float | None, budget: Any, evaluations_done: int) -> float | None:
        """Seconds left: the remaining training steps at ``rate`` plus the remaining evaluations at the
        mean time this run's evaluations took so far (None before a rate is known)."""
        if not rate:
            return None
        left = sum(1 for s in budget.eval_steps() if s > step) if evaluations_done else len(budget.eval_steps())
        per_evaluation = self.eval_s / evaluations_done if evaluations_done else 0.0
        return (budget.total_steps - step) / rate + left * per_evaluation

    def training_rate(self, step: int) -> float | None:
        """Env steps per second of training (evaluation excluded) over the recent window."""
        self.samples.append((time.perf_counter() - self.start - self.eval_s, step))
        (t0, s0), (t1, s1) = self.samples[0], self.samples[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else None


def _train(
    spec: RunSpec,
    run_dir: Path,
    report: Reporter,
    policy: CheckpointPolicy,
    saved: dict[str, Any] | None,
    on_eval: EvalHook | None = None,
    on_checkpoint: CheckpointHook | None = None,
) -> dict[str, Any]:
    matmul.check_accuracy(spec.matmul_backend)
    matmul.apply(spec.matmul_backend)
    runner_state: dict[str, Any] = (
        saved["runner"] if saved else {"eval_rows": 0, "monitor_rows": 0, "train_s": 0.0, "eval_s": 0.0}
    )
    rundir.truncate_monitor(run_dir, runner_state["monitor_rows"], runner_state.get("monitor_text"))
    arm = get_arm(spec.arm)
    caps = arm.capabilities  # what the agent offers beyond the required contract
    env, agent = start_agent(arm, spec.env_id, spec.config, spec.seed, spec.device, run_dir, saved is not None)
    set_precision(arm, agent, spec.precision)
    if saved:
        caps.checkpointable(agent).load_state_dict(saved["agent"])
    diagnostics = RunDiagnostics(spec, run_dir, agent, env, resumed_at=runner_state.get("step") if saved else None)
    evaluator = Evaluator(spec.env_id, spec.budget.eval_episodes, spec.eval_seed, extend_by=diagnostics.extend_by)
    log = rundir.EvalLog(
        run_dir,
        spec.budget.eval_episodes,
        keep_rows=runner_state["eval_rows"],
        values=diagnostics.has_critic,
        kept_lines=runner_state.get("eval_lines"),
    )
    budget = spec.budget
    clock = _Clock(
        runner_state["train_s"] + runner_state["eval_s"],
        runner_state["eval_s"],
        agent.num_timesteps,
        log.last_return,
        runner_state.get("cpu_s") if saved else 0.0,
    )

    once: list[tuple[Any, Any, Any]] = []  # an agent that does not learn: its one evaluation

    def evaluate(step: int) -> None:
        t0 = time.perf_counter()
        try:
            if once:
                returns, lengths, bias = once[0]
            else:
                returns, lengths, bias = diagnostics.evaluate(evaluator)
                if not caps.learns:
                    once.append((returns, lengths, bias))
        except (AgentError, EnvFault) as exc:
            raise type(exc)(f"the evaluation at env step {step:,}: {exc}") from None
        clock.eval_s += time.perf_counter() - t0
        clock.last_return = float(returns.mean())
        values = bias.row() if bias is not None else ()
        log.append(step, caps.updates(agent), clock.elapsed(), clock.eval_s, returns, lengths, values, clock.cpu())
        diagnostics.evaluated(step, returns, lengths, bias)
        report(
            {
                "key": spec.key,
                "event": "eval",
                "steps": step,
                "total": budget.total_steps,
                "last_return": clock.last_return,
            }
        )
        check(step)
        if on_eval is not None:
            on_eval(step, clock.last_return, caps.updates(agent))

    def check(step: int) -> None:
        cause = caps.diagnosis(agent)
        if cause is not None:
            raise _Divergence(step, cause)

    def save_checkpoint(step: int) -> None:
        total = clock.elapsed()
        state = {
            "agent": caps.checkpointable(agent).state_dict(),
            "runner": {
                "eval_rows": len(log),
                "eval_lines": list(log.lines),  # evals.csv and 0.monitor.csv as they are now: a resume
                "monitor_text": rundir.monitor_text(run_dir),  # rewrites them from here, whatever a crash left
                "monitor_rows": rundir.monitor_rows(run_dir),
                "train_s": total - clock.eval_s,
                "eval_s": clock.eval_s,
                "cpu_s": clock.cpu(),
                "step": step,
            },
        }
        checkpoint.save(run_dir, step, state)
        if on_checkpoint is not None:
            on_checkpoint(run_dir, step)
        clock.checkpointed(step)
        report({"key": spec.key, "event": "checkpoint", "steps": step, "total": budget.total_steps})

    def on_step(step: int) -> bool:
        expected = clock.steps_seen + 1
        if step != expected:
            raise AgentError(
                f"learn() called back with step {step:,} after {clock.steps_seen:,}: the callback must see every "
                f"env step once, in order"
                + (f" (the budget is {budget.total_steps:,})" if step > budget.total_steps else "")
            )
        if step > budget.total_steps:
            raise AgentError(f"learn({budget.total_steps:,}) went on past its budget, to env step {step:,}")
        clock.steps_seen = step
        if step % budget.eval_freq == 0 and step < budget.total_steps:
            evaluate(step)
        elif step % DIAGNOSE_EVERY == 0:
            check(step)
        diagnostics.on_step(step, clock.eval_s)
        if (
            caps.checkpoints
            and clock.checkpoint_due(step, policy)
            and step < budget.total_steps
            and caps.boundary(agent)
        ):
            save_checkpoint(step)
        if clock.report_due():
            rate = clock.training_rate(step)
            report(
                {
                    "key": spec.key,
                    "event": "progress",
                    "steps": step,
                    "total": budget.total_steps,
                    "steps_per_s": rate,
                    "eta_s": clock.eta(step, rate, budget, len(log)),
                    "last_return": clock.last_return,
                }
            )
        return True

    try:
        if len(log) == 0:
            evaluate(0)
        try:
            agent.learn(budget.total_steps, on_step)
        except FloatingPointError as exc:  # an agent's own NaN check (custom_td3.TrainingDiverged)
            raise _Divergence(agent.num_timesteps, str(exc)) from exc
        except EnvFault as exc:
            raise EnvFault(f"training, after env step {clock.steps_seen:,}: {exc}") from None
        _check_budget(agent.num_timesteps, clock.steps_seen, budget.total_steps)
        evaluate(agent.num_timesteps)
        model = _saved(agent.save(run_dir / "model"), run_dir)
    finally:
        env.close()
        evaluator.close()
        diagnostics.close()
    wall = clock.elapsed()
    train_s = wall - clock.eval_s
    return {
        "env_steps": agent.num_timesteps,
        "updates": caps.updates(agent),
        "wall_s": wall,
        "train_s": train_s,
        "eval_s": clock.eval_s,
        "cpu_s": clock.cpu(),
        "steps_per_s": agent.num_timesteps / train_s,
        "final_return_mean": clock.last_return,
        "model": model.name,
        "critic": diagnostics.critic_estimate,  # what the value diagnostics' estimate is (None: no critic)
    }


def cpu_seconds() -> float:
    """CPU time of this process and its finished children so far (user + system), in seconds."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _out_of_space(exc: BaseException) -> bool:
    """Whether ``exc`` is a write that failed for want of space (or quota), directly or as the cause of a
    CheckpointError."""
    return any(isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT) for e in (exc, exc.__cause__))


def _remove_temporaries(run_dir: Path) -> None:
    """The half-written temporary files a failed write may leave (atomic writes' and checkpoints')."""
    for path in [*Path(run_dir).glob(".*"), *Path(run_dir, checkpoint.DIRNAME).glob(".*")]:
        if path.is_file() and path.name != rundir.LOCK_NAME:
            path.unlink(missing_ok=True)


def _check_budget(num_timesteps: int, seen: int, total: int) -> None:
    """AgentError unless learn() ended at exactly its budget, with the callback having seen every step:
    a run that trained more (or less) than its arm's budget is not a matched comparison."""
    if num_timesteps != total or seen != total:
        raise AgentError(
            f"learn({total:,}) returned with num_timesteps = {num_timesteps:,} and the callback having seen "
            f"{seen:,} env steps; both must equal the budget, {total:,}"
        )


def _saved(path: Any, run_dir: Path) -> Path:
    """The file ``save`` said it wrote; AgentError when it returned no path, or one that is not there."""
    if not isinstance(path, (str, Path)):
        raise AgentError(f"save() returned {path!r}, not the path of the file it wrote")
    path = Path(path)
    if not path.is_absolute() and not path.is_file():
        path = run_dir / path  # a name relative to the run directory; otherwise relative to the working one
    if not path.is_file() or path.stat().st_size == 0:
        raise AgentError(
            f"save() returned {path}, but {'that file is empty' if path.is_file() else 'no such file exists'}"
        )
    return path


def set_precision(arm: Arm, agent: Agent, precision: str) -> None:
    """Run ``agent``'s updates at ``precision``; AgentError for an agent that cannot (no set_precision)."""
    if precision == "fp32" and not arm.capabilities.precision:
        return
    if not arm.capabilities.precision:
        raise AgentError(f"{arm.name} offers no set_precision: its updates cannot run at {precision}")
    cast(Any, agent).set_precision(precision)


def start_agent(
    arm: Arm, env_id: str, config: Any, seed: int, device: str, monitor_dir: Path | None = None, append: bool = False
) -> tuple[gym.Env, Agent]:
    """A run's training env and agent, seeded as every run seeds them: the global RNGs, the env's
    action space and its first reset take ``seed``, then the arm builds its agent on that env."""
    set_random_seed(seed)
    env = make_env(env_id, monitor_dir=monitor_dir, append=append)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    return env, arm.build(env, config, seed, device)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
