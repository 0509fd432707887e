"""Runs as processes on this machine: a pool of spawned workers filling the cores, one torch
thread each by default (the best total throughput on CPU). ``Executor`` is what every backend
offers; the Ray one (harness.execution.ray) runs the same runs as tasks on a cluster."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
import signal
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Protocol

from harness.execution.progress import Display
from harness.run import runner
from harness.run.record import Status
from harness.run.spec import RunSpec

#: One run, or the runs of one seed group (harness.study.plan.group_seeds).
Unit = RunSpec | tuple[RunSpec, ...]


class Executor(Protocol):
    """Runs units (a run, or a seed group's runs) to completion, reporting progress to a display;
    one summary dict per run."""

    def run(self, specs: Sequence[Unit], results_root: Path, display: Display) -> list[dict[str, Any]]: ...


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def threads_per_run(jobs: int, cores: int | None = None) -> int:
    """Torch threads per run: the cores shared evenly among concurrent runs, at least one."""
    return max(1, (cores or available_cores()) // jobs)


_active_run = False
_stopping = False
STOP_GRACE_S = 30.0


def _init_worker() -> None:
    # A terminal's Ctrl-C reaches every process in the group; only the driver acts on it, and
    # stops workers with SIGTERM, which interrupts a run in progress (it records 'interrupted').
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: Any) -> None:
    global _stopping
    _stopping = True  # runs already handed to this worker must not start after the stop
    if _active_run:
        raise KeyboardInterrupt
    os._exit(0)


def _work(
    unit: Unit, results_root: Path, threads: int, events: Any, policy: runner.CheckpointPolicy
) -> list[dict[str, Any]]:
    global _active_run
    specs = unit if isinstance(unit, tuple) else (unit,)
    if _stopping:
        return [{"key": spec.key, "status": Status.CANCELLED} for spec in specs]
    _active_run = True
    try:
        if isinstance(unit, tuple):
            return runner.execute_group(list(unit), results_root, threads, events.put, policy)
        return [runner.execute(unit, results_root, threads, events.put, policy)]
    finally:
        _active_run = False


class LocalExecutor:
    """A pool of ``jobs`` spawned processes, each run with ``threads`` torch threads."""

    def __init__(self, jobs: int, threads: int, policy: runner.CheckpointPolicy = runner.CheckpointPolicy()):
        self.jobs, self.threads, self.policy = jobs, threads, policy

    def run(self, specs: Sequence[Unit], results_root: Path, display: Display) -> list[dict[str, Any]]:
        """Execute every unit (a seed group in one worker); returns one summary per run, in completion order."""
        ctx = mp.get_context("spawn")  # no fork: torch and rendering libraries do not survive it well
        summaries: list[dict[str, Any]] = []
        with ctx.Manager() as manager:
            events = manager.Queue()
            pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx, initializer=_init_worker)
            try:
                pending = {pool.submit(_work, s, results_root, self.threads, events, self.policy) for s in specs}
                while pending:
                    done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                    _drain(events, display)
                    summaries.extend(summary for f in done for summary in f.result())
            except KeyboardInterrupt:
                display.line("interrupted: stopping runs in progress (their directories record 'interrupted')")
                _stop(pool)
                _drain(events, display)
                raise
            pool.shutdown()
            _drain(events, display)
        return summaries


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel queued runs, SIGTERM the workers, and kill any that outlive STOP_GRACE_S."""
    workers = list((pool._processes or {}).values())  # the executor exposes no public handle on them
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in workers:
        if proc.is_alive():
            proc.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for proc in workers:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()


def _drain(events: Any, display: Display) -> None:
    while True:
        try:
            display.handle(events.get_nowait())
        except queue_mod.Empty:
            return
