"""A study's run directories as two tidy tables: ``runs`` (one row per run) and ``evals`` (one row
per run and evaluation). Reads meta.json and evals.csv only (harness.run.rundir's format)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.config import env_name
from harness.errors import UsageError
from harness.run import rundir


@dataclass
class Study:
    """A study as two tidy tables: ``runs`` (one row per run) and ``evals`` (one row per run and evaluation)."""

    name: str
    root: Path
    runs: pd.DataFrame
    evals: pd.DataFrame
    problems: list[str]

    def complete(self, env: str) -> pd.DataFrame:
        r = self.runs
        return r[(r["env"] == env) & (r["status"] == rundir.STATUS_COMPLETE)]

    def finals(self, env: str) -> dict[str, np.ndarray]:
        """Final score (mean return of the last evaluation) of every complete run, per arm."""
        done = self.complete(env)
        return {arm: g["final_return"].to_numpy(float) for arm, g in done.groupby("arm")}


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
            "eval_episodes": spec["budget"]["eval_episodes"],
            "learning_starts": spec["hyperparameters"].get("learning_starts"),
            "steps_per_s": timings.get("steps_per_s"),
            "wall_s": timings.get("wall_s"),
            "updates": meta.get("result", {}).get("updates"),
            "hp_sources": "; ".join(spec["hp_sources"]),
            "hyperparameters": json.dumps(spec["hyperparameters"], sort_keys=True),
            "commit": meta.get("git", {}).get("commit"),
            "matmul_backend": meta.get("matmul_backend", "default"),  # recorded since the backend is chosen
            "versions": json.dumps(meta.get("versions", {})),
            "dir": str(run_dir),
        }
        try:
            short = _short_row(run_dir / "evals.csv", 5 + row["eval_episodes"])
            ev = pd.read_csv(run_dir / "evals.csv")
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            problems.append(f"{where}: evals.csv unreadable ({exc}); run skipped")
            continue
        if short is not None:
            problems.append(f"{where}: evals.csv is truncated or corrupted (row {short} incomplete); run skipped")
            continue
        if not ev.empty:
            eval_frames.append(
                ev[["step", "updates", "wall_s", "return_mean"]].assign(
                    arm=row["arm"], env=row["env"], seed=row["seed"], status=row["status"]
                )
            )
            row["final_step"] = int(ev["step"].iloc[-1])
            row["final_return"] = float(ev["return_mean"].iloc[-1])
        run_rows.append(row)
    runs = pd.DataFrame(run_rows)
    evals = (
        pd.concat(eval_frames, ignore_index=True)
        if eval_frames
        else pd.DataFrame(columns=["step", "updates", "wall_s", "return_mean", "arm", "env", "seed", "status"])
    )
    return Study(study_dir.name, study_dir, runs, evals, problems)


def _short_row(path: Path, fields: int) -> int | None:
    """The 1-based number of the first data row of ``path`` without ``fields`` values, or None.

    A row cut short (a crash mid-write, a partial copy) has fewer fields; NaN returns written by
    a diverged run are whole rows and pass.
    """
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or len(rows[0]) != fields:
        raise ValueError(f"header has {len(rows[0]) if rows else 0} columns, expected {fields}")
    for number, values in enumerate(rows[1:], start=1):
        if len(values) != fields or any(v == "" for v in values):
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
