"""The study report: results tree -> tidy DataFrames -> statistics and figures -> report.md and report.html.

Statistics follow Agarwal et al. (2021): IQM, mean and median of final scores with 95%
bootstrap CIs over seeds (stratified by env when envs are pooled), probability of improvement
between every pair of arms, performance profiles, and optimality gaps against each env's
threshold. Only complete runs enter the statistics; the others are listed with their cause.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from harness.config import reference
from harness.report import plots, stats
from harness.report.arms import arm_order
from harness.report.decisions import decisions_section
from harness.report.html import to_html
from harness.report.load import RESULT_STATUSES, Study, load_study
from harness.report.tables import (
    cost_table,
    final_table,
    hyperparameter_table,
    improvement_table,
    sample_efficiency_table,
    seeds_table,
)
from harness.report.values import value_section
from harness.run import rundir


def write_report(study_dir: Path, reps: int = 10_000, seed: int = 0) -> Path:
    """Write ``report.md``, a self-contained ``report.html`` and the figures into the study directory."""
    study = load_study(study_dir)
    md = [
        f"# Study `{study.name}`",
        "",
        f"Generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} from `{study.root}` "
        f"({reps:,} bootstrap resamples, seed {seed}).",
        "",
    ]
    md += decisions_section(study.root)  # a sequential study's tests come first; [] for the others
    if study.runs.empty:
        md += ["No runs found.", ""]
    else:
        md += _overview(study)
        for env in sorted(study.runs["env"].unique()):
            md += _env_section(study, env, reps, seed)
        md += _aggregate_section(study, reps, seed)
        md += value_section(study, reps, seed)
        md += ["## Cost per run", "", cost_table(study.runs).to_markdown(index=False), ""]
        md += _unfinished(study) + _provenance(study)
    if study.problems:
        md += ["## Problems reading results", ""] + [f"- {p}" for p in study.problems] + [""]
    text = "\n".join(md)
    rundir.atomic_write(study.root / "report.md", text)
    rundir.atomic_write(study.root / "report.html", to_html(text, study.root, title=f"Study {study.name}"))
    return study.root / "report.md"


def _overview(study: Study) -> list[str]:
    r = study.runs
    return [
        f"- runs: {len(r)} ({(r['status'] == rundir.STATUS_COMPLETE).sum()} complete, "
        f"{(r['status'] == rundir.STATUS_DIVERGED).sum()} diverged); "
        f"arms: {', '.join(arm_order(list(r['arm'].unique())))}; "
        f"seeds: {', '.join(map(str, sorted(r['seed'].unique())))}; budget: {', '.join(sorted(r['budget'].unique()))}",
        "- **How to read it.** A run's *final score* is the mean return of its last evaluation. A run that "
        "diverged is a result of its arm and counts in every statistic with the score of its last finite "
        "evaluation, held from the step it diverged at; runs that failed or were interrupted are not results "
        "and are listed at the end. Per env, "
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
        return [*md, "No complete or diverged runs.", ""]
    done = study.results(env)
    budget = f"{done['budget'].iloc[0]} budget, {int(done['total_steps'].iloc[0]):,} env steps per run"
    threshold = f"threshold {ref.threshold:g} ({ref.source})" if ref.threshold is not None else "no threshold"
    md += [f"{budget}; {threshold}.", ""]
    counts = {arm: x.size for arm, x in finals.items()}
    diverged = {arm: int((g["status"] == rundir.STATUS_DIVERGED).sum()) for arm, g in done.groupby("arm")}
    if len(set(counts.values())) > 1:
        md += [
            "**Unequal runs.** Arms have different numbers of usable runs ("
            + ", ".join(f"{a} {counts[a]}" for a in arm_order(list(counts)))
            + "): runs that failed or were interrupted are missing (listed at the end); rerun the same command "
            "to complete them before comparing.",
            "",
        ]
    if min(x.size for x in finals.values()) < 2:
        md += [
            "**Single runs.** An arm here has one complete run: its numbers are one observation each, "
            "with no confidence interval, and a P(X > Y) of 0 or 1 says only which single run scored "
            "higher. Run more seeds (`SEEDS=5`) before drawing conclusions.",
            "",
        ]
    evals = study.evals[(study.evals["env"] == env) & study.evals["status"].isin(RESULT_STATUSES)]
    starts = done["learning_starts"].dropna().unique()
    curves = plots.learning_curves(
        evals,
        env,
        f"{env}: {budget}",
        int(done["eval_episodes"].iloc[0]),
        ref.threshold,
        starts[0] if len(starts) == 1 and starts[0] > 0 else None,
        study.root / f"curves_{env}.png",
        min(reps, 2000),
        seed,
    )
    md += [f"![learning curves for {env}]({curves.name})", ""]
    md += [
        "### Final performance",
        "",
        final_table(finals, ref.threshold, reps, seed, diverged).to_markdown(index=False),
        "",
    ]
    if len(finals) > 1:
        per_task = {a: [x] for a, x in finals.items()}
        md += [
            "### Probability of improvement",
            "",
            improvement_table(per_task, reps, seed).to_markdown(index=False),
            "",
            "### How many seeds",
            "",
            "The smallest difference of mean final scores these seeds detect (two-sided Welch t-test, 5% level, "
            "80% power), and the seeds per arm a decisive answer about the observed difference would need "
            '(Colas, Sigaud and Oudeyer 2018, "How many random seeds?"); SDs are estimated from these runs.',
            "",
            seeds_table(finals).to_markdown(index=False),
            "",
        ]
    profile = plots.performance_profile(
        {arm: [x] for arm, x in finals.items()},
        f"{env}: performance profile of final scores",
        "final score (tau)",
        study.root / f"profile_{env}.png",
        min(reps, 2000),
        seed,
    )
    md += [f"![performance profile for {env}]({profile.name})", ""]
    if ref.threshold is not None:
        md += [
            f"### Sample efficiency (env steps to reach {ref.threshold:g})",
            "",
            sample_efficiency_table(study, env, ref.threshold).to_markdown(index=False),
            "",
        ]
    return md


def _aggregate_section(study: Study, reps: int, seed: int) -> list[str]:
    envs = sorted(study.runs["env"].unique())
    if len(envs) < 2:
        return []
    md = ["## All envs together (min-max normalized)", ""]
    refs = {e: reference.lookup(e) for e in envs}
    missing = [e for e, r in refs.items() if r.random is None or r.threshold is None]
    if missing:
        note = (
            f"Not computed: {', '.join(missing)} lack a random-policy score or a threshold (add them to "
            "hyperparams/reference_scores.yml; `python -m harness reference-scores` measures the random score)."
        )
        return [*md, note, ""]
    per_arm: dict[str, list[np.ndarray]] = {}
    for env in envs:
        low, high = refs[env].random, refs[env].threshold
        assert low is not None and high is not None  # envs missing either returned above
        for arm, x in study.finals(env).items():
            per_arm.setdefault(arm, []).append(stats.normalize(x, low, high))
    arms = [a for a, xs in per_arm.items() if len(xs) == len(envs)]
    rows = []
    for arm in arm_order(arms):
        row = {"arm": arm}
        for name, fn in (
            ("IQM", stats.iqm),
            ("mean", stats.mean),
            ("median", stats.median),
            ("optimality gap", stats.optimality_gap),
        ):
            row[name] = (
                f"{fn(per_arm[arm]):.3f} ["
                + ", ".join(f"{v:.3f}" for v in stats.stratified_bootstrap_ci([per_arm[arm]], fn, reps, seed=seed))
                + "]"
            )
        rows.append(row)
    md += [
        "Scores normalized per env: 0 is the random policy, 1 the threshold. As rliable defines them, the IQM "
        "and the optimality gap pool every run of every env, the mean and the median are over the per-env "
        "means; CIs and the profile's band by the stratified bootstrap (runs resampled within each env).",
        "",
        pd.DataFrame(rows).to_markdown(index=False),
        "",
    ]
    if len(arms) > 1:
        md += [improvement_table({a: per_arm[a] for a in arms}, reps, seed).to_markdown(index=False), ""]
    profile = plots.performance_profile(
        {a: per_arm[a] for a in arms},
        "All envs: performance profile (normalized)",
        "normalized final score (tau)",
        study.root / "profile_all.png",
        min(reps, 2000),
        seed,
    )
    return [*md, f"![performance profile over all envs]({profile.name})", ""]


def _unfinished(study: Study) -> list[str]:
    """The diverged runs with their cause and score, then the runs that are not results."""
    r = study.runs
    lines: list[str] = []
    diverged = r[r["status"] == rundir.STATUS_DIVERGED]
    if not diverged.empty:
        lines += ["## Diverged runs (results of their arm, in every statistic above)", ""]
        lines += [
            f"- {row.arm}/{row.env}_{row.seed}: {row.cause}; scored {row.final_return:.1f}, its {row.score_from}"
            for row in diverged.itertuples()
        ]
        lines.append("")
    bad = r[~r["status"].isin(RESULT_STATUSES)]
    if not bad.empty:
        lines += ["## Runs not included (not results: failed, interrupted or unfinished)", ""]
        lines += [f"- {row.arm}/{row.env}_{row.seed}: {row.cause}" for row in bad.itertuples()]
        lines.append("")
    return lines


def _provenance(study: Study) -> list[str]:
    r = study.runs
    md = ["## Provenance", "", f"- commits: {', '.join(sorted({str(c)[:10] for c in r['commit']}))}"]
    backends = r.groupby("matmul_backend")["arm"].count()
    md.append(
        "- fp32 matmul backend: "
        + ", ".join(f"{b} ({n} runs)" for b, n in backends.items())
        + ("" if len(backends) == 1 else " (**mixed: arms were not all computed alike**)")
    )
    for versions in sorted(set(r["versions"])):
        md.append("- versions: " + ", ".join(f"{k} {v}" for k, v in json.loads(versions).items()))
    for env in sorted(r["env"].unique()):
        sources = r[r["env"] == env].groupby("arm")["hp_sources"].first()
        md += [
            "",
            f"### Hyperparameters on {env}",
            "",
            "Values that differ between arms are in bold. Sources: "
            + "; ".join(f"**{a}** {sources[a]}" for a in arm_order(list(sources.index))),
            "",
            hyperparameter_table(r, env).to_markdown(index=False),
        ]
    return [*md, ""]
