"""A plan's runs handed to an executor: changed runs moved aside first, the longest started first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.execution.local import Executor, LocalExecutor
from harness.execution.progress import Display
from harness.run import runner
from harness.study.plan import Plan


def run_plan(
    plan: Plan,
    results_root: Path,
    jobs: int,
    threads: int,
    display: Display,
    policy: runner.CheckpointPolicy = runner.CheckpointPolicy(),
    executor: Executor | None = None,
) -> list[dict[str, Any]]:
    """Run the plan's runs (a seed group as one unit) on ``executor`` (default: a local pool of ``jobs`` processes); one summary per run."""
    for r in plan.to_run:
        if plan.actions[r.key] == "supersede":
            moved = runner.supersede(r, results_root)
            display.line(f"moved {r.key} (different spec) to {moved}")
    # Longest first, as the estimate assumes: the last runs to finish are then the short ones.
    order = sorted(plan.units, key=lambda u: -plan.unit_estimate(u))
    with display:
        return (executor or LocalExecutor(jobs, threads, policy)).run(order, results_root, display)
