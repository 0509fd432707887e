"""The study report: results tree -> tidy DataFrames -> table and learning curves -> report.md."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from harness import results, stats  # noqa: E402
from harness.agents import ARMS  # noqa: E402
from harness.errors import UsageError  # noqa: E402
from harness.progress import fmt_duration  # noqa: E402


@dataclass
class Study:
    """A study as two tidy tables: ``runs`` (one row per run) and ``evals`` (one row per run and evaluation)."""

    name: str
    root: Path
    runs: pd.DataFrame
    evals: pd.DataFrame
    problems: list[str]


def arm_colors(arms: list[str]) -> dict[str, tuple[float, float, float]]:
    """One color per arm, fixed by the registry's order so every figure agrees."""
    order = list(ARMS) + sorted(a for a in arms if a not in ARMS)
    palette = sns.color_palette("colorblind", n_colors=max(10, len(order)))
    return {a: palette[order.index(a)] for a in arms}


def load_study(study_dir: Path) -> Study:
    """Read every ``<arm>/<env>_<seed>/`` run under ``study_dir``. Unreadable runs are named in ``problems``."""
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise UsageError(f"no study at {study_dir}")
    run_rows, eval_frames, problems = [], [], []
    for meta_path in sorted(study_dir.glob("*/*/meta.json")):
        run_dir = meta_path.parent
        meta = results.read_meta(run_dir)
        if meta is None or "spec" not in meta:
            problems.append(f"{run_dir.relative_to(study_dir)}: meta.json unreadable or incomplete; run skipped")
            continue
        spec, timings = meta["spec"], meta.get("timings", {})
        row = {"arm": spec["arm"], "env": spec["env_id"].rpartition(":")[2], "seed": spec["seed"],
               "status": meta["status"], "total_steps": spec["budget"]["total_steps"],
               "budget": spec["budget"]["preset"], "eval_episodes": spec["budget"]["eval_episodes"],
               "learning_starts": spec["hyperparameters"].get("learning_starts"),
               "steps_per_s": timings.get("steps_per_s"), "wall_s": timings.get("wall_s"),
               "updates": meta.get("result", {}).get("updates"), "hp_sources": "; ".join(spec["hp_sources"]),
               "hyperparameters": json.dumps(spec["hyperparameters"], sort_keys=True),
               "commit": meta.get("git", {}).get("commit"), "dir": str(run_dir), "cause": _cause(meta)}
        try:
            short = _short_row(run_dir / "evals.csv", 5 + row["eval_episodes"])
            ev = pd.read_csv(run_dir / "evals.csv")
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            problems.append(f"{run_dir.relative_to(study_dir)}: evals.csv unreadable ({exc}); run skipped")
            continue
        if short is not None:
            problems.append(f"{run_dir.relative_to(study_dir)}: evals.csv is truncated or corrupted "
                            f"(row {short} incomplete); run skipped")
            continue
        if not ev.empty:
            eval_frames.append(ev[["step", "updates", "wall_s", "return_mean"]].assign(
                arm=row["arm"], env=row["env"], seed=row["seed"], status=row["status"]))
            row["final_step"] = int(ev["step"].iloc[-1])
            row["final_return"] = float(ev["return_mean"].iloc[-1])
        run_rows.append(row)
    runs = pd.DataFrame(run_rows)
    evals = pd.concat(eval_frames, ignore_index=True) if eval_frames else pd.DataFrame(
        columns=["step", "updates", "wall_s", "return_mean", "arm", "env", "seed", "status"])
    return Study(study_dir.name, study_dir, runs, evals, problems)


def summary_table(runs: pd.DataFrame, reps: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Per env and arm, over complete runs: final return mean with 95% bootstrap CI, IQM, cost."""
    rows = []
    for (env, arm), group in runs.groupby(["env", "arm"], sort=True):
        done = group[group["status"] == results.STATUS_COMPLETE]
        scores = done["final_return"].to_numpy(dtype=float)
        lo, hi = stats.bootstrap_ci(scores, reps=reps, seed=seed)
        rows.append({
            "env": env, "arm": arm, "seeds": f"{len(done)}/{len(group)}",
            "final return (mean)": scores.mean() if scores.size else np.nan,
            "95% CI": f"[{lo:.1f}, {hi:.1f}]" if scores.size else "-",
            "IQM": stats.iqm(scores) if scores.size else np.nan,
            "env steps/s": done["steps_per_s"].mean() if len(done) else np.nan,
            "wall-clock/run": fmt_duration(done["wall_s"].mean()) if len(done) else "-",
        })
    return pd.DataFrame(rows)


def plot_learning_curves(study: Study, env: str, path: Path, seed: int = 0) -> Path:
    """Return vs env steps for one env: mean over complete seeds per arm with a 95% bootstrap band."""
    data = study.evals[(study.evals["env"] == env) & (study.evals["status"] == results.STATUS_COMPLETE)]
    runs = study.runs[(study.runs["env"] == env) & (study.runs["status"] == results.STATUS_COMPLETE)]
    sns.set_theme(style="whitegrid", context="notebook")
    fig, ax = plt.subplots(figsize=(8, 5))
    arms = sorted(data["arm"].unique(), key=lambda a: list(ARMS).index(a) if a in ARMS else len(ARMS))
    sns.lineplot(data=data, x="step", y="return_mean", hue="arm", hue_order=arms, palette=arm_colors(arms),
                 errorbar=("ci", 95), n_boot=2000, seed=seed, ax=ax)
    starts = runs["learning_starts"].dropna().unique()
    if len(starts) == 1 and 0 < starts[0]:
        ax.axvline(starts[0], color="0.4", linestyle=":", linewidth=1)
        ax.annotate("learning starts", (starts[0], 1), xycoords=("data", "axes fraction"), xytext=(4, -12),
                    textcoords="offset points", fontsize=8, color="0.3")
    seeds = runs.groupby("arm")["seed"].nunique()
    budget = runs["budget"].iloc[0] if len(runs) else "?"
    total = int(runs["total_steps"].iloc[0]) if len(runs) else 0
    ax.set_title(f"{env}: {budget} budget, {total:,} env steps per run, "
                 f"{int(seeds.min()) if len(seeds) else 0} seeds per arm")
    episodes = int(runs["eval_episodes"].iloc[0]) if len(runs) else 0
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"evaluation return (mean of {episodes} episodes)")
    ax.legend(title="arm (mean, 95% CI over seeds)", loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def write_report(study_dir: Path, reps: int = 10_000) -> Path:
    """Write ``report.md`` and one ``curves_<env>.png`` per env into the study directory."""
    study = load_study(study_dir)
    lines = [f"# Study `{study.name}`", "",
             f"Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} from `{study.root}`.", ""]
    if study.runs.empty:
        lines += ["No runs found.", ""]
    else:
        lines += _overview(study)
        table = summary_table(study.runs, reps=reps)
        for env in sorted(study.runs["env"].unique()):
            lines += [f"## {env}", ""]
            sub = table[table["env"] == env].drop(columns="env")
            lines += [sub.to_markdown(index=False, floatfmt=".1f"), ""]
            complete = (study.evals["env"] == env) & (study.evals["status"] == results.STATUS_COMPLETE)
            if complete.any():
                png = plot_learning_curves(study, env, study.root / f"curves_{env}.png")
                lines += [f"![learning curves for {env}]({png.name})", ""]
        lines += _unfinished(study) + _hyperparameters(study)
    if study.problems:
        lines += ["## Problems reading results", ""] + [f"- {p}" for p in study.problems] + [""]
    path = study.root / "report.md"
    results.atomic_write(path, "\n".join(lines))
    return path


def _overview(study: Study) -> list[str]:
    r = study.runs
    return [
        f"- runs: {len(r)} ({(r['status'] == results.STATUS_COMPLETE).sum()} complete); "
        f"arms: {', '.join(sorted(r['arm'].unique()))}; seeds: {', '.join(map(str, sorted(r['seed'].unique())))}",
        f"- budget: {', '.join(sorted(r['budget'].unique()))}; final return is the mean of the last "
        "evaluation's episodes per seed; CI is a 95% percentile bootstrap over seeds; IQM is the 25%-trimmed mean over seeds",
        f"- commits: {', '.join(sorted({str(c)[:10] for c in r['commit']}))}",
        "",
    ]


def _unfinished(study: Study) -> list[str]:
    bad = study.runs[study.runs["status"] != results.STATUS_COMPLETE]
    if bad.empty:
        return []
    lines = ["## Runs not included (not complete)", ""]
    lines += [f"- {row.arm}/{row.env}_{row.seed}: {row.cause}" for row in bad.itertuples()]
    return lines + [""]


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
    if status == results.STATUS_DIVERGED and "divergence" in meta:
        return f"diverged at step {meta['divergence']['step']:,}: {meta['divergence']['cause']}"
    if meta.get("error"):
        return f"{status}: {meta['error']}"
    return status


def _hyperparameters(study: Study) -> list[str]:
    lines = ["## Hyperparameters", ""]
    for (env, arm), group in study.runs.groupby(["env", "arm"], sort=True):
        hp = json.loads(group["hyperparameters"].iloc[0])
        lines += [f"- **{arm}** on {env} (from {group['hp_sources'].iloc[0]}): "
                  + ", ".join(f"`{k}={v}`" for k, v in hp.items())]
    return lines + [""]
