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

from harness.config import HYPERPARAMS_DIR, env_name
from harness.config import tuned as tuned_file
from harness.config.seeds import EVAL_SEED
from harness.errors import UsageError
from harness.run import rundir
from harness.run.record import RESULTS, RunRecord, Status
from harness.run.results import Final, final_score

#: Statuses whose runs are results of their arm and enter every statistic.
RESULT_STATUSES = tuple(sorted(RESULTS))


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
        record = rundir.read_record(run_dir)
        if record is None or not _has_spec(record.spec):
            problems.append(f"{where}: meta.json unreadable or incomplete; run skipped")
            continue
        spec, timings = record.spec, record.timings
        row = {
            "arm": spec["arm"],
            "env": env_name(spec["env_id"]),
            "seed": spec["seed"],
            "status": str(record.status),
            "cause": _cause(record),
            "total_steps": spec["budget"]["total_steps"],
            "budget": spec["budget"]["preset"],
            "full_steps": spec["budget"].get("full_steps"),
            "eval_episodes": spec["budget"]["eval_episodes"],
            "learning_starts": spec["hyperparameters"].get("learning_starts"),
            "steps_per_s": timings.steps_per_s,
            "wall_s": timings.wall_s,
            "cpu_s": timings.cpu_s,  # None: not recorded (runs made before CPU time was)
            "finished": timings.finished,
            "tuning_overlap": record.tuning_overlap or _overlap_of_older(record),  # HP=tuned on its own seeds/episodes
            "threads": record.threads,
            "algorithm": json.dumps(record.algorithm) if record.algorithm else None,  # None: not recorded
            "updates": record.result.updates if record.result else None,
            "critic": record.result.critic if record.result else None,  # what its value estimate is; None: no critic
            "hp_sources": "; ".join(spec["hp_sources"]),
            "hyperparameters": json.dumps(spec["hyperparameters"], sort_keys=True),
            "commit": record.git.get("commit"),
            "matmul_backend": record.matmul_backend,
            "precision": record.precision,
            "versions": json.dumps(record.versions),
            "dir": str(run_dir),
        }
        try:
            short = _short_row(run_dir / "evals.csv", row["eval_episodes"])
            ev = pd.read_csv(run_dir / "evals.csv")
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            problems.append(f"{where}: evals.csv unreadable ({exc}); run skipped")
            continue
        if short is not None:
            problems.append(f"{where}: evals.csv is truncated or corrupted (row {short} incomplete); run skipped")
            continue
        returns = ev.filter(regex=r"^return_").to_numpy(float) if not ev.empty else np.zeros((0, 0))
        if record.status != Status.DIVERGED and not np.isfinite(returns).all():
            bad = ev.loc[~np.isfinite(returns).all(axis=1)].iloc[0]
            problems.append(
                f"{where}: evals.csv has a non-finite score ({bad['return_mean']} at step {int(bad['step'])}) in a run "
                f"recorded {record.status}; run left out of every statistic"
            )
            continue
        if not ev.empty:
            optional = (*rundir.VALUE_COLUMNS, rundir.CPU_COLUMN)
            ev = ev[["step", "updates", "wall_s", "return_mean", *(c for c in optional if c in ev)]]
            final = final_score(record.status, ev["step"].to_numpy(), ev["return_mean"].to_numpy(float), spec["env_id"])
            row["final_step"] = int(ev["step"].iloc[-1])
            row["final_return"], row["score_from"] = final.score, final.score_from
            if record.status == Status.DIVERGED:
                ev = _held_after_divergence(ev, record, row, final)
            eval_frames.append(ev.assign(arm=row["arm"], env=row["env"], seed=row["seed"], status=row["status"]))
        run_rows.append(row)
    runs = pd.DataFrame(run_rows)
    evals = (
        pd.concat(eval_frames, ignore_index=True)
        if eval_frames
        else pd.DataFrame(columns=["step", "updates", "wall_s", "return_mean", "arm", "env", "seed", "status"])
    )
    return Study(study_dir.name, study_dir, runs, evals, problems)


def _overlap_of_older(record: RunRecord) -> str | None:
    """For a run recorded before runs recorded it: whether the tuned values it used (a hyperparameter
    source ``<file> (tuned: ...)``) were selected on its seed or evaluation episodes, from the file's
    provenance as it is now; None without tuned values or a readable file."""
    for source in record.spec.get("hp_sources", []):
        path, sep, _ = str(source).partition(" (tuned:")
        file = Path(path) if Path(path).is_absolute() else HYPERPARAMS_DIR.parent / path
        if sep and file.is_file():
            try:
                found = tuned_file.load(file)
            except UsageError:
                return None
            spec = record.spec
            return found.overlap([spec["seed"]], spec.get("eval_seed", EVAL_SEED), spec["budget"]["eval_episodes"])
    return None


def _has_spec(spec: dict) -> bool:
    return all(k in spec for k in ("arm", "env_id", "seed", "budget", "hyperparameters", "hp_sources"))


def _held_after_divergence(ev: pd.DataFrame, record: RunRecord, row: dict, final: Final) -> pd.DataFrame:
    """A diverged run's evaluations up to its last finite one, then its score (``final``: that evaluation's,
    or the floor) held at every later step of the budget's schedule (wall_s NaN: no time was spent there)."""
    finite = ev[np.isfinite(ev["return_mean"])]
    budget = record.spec["budget"]
    schedule = [*range(0, budget["total_steps"], budget["eval_freq"]), budget["total_steps"]]
    last = final.step if final.step is not None else -1
    held = pd.DataFrame({"step": [s for s in schedule if s > last], "updates": np.nan, "wall_s": np.nan})
    held["return_mean"] = final.score
    row["final_step"] = budget["total_steps"]
    return pd.concat([finite, held], ignore_index=True)


def _short_row(path: Path, episodes: int) -> int | None:
    """The 1-based number of the first data row of ``path`` that is cut short or corrupted, or None.

    The header must be evals.csv's (harness.run.rundir.EvalLog): step, updates, wall_s, eval_s,
    return_mean, ``episodes`` returns, then optionally the value columns, then optionally cpu_s. A row
    must have every column; all but updates, the value columns (all empty, or all filled) and cpu_s
    must be filled. A row cut short (a crash mid-write, a partial copy) fails; NaN returns written by a
    diverged run are whole rows and pass, and so are older rows whose later columns are empty.
    """
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    base = ["step", "updates", "wall_s", "eval_s", "return_mean", *(f"return_{i}" for i in range(episodes))]
    header = rows[0] if rows else []
    rest = header[len(base) :]
    values = list(rundir.VALUE_COLUMNS) if rest[: len(rundir.VALUE_COLUMNS)] == list(rundir.VALUE_COLUMNS) else []
    if header[: len(base)] != base or rest[len(values) :] not in ([], [rundir.CPU_COLUMN]):
        raise ValueError(f"header has columns {header}, not evals.csv's for {episodes} episodes")
    required = [i for i, name in enumerate(header) if name in base and name != "updates"]
    value_at = [header.index(v) for v in values]
    for number, cells in enumerate(rows[1:], start=1):
        if len(cells) != len(header) or any(cells[i] == "" for i in required):
            return number
        filled = sum(cells[i] != "" for i in value_at)
        if 0 < filled < len(value_at):
            return number
    return None


def _cause(record: RunRecord) -> str:
    """'complete', 'diverged at step N: <cause>', 'failed: <error>', 'running' ..."""
    if record.status == Status.DIVERGED and record.divergence:
        return f"diverged at step {record.divergence['step']:,}: {record.divergence['cause']}"
    if record.error:
        return f"{record.status}: {record.error}"
    return str(record.status)
