"""A study's run directories as two tidy tables: ``runs`` (one row per run) and ``evals`` (one row
per run and evaluation). Reads meta.json and evals.csv only (harness.run.rundir's format).

**What counts as a result.** A run that completed and a run that *diverged* are both results of
their arm: a diverged run enters every statistic. Its score is its last finite evaluation before
it diverged (the policy it had reached; the evaluation at step 0 always exists), or the env's
random-policy score when not even that is finite; from the step it diverged at, its learning
curve holds that score to the end of the budget. Runs that stopped for reasons outside the
algorithm (failed to write, interrupted, still running) are not results: they are listed with
their cause and stay out.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.config import env_name, reference
from harness.errors import UsageError
from harness.run import rundir

#: Statuses whose runs are results of their arm and enter every statistic.
RESULT_STATUSES = (rundir.STATUS_COMPLETE, rundir.STATUS_DIVERGED)


@dataclass
class Study:
    """A study as two tidy tables: ``runs`` (one row per run) and ``evals`` (one row per run and evaluation)."""

    name: str
    root: Path
    runs: pd.DataFrame
    evals: pd.DataFrame
    problems: list[str]

    def results(self, env: str) -> pd.DataFrame:
        """The runs on ``env`` that are results of their arm: complete and diverged ones."""
        r = self.runs
        return r[(r["env"] == env) & r["status"].isin(RESULT_STATUSES)]

    def finals(self, env: str) -> dict[str, np.ndarray]:
        """Final score of every run that is a result (complete or diverged), per arm."""
        return {arm: g["final_return"].to_numpy(float) for arm, g in self.results(env).groupby("arm")}


def load_study(study_dir: Path) -> Study:
    """Read every ``<arm>/<env>_<seed>/`` run under ``study_dir``. Unreadable runs are named in ``problems``."""
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise UsageError(f"no study at {study_dir}")
    run_rows, eval_frames, problems = [], [], []
    for meta_path in sorted(study_dir.glob("*/*/meta.json")):
        run_dir = meta_path.parent
        where = run_dir.relative_to(study_dir)
        meta = rundir.read_meta(run_dir)
        if meta is None or "spec" not in meta:
            problems.append(f"{where}: meta.json unreadable or incomplete; run skipped")
            continue
        spec, timings = meta["spec"], meta.get("timings", {})
        row = {
            "arm": spec["arm"],
            "env": env_name(spec["env_id"]),
            "seed": spec["seed"],
            "status": meta["status"],
            "cause": _cause(meta),
            "total_steps": spec["budget"]["total_steps"],
            "budget": spec["budget"]["preset"],
            "full_steps": spec["budget"].get("full_steps"),
            "eval_episodes": spec["budget"]["eval_episodes"],
            "learning_starts": spec["hyperparameters"].get("learning_starts"),
            "steps_per_s": timings.get("steps_per_s"),
            "wall_s": timings.get("wall_s"),
            "updates": meta.get("result", {}).get("updates"),
            "critic": meta.get("result", {}).get("critic"),  # what its value estimate is; None: no critic
            "hp_sources": "; ".join(spec["hp_sources"]),
            "hyperparameters": json.dumps(spec["hyperparameters"], sort_keys=True),
            "commit": meta.get("git", {}).get("commit"),
            "matmul_backend": meta.get("matmul_backend", "default"),  # recorded since the backend is chosen
            "versions": json.dumps(meta.get("versions", {})),
            "dir": str(run_dir),
        }
        try:
            short = _short_row(run_dir / "evals.csv", 5 + row["eval_episodes"], len(rundir.VALUE_COLUMNS))
            ev = pd.read_csv(run_dir / "evals.csv")
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            problems.append(f"{where}: evals.csv unreadable ({exc}); run skipped")
            continue
        if short is not None:
            problems.append(f"{where}: evals.csv is truncated or corrupted (row {short} incomplete); run skipped")
            continue
        returns = ev.filter(regex=r"^return_").to_numpy(float) if not ev.empty else np.zeros((0, 0))
        if meta["status"] != rundir.STATUS_DIVERGED and not np.isfinite(returns).all():
            bad = ev.loc[~np.isfinite(returns).all(axis=1)].iloc[0]
            problems.append(
                f"{where}: evals.csv has a non-finite score ({bad['return_mean']} at step {int(bad['step'])}) in a run "
                f"recorded {meta['status']}; run left out of every statistic"
            )
            continue
        if not ev.empty:
            ev = ev[["step", "updates", "wall_s", "return_mean", *(c for c in rundir.VALUE_COLUMNS if c in ev)]]
            row["final_step"] = int(ev["step"].iloc[-1])
            row["final_return"] = float(ev["return_mean"].iloc[-1])
            row["score_from"] = "last evaluation"
            if meta["status"] == rundir.STATUS_DIVERGED:
                ev = _held_after_divergence(ev, meta, row)
            eval_frames.append(ev.assign(arm=row["arm"], env=row["env"], seed=row["seed"], status=row["status"]))
        run_rows.append(row)
    runs = pd.DataFrame(run_rows)
    evals = (
        pd.concat(eval_frames, ignore_index=True)
        if eval_frames
        else pd.DataFrame(columns=["step", "updates", "wall_s", "return_mean", "arm", "env", "seed", "status"])
    )
    return Study(study_dir.name, study_dir, runs, evals, problems)


def _held_after_divergence(ev: pd.DataFrame, meta: dict, row: dict) -> pd.DataFrame:
    """A diverged run's evaluations up to its last finite one, then that score held at every later
    step of the budget's schedule (wall_s NaN: no time was spent there). Sets the run's score."""
    finite = ev[np.isfinite(ev["return_mean"])]
    if finite.empty:
        floor = reference.lookup(meta["spec"]["env_id"]).random
        row["final_return"] = float(floor) if floor is not None else float("nan")
        row["score_from"] = "the env's random-policy score (no finite evaluation)"
    else:
        row["final_return"] = float(finite["return_mean"].iloc[-1])
        row["score_from"] = f"last finite evaluation (step {int(finite['step'].iloc[-1]):,})"
    budget = meta["spec"]["budget"]
    schedule = [*range(0, budget["total_steps"], budget["eval_freq"]), budget["total_steps"]]
    last = int(finite["step"].iloc[-1]) if not finite.empty else -1
    held = pd.DataFrame({"step": [s for s in schedule if s > last], "updates": np.nan, "wall_s": np.nan})
    held["return_mean"] = row["final_return"]
    row["final_step"] = budget["total_steps"]
    return pd.concat([finite, held], ignore_index=True)


def _short_row(path: Path, fields: int, optional: int = 0) -> int | None:
    """The 1-based number of the first data row of ``path`` without as many values as its header, or None;
    the header must have ``fields`` columns, or ``fields + optional`` (an arm's value diagnostics).

    A row cut short (a crash mid-write, a partial copy) has fewer fields; NaN returns written by
    a diverged run are whole rows and pass, and so are rows whose value columns are all empty.
    """
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or len(rows[0]) not in (fields, fields + optional):
        raise ValueError(f"header has {len(rows[0]) if rows else 0} columns, expected {fields}")
    base, fields = fields, len(rows[0])
    for number, values in enumerate(rows[1:], start=1):
        extra = values[base:]
        # the value columns are all empty in rows written before a resumed run had them (rundir.EvalLog)
        # ... and the updates column is empty for an agent that does not count its updates (num_updates)
        required = values[:1] + values[2:base]
        if len(values) != fields or any(v == "" for v in required) or 0 < extra.count("") < len(extra):
            return number
    return None


def _cause(meta: dict) -> str:
    """'complete', 'diverged at step N: <cause>', 'failed: <error>', 'running' ..."""
    status = meta.get("status", "unknown")
    if status == rundir.STATUS_DIVERGED and "divergence" in meta:
        return f"diverged at step {meta['divergence']['step']:,}: {meta['divergence']['cause']}"
    if meta.get("error"):
        return f"{status}: {meta['error']}"
    return status
