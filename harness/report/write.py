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
from harness.config.budgets import MIN_STEPS, PRESETS
from harness.errors import UsageError
from harness.report import cost, groups, plots, stats
from harness.report.arms import arm_order
from harness.report.cost import cost_summary, cost_table
from harness.report.decisions import decisions_section
from harness.report.html import to_html
from harness.report.load import RESULT_STATUSES, Study, load_study
from harness.report.published import published_section
from harness.report.tables import (
    FEW_RUNS,
    TOO_FEW_TO_CALL,
    final_table,
    hyperparameter_tables,
    improvement_table,
    pair_verdict,
    sample_efficiency_table,
    seeds_table,
    verdict_table,
)
from harness.report.values import value_section
from harness.run import rundir

#: The floor arm: kept out of the profile's x-range and marked as a line at its score instead.
FLOOR_ARM = "random"


def write_report(study_dir: Path, reps: int = 10_000, seed: int = 0, reference: str | None = None) -> Path:
    """Write ``report.md``, a self-contained ``report.html`` and the figures into the study directory.

    ``reference`` is the arm every other is compared with at the top of each env's section (default:
    ``td3`` when the study has it, else the first arm in report order)."""
    study = load_study(study_dir)
    md = [
        f"# Study `{study.name}`",
        "",
        f"From the runs in `{_shown(study.root)}`{_as_of(study)} ({reps:,} bootstrap resamples, seed {seed}).",
        "",
    ]
    md += decisions_section(study.root)  # a sequential study's tests come first; [] for the others
    if study.runs.empty:
        md += ["No runs found.", ""]
    else:
        md += _overview(study)
        ref = _reference_arm(study, reference)
        for env in sorted(study.runs["env"].unique()):
            md += _env_section(study, env, reps, seed, ref)
        md += _aggregate_section(study, reps, seed)
        md += published_section(study)
        md += value_section(study, reps, seed)
        md += [
            "## Cost per run",
            "",
            cost_summary(study.runs).to_markdown(index=False),
            "",
            cost.caveat(study.runs),
            "",
        ]
        md += _unfinished(study) + _provenance(study)
        md += ["## Appendix: cost of every run", "", cost_table(study.runs).to_markdown(index=False), ""]
        for env in sorted(study.runs["env"].unique()):
            md += _every_pair(study, env, reps, seed)
    if study.problems:
        md += ["## Problems reading results", ""] + [f"- {p}" for p in study.problems] + [""]
    text = "\n".join(md)
    rundir.atomic_write(study.root / "report.md", text)
    rundir.atomic_write(study.root / "report.html", to_html(text, study.root, title=f"Study {study.name}"))
    return study.root / "report.md"


def _as_of(study: Study) -> str:
    """', as of <the newest run's finish>': a report made again from the same runs reads the same, so
    regenerating a committed report leaves the checkout clean."""
    finished = study.runs["finished"].dropna() if "finished" in study.runs else pd.Series(dtype=object)
    if finished.empty:
        return ""
    newest = max(datetime.fromisoformat(str(t)) for t in finished)
    return f", as of {newest.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')}"


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when under it: the report does not name the machine's folders."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def budget_label(run: pd.Series) -> str:
    """``full budget, 20,000 env steps per run``; when the size was set by hand (STEPS=N), that instead
    of the preset's name, so a figure never claims a budget it did not have."""
    total, full, preset = int(run["total_steps"]), run.get("full_steps"), str(run["budget"])
    if (
        preset in PRESETS
        and full is not None
        and not pd.isna(full)
        and total != max(MIN_STEPS, round(int(full) * PRESETS[preset].fraction))
    ):
        return f"STEPS={total:,} ({total / int(full):.0%} of the full {int(full):,})"
    return f"{preset} budget, {total:,} env steps per run"


def _tuned_on_own_test(done: pd.DataFrame) -> list[str]:
    """A warning per arm whose HP=tuned values were selected on the seeds or evaluation episodes of its runs."""
    if "tuning_overlap" not in done:
        return []
    lines = []
    for arm in arm_order(list(done["arm"].unique())):
        notes = done.loc[(done["arm"] == arm) & done["tuning_overlap"].notna(), "tuning_overlap"].unique()
        lines += [f"**Tuned on its own test.** {arm}: {note}." for note in notes]
    return [*lines, ""] if lines else []


def _reference_arm(study: Study, reference: str | None) -> str:
    arms = arm_order(list(study.runs["arm"].unique()))
    if reference is not None:
        if reference not in arms:
            raise UsageError(f"--reference {reference!r} is not an arm of this study; its arms: {', '.join(arms)}")
        return reference
    return "td3" if "td3" in arms else arms[0]


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


def _env_section(study: Study, env: str, reps: int, seed: int, ref_arm: str) -> list[str]:
    ref = reference.lookup(env)
    finals = study.finals(env)
    md = [f"## {env}", ""]
    if not finals:
        return [*md, "No complete or diverged runs.", ""]
    done = study.results(env)
    budget = budget_label(done.iloc[0])
    threshold = f"threshold {ref.threshold:g} ({ref.source})" if ref.threshold is not None else "no threshold"
    md += [f"{budget}; {threshold}.", ""]
    counts = {arm: x.size for arm, x in finals.items()}
    diverged = {arm: int((g["status"] == rundir.STATUS_DIVERGED).sum()) for arm, g in done.groupby("arm")}
    fewest = min(counts.values())
    if fewest < 2:
        md += [
            "**Single runs.** An arm here has one run: its numbers are one observation each, with no "
            "confidence interval, and a P(X > Y) of 0 or 1 says only which single run scored higher. Run more "
            "seeds (`SEEDS=5`) before drawing conclusions.",
            "",
        ]
    elif fewest < FEW_RUNS:
        md += [
            f"**Few runs.** An arm here has only {fewest} runs: bootstrap intervals from fewer than {FEW_RUNS} "
            "runs per arm are unreliable (they are too narrow: a resample of 3 runs has few distinct values), "
            + (
                f"and with {TOO_FEW_TO_CALL} or fewer no interval below is read as a difference the seeds support. "
                if fewest <= TOO_FEW_TO_CALL
                else ""
            )
            + "Run more seeds before drawing conclusions"
            + (' ("How many seeds" below says how many).' if len(finals) > 1 else "."),
            "",
        ]
    if len(set(counts.values())) > 1:
        md += [
            "**Unequal runs.** Arms have different numbers of usable runs ("
            + ", ".join(f"{a} {counts[a]}" for a in arm_order(list(counts)))
            + "): runs that failed or were interrupted are missing (listed at the end); rerun the same command "
            "to complete them before comparing.",
            "",
        ]
    versus = ref_arm if ref_arm in finals else arm_order(list(finals))[0]
    verdict = verdict_table(finals, done, versus if len(finals) > 1 else None, reps, seed)
    order = arm_order(list(finals))
    many = len(finals) >= groups.MANY_ARMS
    if many:  # ranked, with the groups the seeds do not separate; pair sentences for the reference only
        ranking = groups.rank(finals, reps, seed)
        md += [
            "### Verdict",
            "",
            groups.legend(ranking, fewest),
            "",
            groups.ranked(verdict, ranking).to_markdown(index=False),
            "",
        ]
        md += [f"{versus} against each other arm (every pair: the P(X > Y) matrix below and the appendix):", ""]
        pairs = [f"- {pair_verdict(versus, y, finals, reps, seed)}" for y in order if y != versus]
    else:
        md += ["### Verdict", "", verdict.to_markdown(index=False), ""]
        pairs = [f"- {pair_verdict(x, y, finals, reps, seed)}" for i, x in enumerate(order) for y in order[i + 1 :]]
    md += [*pairs, ""] if pairs else []
    md += [
        "Final score: the mean return of a run's last evaluation; IQM: the mean of the middle 50% of runs; "
        "P(X > Y): the chance that a run of X beats a run of Y (0.5: no difference). Intervals are 95% "
        "bootstrap CIs over runs. " + cost.caveat(done),
        "",
    ]
    md += _tuned_on_own_test(done)
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
    floor = {a: x for a, x in finals.items() if a == FLOOR_ARM}
    profile = plots.performance_profile(
        {arm: [x] for arm, x in finals.items() if arm not in floor or len(finals) == 1},
        f"{env}: performance profile of final scores",
        "final score (tau)",
        study.root / f"profile_{env}.png",
        min(reps, 2000),
        seed,
        floor={a: float(np.mean(x)) for a, x in floor.items()} if len(finals) > 1 else None,
        dots=dict(finals),
    )
    md += [f"![performance profile and final scores per run for {env}]({profile.name})", ""]
    md += [
        "### Final performance",
        "",
        final_table(finals, ref.threshold, reps, seed, diverged).to_markdown(index=False),
        "",
    ]
    if len(finals) > 1:
        per_task = {a: [x] for a, x in finals.items()}
        md += ["### Probability of improvement", ""]
        if not many:
            md += [
                "Once per pair: P(Y > X) is 1 - P(X > Y).",
                "",
                improvement_table(per_task, reps, seed).to_markdown(index=False),
                "",
            ]
        else:
            md += [f"Every pair with its 95% CI is in the appendix (*P(X > Y) for every pair on {env}*).", ""]
        if len(finals) > 3:
            matrix = plots.improvement_matrix(per_task, f"{env}: P(row > column)", study.root / f"poi_{env}.png")
            md += [f"![P(X > Y) for every pair on {env}]({matrix.name})", ""]
        md += [
            "### How many seeds",
            "",
            "The smallest difference of mean final scores these seeds detect (two-sided Welch t-test, 5% level, "
            "80% power), and the seeds per arm a decisive answer about the observed difference would need "
            '(Colas, Sigaud and Oudeyer 2018, "How many random seeds?"); SDs are estimated from these runs.',
            "",
            seeds_table(finals).to_markdown(index=False),
            "",
        ]
    if ref.threshold is not None:
        md += [
            f"### Sample efficiency (env steps to reach {ref.threshold:g})",
            "",
            sample_efficiency_table(study, env, ref.threshold).to_markdown(index=False),
            "",
        ]
    return md


def _every_pair(study: Study, env: str, reps: int, seed: int) -> list[str]:
    """The appendix of an env with many arms: P(X > Y) with its CI for every pair (with fewer arms the
    table is in the env's section)."""
    finals = study.finals(env)
    if len(finals) < groups.MANY_ARMS:
        return []
    table = improvement_table({a: [x] for a, x in finals.items()}, reps, seed)
    return [
        f"## Appendix: P(X > Y) for every pair on {env}",
        "",
        "Once per pair: P(Y > X) is 1 - P(X > Y).",
        "",
        table.to_markdown(index=False),
        "",
    ]


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
    precisions = r.groupby("precision")["arm"].count()
    md.append(
        "- precision of the gradient updates: "
        + ", ".join(f"{p} ({n} runs)" for p, n in precisions.items())
        + ("" if len(precisions) == 1 else " (**mixed: arms were not all computed alike**)")
    )
    for versions in sorted(set(r["versions"])):
        md.append("- versions: " + ", ".join(f"{k} {v}" for k, v in json.loads(versions).items()))
    for env in sorted(r["env"].unique()):
        sources = r[r["env"] == env].groupby("arm")["hp_sources"].first()
        hp = hyperparameter_tables(r, env)
        md += [
            "",
            f"### Hyperparameters on {env}",
            "",
            "Sources: " + "; ".join(f"**{a}** {sources[a]}" for a in arm_order(list(sources.index))),
        ]
        for key, caption in (
            ("differ", "Values that differ between arms (in bold):"),
            ("shared", "Values every arm shares:"),
            ("own", "Options only some arms have:"),
        ):
            if not hp[key].empty:
                md += ["", caption, "", hp[key].to_markdown(index=False, disable_numparse=True)]
    return [*md, ""]
