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
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
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
    opened = _open(spec, run_dir, report, threads)
    if isinstance(opened, dict):
        return opened
    meta, saved = opened
    try:
        summary = _train(spec, run_dir, report, policy, saved, on_eval, on_checkpoint)
    except passthrough as exc:
        _finish(run_dir, meta, report, spec.key, rundir.STATUS_STOPPED, error=f"{type(exc).__name__}: {exc}")
        raise
    except KeyboardInterrupt:
        _interrupted(spec, run_dir, meta, report)
        raise
    except Exception as exc:  # recorded and reported; the study goes on
        return _failed(spec, run_dir, meta, report, exc)
    return _completed(spec, run_dir, meta, report, summary)


def _open(
    spec: RunSpec, run_dir: Path, report: Reporter, threads: int
) -> dict[str, Any] | tuple[record.RunRecord, Any]:
    """A run's record as this process starts working on it (status 'running', a resume noted) and the
    state it resumes from (None: from the start); or, when there is nothing to train, its summary."""
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
    return meta, latest[1] if latest else None


def _finish(
    run_dir: Path,
    meta: record.RunRecord,
    report: Reporter,
    key: str,
    status: Status,
    error: str | None = None,
    **fields: Any,
) -> None:
    """Write the run's final (or interrupted) record."""
    meta.status, meta.error = status, error
    for name, value in fields.items():
        setattr(meta, name, value)
    meta.timings.finished = _now()
    try:
        rundir.write_record(run_dir, meta)
    except OSError as exc:  # a full disk: the status stays 'running', which the next command resumes
        report({"key": key, "event": "note", "text": f"meta.json not written ({exc.strerror or exc})"})


def _interrupted(spec: RunSpec, run_dir: Path, meta: record.RunRecord, report: Reporter) -> None:
    _finish(run_dir, meta, report, spec.key, rundir.STATUS_INTERRUPTED)
    report({"key": spec.key, "event": "failed", "error": "interrupted"})


def _failed(spec: RunSpec, run_dir: Path, meta: record.RunRecord, report: Reporter, exc: Exception) -> dict[str, Any]:
    """Record why the run did not complete (diverged, out of space: interrupted, or failed); its summary."""
    if isinstance(exc, _Divergence):
        _finish(
            run_dir, meta, report, spec.key, rundir.STATUS_DIVERGED, divergence={"step": exc.step, "cause": exc.cause}
        )
        report({"key": spec.key, "event": "failed", "error": str(exc)})
        return {"key": spec.key, "status": rundir.STATUS_DIVERGED, "error": str(exc)}
    if _out_of_space(exc):  # the run can resume once there is room: interrupted, not failed
        free = shutil.disk_usage(run_dir).free
        error = (
            f"{type(exc).__name__}: {exc}; {free / 2**20:.1f} MiB free on the disk of {run_dir}: "
            "make room, then repeat the command to resume"
        )
        _remove_temporaries(run_dir)
        _finish(run_dir, meta, report, spec.key, rundir.STATUS_INTERRUPTED, error=error)
        report({"key": spec.key, "event": "failed", "error": error})
        return {"key": spec.key, "status": rundir.STATUS_INTERRUPTED, "error": error}
    trace = "".join(traceback.format_exception(exc))
    _finish(
        run_dir, meta, report, spec.key, rundir.STATUS_FAILED, error=f"{type(exc).__name__}: {exc}", traceback=trace
    )
    report({"key": spec.key, "event": "failed", "error": meta.error})
    return {"key": spec.key, "status": rundir.STATUS_FAILED, "error": meta.error}


def _completed(
    spec: RunSpec, run_dir: Path, meta: record.RunRecord, report: Reporter, summary: dict[str, Any]
) -> dict[str, Any]:
    for name in ("wall_s", "train_s", "eval_s", "steps_per_s", "cpu_s"):
        setattr(meta.timings, name, summary[name])
    meta.result = record.Result(
        **{k: summary[k] for k in ("env_steps", "updates", "final_return_mean", "model", "critic")}
    )
    _finish(run_dir, meta, report, spec.key, rundir.STATUS_COMPLETE)
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
        self,
        offset_s: float,
        eval_s: float,
        step: int,
        last_return: float | None,
        cpu_offset_s: float | None = 0.0,
        cpu_source: Callable[[], float] | None = None,
    ):
        self.start = time.perf_counter()
        self.cpu_source = cpu_source or cpu_seconds  # a seed group's member: its share of the group's
        self.cpu_start = self.cpu_source()
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
        return None if self.cpu_offset_s is None else self.cpu_offset_s + self.cpu_source() - self.cpu_start

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
    loop = RunLoop(spec, run_dir, report, policy, saved, on_eval, on_checkpoint)
    try:
        loop.begin()
        loop.learn()
        loop.end()
    finally:
        loop.close()
    return loop.summary()


class RunLoop:
    """One run while it trains: its env and agent (built as every run builds them, resumed from
    ``saved``), the harness's evaluator and logs, its clock, and what happens at every env step.

    ``begin`` evaluates the untrained policy (a fresh run), ``learn`` hands the agent its budget with
    ``on_step`` as the callback, ``end`` checks the budget, evaluates the final policy and saves the
    model, ``close`` closes the envs. ``on_step`` is the whole per-step protocol: the callback's
    contract (every step once, in order, within the budget), evaluations on the schedule, divergence
    checks, checkpoints (at an episode boundary when the agent has them) and progress reports. A seed
    group (``execute_group``) drives several RunLoops with one group ``learn`` instead of ``learn``.
    """

    def __init__(
        self,
        spec: RunSpec,
        run_dir: Path,
        report: Reporter,
        policy: CheckpointPolicy,
        saved: dict[str, Any] | None,
        on_eval: EvalHook | None = None,
        on_checkpoint: CheckpointHook | None = None,
        cpu_source: Callable[[], float] | None = None,
    ):
        self.spec, self.run_dir, self.report, self.policy = spec, run_dir, report, policy
        self.on_eval, self.on_checkpoint = on_eval, on_checkpoint
        state: dict[str, Any] = (
            saved["runner"] if saved else {"eval_rows": 0, "monitor_rows": 0, "train_s": 0.0, "eval_s": 0.0}
        )
        rundir.truncate_monitor(run_dir, state["monitor_rows"], state.get("monitor_text"))
        self.arm = get_arm(spec.arm)
        self.caps = self.arm.capabilities  # what the agent offers beyond the required contract
        self.env, self.agent = start_agent(
            self.arm, spec.env_id, spec.config, spec.seed, spec.device, run_dir, saved is not None
        )
        set_precision(self.arm, self.agent, spec.precision)
        if saved:
            self.caps.checkpointable(self.agent).load_state_dict(saved["agent"])
        self.diagnostics = RunDiagnostics(
            spec, run_dir, self.agent, self.env, resumed_at=state.get("step") if saved else None
        )
        self.evaluator = Evaluator(
            spec.env_id, spec.budget.eval_episodes, spec.eval_seed, extend_by=self.diagnostics.extend_by
        )
        self.log = rundir.EvalLog(
            run_dir,
            spec.budget.eval_episodes,
            keep_rows=state["eval_rows"],
            values=self.diagnostics.has_critic,
            kept_lines=state.get("eval_lines"),
        )
        self.budget = spec.budget
        self.clock = _Clock(
            state["train_s"] + state["eval_s"],
            state["eval_s"],
            self.agent.num_timesteps,
            self.log.last_return,
            state.get("cpu_s") if saved else 0.0,
            cpu_source,
        )
        self.once: tuple[Any, Any, Any] | None = None  # an agent that does not learn: its one evaluation
        self.model: Path | None = None

    # ------------------------------------------------------------------ the phases
    def begin(self) -> None:
        """The evaluation at step 0, unless a resumed run has it."""
        if len(self.log) == 0:
            self.evaluate(0)

    def learn(self) -> None:
        """The agent's own ``learn`` over the budget, the callback ``on_step``."""
        try:
            self.agent.learn(self.budget.total_steps, self.on_step)
        except FloatingPointError as exc:  # an agent's own NaN check (custom_td3.TrainingDiverged)
            raise _Divergence(self.agent.num_timesteps, str(exc)) from exc
        except EnvFault as exc:
            raise EnvFault(f"training, after env step {self.clock.steps_seen:,}: {exc}") from None

    def end(self) -> None:
        """After ``learn``: the budget checked, the final evaluation, the model saved."""
        _check_budget(self.agent.num_timesteps, self.clock.steps_seen, self.budget.total_steps)
        self.evaluate(self.agent.num_timesteps)
        self.model = _saved(self.agent.save(self.run_dir / "model"), self.run_dir)

    def close(self) -> None:
        self.env.close()
        self.evaluator.close()
        self.diagnostics.close()

    def summary(self) -> dict[str, Any]:
        """What the run's record keeps of it, once ``end`` saved the model."""
        assert self.model is not None
        wall = self.clock.elapsed()
        train_s = wall - self.clock.eval_s
        return {
            "env_steps": self.agent.num_timesteps,
            "updates": self.caps.updates(self.agent),
            "wall_s": wall,
            "train_s": train_s,
            "eval_s": self.clock.eval_s,
            "cpu_s": self.clock.cpu(),
            "steps_per_s": self.agent.num_timesteps / train_s,
            "final_return_mean": self.clock.last_return,
            "model": self.model.name,
            "critic": self.diagnostics.critic_estimate,  # what the value diagnostics' estimate is (None: no critic)
        }

    # ------------------------------------------------------------------ every step
    def on_step(self, step: int) -> bool:
        """The agent's callback after env step ``step``; AgentError when the agent breaks its contract."""
        clock, budget = self.clock, self.budget
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
            self.evaluate(step)
        elif step % DIAGNOSE_EVERY == 0:
            self.check(step)
        self.diagnostics.on_step(step, clock.eval_s)
        if (
            self.caps.checkpoints
            and clock.checkpoint_due(step, self.policy)
            and step < budget.total_steps
            and self.caps.boundary(self.agent)
        ):
            self.save_checkpoint(step)
        if clock.report_due():
            rate = clock.training_rate(step)
            self.report(
                {
                    "key": self.spec.key,
                    "event": "progress",
                    "steps": step,
                    "total": budget.total_steps,
                    "steps_per_s": rate,
                    "eta_s": clock.eta(step, rate, budget, len(self.log)),
                    "last_return": clock.last_return,
                }
            )
        return True

    def evaluate(self, step: int) -> None:
        """The harness's evaluation of the deterministic policy, logged; then the divergence check."""
        caps, clock = self.caps, self.clock
        t0 = time.perf_counter()
        try:
            if self.once is not None:
                returns, lengths, bias = self.once
            else:
                returns, lengths, bias = self.diagnostics.evaluate(self.evaluator)
                if not caps.learns:
                    self.once = (returns, lengths, bias)
        except (AgentError, EnvFault) as exc:
            raise type(exc)(f"the evaluation at env step {step:,}: {exc}") from None
        clock.eval_s += time.perf_counter() - t0
        clock.last_return = float(returns.mean())
        values = bias.row() if bias is not None else ()
        self.log.append(
            step, caps.updates(self.agent), clock.elapsed(), clock.eval_s, returns, lengths, values, clock.cpu()
        )
        self.diagnostics.evaluated(step, returns, lengths, bias)
        self.report(
            {
                "key": self.spec.key,
                "event": "eval",
                "steps": step,
                "total": self.budget.total_steps,
                "last_return": clock.last_return,
            }
        )
        self.check(step)
        if self.on_eval is not None:
            self.on_eval(step, clock.last_return, caps.updates(self.agent))

    def check(self, step: int) -> None:
        """_Divergence when the agent's ``diagnose()`` names a non-finite value."""
        cause = self.caps.diagnosis(self.agent)
        if cause is not None:
            raise _Divergence(step, cause)

    def save_checkpoint(self, step: int) -> None:
        """The agent's whole state and the runner's (logs as they are now, clocks) at ``step``."""
        clock, log = self.clock, self.log
        total = clock.elapsed()
        state = {
            "agent": self.caps.checkpointable(self.agent).state_dict(),
            "runner": {
                "eval_rows": len(log),
                "eval_lines": list(log.lines),  # evals.csv and 0.monitor.csv as they are now: a resume
                "monitor_text": rundir.monitor_text(self.run_dir),  # rewrites them from here, whatever a crash left
                "monitor_rows": rundir.monitor_rows(self.run_dir),
                "train_s": total - clock.eval_s,
                "eval_s": clock.eval_s,
                "cpu_s": clock.cpu(),
                "step": step,
            },
        }
        checkpoint.save(self.run_dir, step, state)
        if self.on_checkpoint is not None:
            self.on_checkpoint(self.run_dir, step)
        clock.checkpointed(step)
        self.report({"key": self.spec.key, "event": "checkpoint", "steps": step, "total": self.budget.total_steps})


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


# ---------------------------------------------------------------------- seed groups
class _CpuShares:
    """A seed group's CPU time, split evenly among the members running while it was spent: member k's
    clock reads ``meter(k)``. ``only(k)`` charges what runs inside it to member k alone."""

    def __init__(self, members: int):
        self.last = cpu_seconds()
        self.spent = [0.0] * members
        self.running = set(range(members))

    def tick(self) -> None:
        now = cpu_seconds()
        if self.running:
            share = (now - self.last) / len(self.running)
            for k in self.running:
                self.spent[k] += share
        self.last = now

    def meter(self, k: int) -> Callable[[], float]:
        def read() -> float:
            self.tick()
            return self.spent[k]

        return read

    def leave(self, k: int) -> None:
        self.tick()
        self.running.discard(k)

    @contextmanager
    def only(self, k: int) -> Iterator[None]:
        self.tick()
        running, self.running = self.running, {k}
        try:
            yield
        finally:
            self.tick()
            self.running = running


def execute_group(
    specs: list[RunSpec],
    results_root: Path,
    threads: int = 1,
    report: Reporter | None = None,
    policy: CheckpointPolicy = CheckpointPolicy(),
    on_checkpoint: CheckpointHook | None = None,
) -> list[dict[str, Any]]:
    """Train (or resume) runs that differ only in seed as one seed group: one process, one group
    ``learn`` of their agents (the arm's ``group_of``), each member its own run directory, record,
    evaluations and checkpoints exactly as when it runs alone. One summary per spec, in order.

    Members already final are skipped, members held by another process are left alone ('busy'); a
    member that fails or diverges is recorded so and leaves the group while the others go on. With one
    member left to run, this is ``execute``.
    """
    report = report or (lambda event: None)
    torch.set_num_threads(threads)
    summaries: dict[str, dict[str, Any]] = {}
    with ExitStack() as locks:
        opened: list[tuple[RunSpec, Path, record.RunRecord, Any]] = []
        for spec in specs:
            run_dir = spec.run_dir(results_root)
            try:
                locks.enter_context(RunLock(run_dir))
            except Locked as exc:
                report({"key": spec.key, "event": "busy", "reason": str(exc)})
                summaries[spec.key] = {"key": spec.key, "status": Status.BUSY, "error": str(exc)}
                continue
            got = _open(spec, run_dir, report, threads)
            if isinstance(got, dict):
                summaries[spec.key] = got
            else:
                opened.append((spec, run_dir, *got))
        if opened:
            summaries.update(_run_group(opened, report, policy, on_checkpoint))
    return [summaries[s.key] for s in specs]


def _run_group(
    opened: list[tuple[RunSpec, Path, record.RunRecord, Any]],
    report: Reporter,
    policy: CheckpointPolicy,
    on_checkpoint: CheckpointHook | None,
) -> dict[str, dict[str, Any]]:
    keys = [spec.key for spec, *_ in opened]
    for _, run_dir, meta, saved in opened:  # the group is an execution choice: recorded, not identity
        if saved is None:
            meta.seed_group = keys
        else:
            meta.resumes[-1]["seed_group"] = keys
        rundir.write_record(run_dir, meta)
    matmul.check_accuracy(opened[0][0].matmul_backend)
    matmul.apply(opened[0][0].matmul_backend)
    shares = _CpuShares(len(opened))
    outcome: dict[int, Exception] = {}  # member -> why it did not complete
    loops: dict[int, RunLoop] = {}
    try:
        for i, (spec, run_dir, _, saved) in enumerate(opened):
            try:
                with shares.only(i):
                    loops[i] = RunLoop(spec, run_dir, report, policy, saved, None, on_checkpoint, shares.meter(i))
                    loops[i].begin()
            except Exception as exc:
                outcome[i] = exc
                shares.leave(i)
        members = [i for i in range(len(opened)) if i not in outcome]
        if members:
            _learn_together(loops, members, outcome, shares)
        for i in members:
            if i not in outcome:
                try:
                    with shares.only(i):
                        loops[i].end()
                except Exception as exc:
                    outcome[i] = exc
    except KeyboardInterrupt:
        for i, (spec, run_dir, meta, _) in enumerate(opened):
            if i in outcome:
                _failed(spec, run_dir, meta, report, outcome[i])
            else:
                _interrupted(spec, run_dir, meta, report)
        raise
    finally:
        for loop in loops.values():
            loop.close()
    done = {}
    for i, (spec, run_dir, meta, _) in enumerate(opened):
        if i in outcome:
            done[spec.key] = _failed(spec, run_dir, meta, report, outcome[i])
        else:
            done[spec.key] = _completed(spec, run_dir, meta, report, loops[i].summary())
    return done


def _learn_together(
    loops: dict[int, RunLoop], members: list[int], outcome: dict[int, Exception], shares: _CpuShares
) -> None:
    """One group ``learn`` of the members' agents; each member's steps go through its own ``on_step``.
    A member whose ``on_step`` raises is stopped (its callback returns False); one the group reports
    diverged (``group.diverged``, position -> cause) is recorded as diverged."""
    first = loops[members[0]]
    group = first.caps.grouped([loops[i].agent for i in members])
    diverged: dict[int, str] = getattr(group, "diverged", {})
    seen: set[int] = set()
    total = first.budget.total_steps

    def note_diverged() -> None:
        for k in set(diverged) - seen:
            seen.add(k)
            i = members[k]
            outcome[i] = _Divergence(loops[i].agent.num_timesteps, diverged[k])
            shares.leave(i)

    def on_step(k: int, step: int) -> bool:
        if diverged:
            note_diverged()
        i = members[k]
        if i in outcome:
            return False
        try:
            loops[i].on_step(step)
        except Exception as exc:
            outcome[i] = exc
            shares.leave(i)
            return False
        if step >= total:
            shares.leave(i)
        return True

    try:
        group.learn(total, on_step)
    except Exception as exc:  # the whole group's learn failed: every member still training shares it
        if isinstance(exc, FloatingPointError):
            exc = _Divergence(max(loops[i].agent.num_timesteps for i in members), str(exc))
        elif isinstance(exc, EnvFault):
            exc = EnvFault(f"training the seed group: {exc}")
        for i in members:
            if i not in outcome:
                outcome[i] = exc
    note_diverged()
