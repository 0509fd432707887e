"""Where runs execute. The local executor fills this machine's cores with worker processes."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from harness import runner
from harness.progress import Display
from harness.spec import RunSpec


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def threads_per_run(jobs: int, cores: int | None = None) -> int:
    """Torch threads per run: the cores shared evenly among concurrent runs, at least one."""
    return max(1, (cores or available_cores()) // jobs)


def _work(spec: RunSpec, results_root: Path, threads: int, events: Any) -> dict[str, Any]:
    return runner.execute(spec, results_root, threads, events.put)


class LocalExecutor:
    """A pool of ``jobs`` spawned processes, each run with ``threads`` torch threads."""

    def __init__(self, jobs: int, threads: int):
        self.jobs, self.threads = jobs, threads

    def run(self, specs: Sequence[RunSpec], results_root: Path, display: Display) -> list[dict[str, Any]]:
        """Execute every spec; returns one summary per spec, in completion order."""
        ctx = mp.get_context("spawn")  # no fork: torch and rendering libraries do not survive it well
        summaries = []
        with ctx.Manager() as manager:
            events = manager.Queue()
            with ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx) as pool:
                pending = {pool.submit(_work, s, results_root, self.threads, events) for s in specs}
                while pending:
                    done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                    _drain(events, display)
                    summaries.extend(f.result() for f in done)
            _drain(events, display)
        return summaries


def _drain(events: Any, display: Display) -> None:
    while True:
        try:
            display.handle(events.get_nowait())
        except queue_mod.Empty:
            return
