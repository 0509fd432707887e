"""The study report: results tree -> tidy DataFrames -> statistics and figures -> report.md and report.html.

Statistics follow Agarwal et al. (2021): IQM, mean and median of final scores with 95%
bootstrap CIs over seeds (stratified by env when envs are pooled), probability of improvement
between every pair of arms, performance profiles, and optimality gaps against each env's
threshold. Only complete runs enter the statistics; the others are listed with their cause.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd

from harness import plots, reference, results, stats
from harness.errors import UsageError
from harness.htmlreport import to_html
from harness.progress import fmt_duration


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
        return r[(r["env"] == env) & (r["status"] == results.STATUS_COMPLETE)]

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
        meta = results.read_meta(run_dir)
        if meta is None or "spec" not in meta:
            problems.append(f"{where}: meta.json unreadable or incomplete; run skipped")
            continue
        spec, timings = meta["spec"], meta.get("timings", {})
        row = {"arm": spec["arm"], "env": spec["env_id"].rpartition(":")[2], "seed": spec["seed"],
               "status": meta["status"], "cause": _cause(meta), "total_steps": spec["budget"]["total_steps"],
               "budget": spec["budget"]["preset"], "eval_episodes": spec["budget"]["eval_episodes"],
               "learning_starts": spec["hyperparameters"].get("learning_starts"),
               "steps_per_s": timings.get("steps_per_s"), "wall_s": timings.get("wall_s"),
               "updates": meta.get("result", {}).get("updates"), "hp_sources": "; ".join(spec["hp_sources"]),
               "hyperparameters": json.dumps(spec["hyperparameters"], sort_keys=True),
               "commit": meta.get("git", {}).get("commit"), "versions": json.dumps(meta.get("versions", {})),
               "dir": str(run_dir)}
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
            eval_frames.append(ev[["step", "updates", "wall_s", "return_mean"]].assign(
                arm=row["arm"], env=row["env"], seed=row["seed"], status=row["status"]))
            row["final_step"] = int(ev["step"].iloc[-1])
            row["final_return"] = float(ev["return_mean"].iloc[-1])
        run_rows.append(row)
    runs = pd.DataFrame(run_rows)
    evals = pd.concat(eval_frames, ignore_index=True) if eval_frames else pd.DataFrame(
        columns=["step", "updates", "wall_s", "return_mean", "arm", "env", "seed", "status"])
    return Study(study_dir.name, study_dir, runs, evals, problems)


def _ci(point: float, ci: tuple[float, float], runs: int = 2) -> str:
    """``point [low, high]``; with one run there is no interval to show, and the cell says so."""
    if runs < 2:
        return f"{point:.1f} (1 run: no CI)"
    return f"{point:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]"


def final_table(finals: dict[str, np.ndarray], threshold: float | None, reps: int, seed: int) -> pd.DataFrame:
    """Per arm: runs, IQM, mean and median with 95% bootstrap CIs, and the optimality gap if a threshold exists."""
    rows = []
    for arm in plots.arm_order(list(finals)):
        x = finals[arm]
        row = {"arm": arm, "runs": x.size}
        for name, fn in (("IQM", stats.iqm), ("mean", stats.mean), ("median", stats.median)):
            row[name] = _ci(fn(x), stats.bootstrap_ci(x, fn, reps, seed=seed), x.size)
        if threshold is not None:
            gap = lambda s, t=threshold: stats.optimality_gap(s, t)  # noqa: E731
            row["optimality gap"] = _ci(gap(x), stats.bootstrap_ci(x, gap, reps, seed=seed), x.size)
        rows.append(row)
    return pd.DataFrame(rows)


def improvement_table(finals: dict[str, list[np.ndarray]], reps: int, seed: int) -> pd.DataFrame:
    """P(X > Y) with a 95% stratified-bootstrap CI for every ordered pair of arms."""
    rows = []
    for x, y in permutations(plots.arm_order(list(finals)), 2):
        poi = stats.probability_of_improvement(finals[x], finals[y])
        ci = stats.stratified_bootstrap_ci([finals[x], finals[y]], stats.probability_of_improvement, reps, seed=seed)
        single = min(len(a) for a in finals[x] + finals[y]) < 2
        interval = "(1 run: no CI)" if single else f"[{ci[0]:.2f}, {ci[1]:.2f}]"
        rows.append({"X": x, "Y": y, "P(X > Y)": f"{poi:.2f} {interval}"})
    return pd.DataFrame(rows)


def sample_efficiency_table(study: Study, env: str, threshold: float) -> pd.DataFrame:
    """Per arm: env steps at which each seed's evaluation first reaches the threshold."""
    rows = []
    evals = study.evals[study.evals["env"] == env]
    for arm, group in study.complete(env).groupby("arm"):
        reached = {}
        for seed in sorted(group["seed"]):
            ev = evals[(evals["arm"] == arm) & (evals["seed"] == seed)]
            reached[seed] = stats.steps_to_threshold(ev["step"].to_numpy(), ev["return_mean"].to_numpy(), threshold)
        hits = [s for s in reached.values() if s is not None]
        rows.append({"arm": arm,
                     "steps to threshold, per seed": ", ".join(f"{k}: {_steps(v)}" for k, v in reached.items()),
                     "median (seeds that reached it)": _steps(int(np.median(hits))) if hits else "-",
                     "never reached": f"{len(reached) - len(hits)} of {len(reached)}"})
    order = plots.arm_order([r["arm"] for r in rows])
    return pd.DataFrame(sorted(rows, key=lambda r: order.index(r["arm"])))


def cost_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run: env steps/s of training, gradient updates, wall-clock."""
    done = runs[runs["status"] == results.STATUS_COMPLETE]
    order = {a: i for i, a in enumerate(plots.arm_order(list(done["arm"].unique())))}
    done = done.sort_values(["env", "arm", "seed"], key=lambda c: c.map(order) if c.name == "arm" else c)
    return pd.DataFrame({"env": done["env"], "arm": done["arm"], "seed": done["seed"],
                         "env steps/s": done["steps_per_s"].round(1), "gradient updates": done["updates"],
                         "wall-clock": [fmt_duration(w) for w in done["wall_s"]]})


def hyperparameter_table(runs: pd.DataFrame, env: str) -> pd.DataFrame:
    """Every hyperparameter (rows) per arm (columns); values that differ between arms in bold."""
    per_arm = {arm: json.loads(g["hyperparameters"].iloc[0]) for arm, g in runs[runs["env"] == env].groupby("arm")}
    arms = plots.arm_order(list(per_arm))
    keys = sorted(set().union(*per_arm.values()))
    rows = []
    for key in keys:
        values = [per_arm[a].get(key, "—") for a in arms]
        differs = len({json.dumps(v) for v in values}) > 1
        rows.append({"hyperparameter": f"**{key}**" if differs else key,
                     **{a: f"**{v}**" if differs else str(v) for a, v in zip(arms, values)}})
    return pd.DataFrame(rows)


def write_report(study_dir: Path, reps: int = 10_000, seed: int = 0) -> Path:
    """Write ``report.md``, a self-contained ``report.html`` and the figures into the study directory."""
    study = load_study(study_dir)
    md = [f"# Study `{study.name}`", "",
          f"Generated {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} from `{study.root}` "
          f"({reps:,} bootstrap resamples, seed {seed}).", ""]
    if study.runs.empty:
        md += ["No runs found.", ""]
    else:
        md += _overview(study)
        for env in sorted(study.runs["env"].unique()):
            md += _env_section(study, env, reps, seed)
        md += _aggregate_section(study, reps, seed)
        md += ["## Cost per run", "", cost_table(study.runs).to_markdown(index=False), ""]
        md += _unfinished(study) + _provenance(study)
    if study.problems:
        md += ["## Problems reading results", ""] + [f"- {p}" for p in study.problems] + [""]
    text = "\n".join(md)
    results.atomic_write(study.root / "report.md", text)
    results.atomic_write(study.root / "report.html", to_html(text, study.root, title=f"Study {study.name}"))
    return study.root / "report.md"


def _overview(study: Study) -> list[str]:
    r = study.runs
    return [
        f"- runs: {len(r)} ({(r['status'] == results.STATUS_COMPLETE).sum()} complete); "
        f"arms: {', '.join(plots.arm_order(list(r['arm'].unique())))}; "
        f"seeds: {', '.join(map(str, sorted(r['seed'].unique())))}; budget: {', '.join(sorted(r['budget'].unique()))}",
        "- **How to read it.** A run's *final score* is the mean return of its last evaluation. Per env, "
        "IQM (the mean of the middle 50% of runs), mean and median come with 95% percentile-bootstrap CIs over "
        "seeds. *P(X > Y)* is the probability that a run of X beats a run of Y (0.5: no difference); a CI "
        "excluding 0.5 is a difference the seeds support. The *optimality gap* is the mean shortfall below the "
        "env's threshold (0: every run reaches it). The *performance profile* shows, for each score tau, the "
        "fraction of runs scoring above it: a curve above another is better everywhere.",
        "",
    ]


def _env_section(study: Study, env: str, reps: int, seed: int) -> list[str]:
    ref = reference.lookup(env)
    finals = study.finals(env)
    md = [f"## {env}", ""]
    if not finals:
        return md + ["No complete runs.", ""]
    done = study.complete(env)
    budget = f"{done['budget'].iloc[0]} budget, {int(done['total_steps'].iloc[0]):,} env steps per run"
    threshold = f"threshold {ref.threshold:g} ({ref.source})" if ref.threshold is not None else "no threshold"
    md += [f"{budget}; {threshold}.", ""]
    if min(x.size for x in finals.values()) < 2:
        md += ["**Single runs.** An arm here has one complete run: its numbers are one observation each, "
               "with no confidence interval, and a P(X > Y) of 0 or 1 says only which single run scored "
               "higher. Run more seeds (`SEEDS=5`) before drawing conclusions.", ""]
    evals = study.evals[(study.evals["env"] == env) & (study.evals["status"] == results.STATUS_COMPLETE)]
    starts = done["learning_starts"].dropna().unique()
    curves = plots.learning_curves(evals, env, f"{env}: {budget}", int(done["eval_episodes"].iloc[0]), ref.threshold,
                                   starts[0] if len(starts) == 1 and starts[0] > 0 else None,
                                   study.root / f"curves_{env}.png", min(reps, 2000), seed)
    md += [f"![learning curves for {env}]({curves.name})", ""]
    md += ["### Final performance", "", final_table(finals, ref.threshold, reps, seed).to_markdown(index=False), ""]
    if len(finals) > 1:
        per_task = {a: [x] for a, x in finals.items()}
        md += ["### Probability of improvement", "", improvement_table(per_task, reps, seed).to_markdown(index=False), ""]
    profile = plots.performance_profile(finals, f"{env}: performance profile of final scores", "final score (tau)",
                                        study.root / f"profile_{env}.png", min(reps, 2000), seed)
    md += [f"![performance profile for {env}]({profile.name})", ""]
    if ref.threshold is not None:
        md += [f"### Sample efficiency (env steps to reach {ref.threshold:g})", "",
               sample_efficiency_table(study, env, ref.threshold).to_markdown(index=False), ""]
    return md


def _aggregate_section(study: Study, reps: int, seed: int) -> list[str]:
    envs = sorted(study.runs["env"].unique())
    if len(envs) < 2:
        return []
    md = ["## All envs together (min-max normalized)", ""]
    refs = {e: reference.lookup(e) for e in envs}
    missing = [e for e, r in refs.items() if r.random is None or r.threshold is None]
    if missing:
        return md + [f"Not computed: {', '.join(missing)} lack a random-policy score or a threshold "
                     f"(add them to hyperparams/reference_scores.yml; `python -m harness reference-scores` "
                     "measures the random score).", ""]
    per_arm: dict[str, list[np.ndarray]] = {}
    for env in envs:
        for arm, x in study.finals(env).items():
            per_arm.setdefault(arm, []).append(stats.normalize(x, refs[env].random, refs[env].threshold))
    arms = [a for a, xs in per_arm.items() if len(xs) == len(envs)]
    rows = []
    for arm in plots.arm_order(arms):
        row = {"arm": arm}
        for name, fn in (("IQM", stats.iqm), ("mean", stats.mean), ("median", stats.median),
                         ("optimality gap", stats.optimality_gap)):
            row[name] = f"{fn(per_arm[arm]):.3f} [" + ", ".join(
                f"{v:.3f}" for v in stats.stratified_bootstrap_ci([per_arm[arm]], fn, reps, seed=seed)) + "]"
        rows.append(row)
    md += ["Scores normalized per env: 0 is the random policy, 1 the threshold; CIs by the stratified "
           "bootstrap (runs resampled within each env).", "", pd.DataFrame(rows).to_markdown(index=False), ""]
    if len(arms) > 1:
        md += [improvement_table({a: per_arm[a] for a in arms}, reps, seed).to_markdown(index=False), ""]
    pooled = {a: np.concatenate(per_arm[a]) for a in arms}
    profile = plots.performance_profile(pooled, "All envs: performance profile (normalized)",
                                        "normalized final score (tau)", study.root / "profile_all.png",
                                        min(reps, 2000), seed)
    return md + [f"![performance profile over all envs]({profile.name})", ""]


def _unfinished(study: Study) -> list[str]:
    bad = study.runs[study.runs["status"] != results.STATUS_COMPLETE]
    if bad.empty:
        return []
    lines = ["## Runs not included (not complete)", ""]
    lines += [f"- {row.arm}/{row.env}_{row.seed}: {row.cause}" for row in bad.itertuples()]
    return lines + [""]


def _provenance(study: Study) -> list[str]:
    r = study.runs
    md = ["## Provenance", "",
          f"- commits: {', '.join(sorted({str(c)[:10] for c in r['commit']}))}"]
    for versions in sorted(set(r["versions"])):
        md.append("- versions: " + ", ".join(f"{k} {v}" for k, v in json.loads(versions).items()))
    for env in sorted(r["env"].unique()):
        sources = r[r["env"] == env].groupby("arm")["hp_sources"].first()
        md += ["", f"### Hyperparameters on {env}", "",
               "Values that differ between arms are in bold. Sources: "
               + "; ".join(f"**{a}** {sources[a]}" for a in plots.arm_order(list(sources.index))), "",
               hyperparameter_table(r, env).to_markdown(index=False)]
    return md + [""]


def _steps(value: int | None) -> str:
    return "never" if value is None else f"{value:,}"


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
