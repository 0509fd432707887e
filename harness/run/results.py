"""What a run's result is: its final score, by the one rule every reader applies.

A complete run scores the mean return of its last evaluation. A run that diverged is a result of its
arm too: it scores its last finite evaluation (the policy it had reached), or the env's random-policy
score when not even the first one is finite. Runs that failed, were interrupted or are still running
are not results. The report (harness.report.load) and the sequential study's looks read runs through
here, so they cannot disagree about a score.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.config import reference
from harness.run import rundir
from harness.run.record import RESULTS, RunRecord, Status


@dataclass(frozen=True)
class Final:
    """A result's final score, where it comes from, and the step of the evaluation it is (None: the floor)."""

    score: float
    score_from: str
    step: int | None


def final_score(status: Status, steps: np.ndarray, returns: np.ndarray, env_id: str) -> Final:
    """The final score of a run with ``status`` whose evaluations at ``steps`` (n,) had mean returns
    ``returns`` (n,), by the module's rule (for a diverged run: the last finite one, else the floor)."""
    if status != Status.DIVERGED:
        return Final(float(returns[-1]), "last evaluation", int(steps[-1]))
    finite = np.flatnonzero(np.isfinite(returns))
    if finite.size == 0:
        floor = reference.lookup(env_id).random
        return Final(
            float(floor) if floor is not None else float("nan"),
            "the env's random-policy score (no finite evaluation)",
            None,
        )
    last = int(finite[-1])
    return Final(float(returns[last]), f"last finite evaluation (step {int(steps[last]):,})", int(steps[last]))


def run_result(run_dir: Path) -> tuple[RunRecord, Final] | None:
    """(record, final score) of the run in ``run_dir`` when it is a result of its arm; None when it is not
    (another status) or its files cannot be read."""
    record = rundir.read_record(run_dir)
    if record is None or record.status not in RESULTS:
        return None
    try:
        with open(Path(run_dir) / "evals.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        steps = np.array([int(r["step"]) for r in rows])
        returns = np.array([float(r["return_mean"]) for r in rows])
    except (OSError, KeyError, ValueError):
        return None
    if steps.size == 0:
        return None
    return record, final_score(record.status, steps, returns, record.spec["env_id"])
