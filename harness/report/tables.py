"""The report's tables, each a DataFrame from scores or the study's tidy tables."""

from __future__ import annotations

import json
from itertools import combinations

import numpy as np
import pandas as pd

from harness.report import cost, stats
from harness.report.arms import arm_order
from harness.report.load import Study


def _ci(point: float, ci: tuple[float, float], runs: int = 2) -> str:
    """``point [low, high]``; with one run there is no interval to show, and the cell says so."""
    if runs < 2:
        return f"{point:.1f} (1 run: no CI)"
    return f"{point:.1f} [{ci[0]:.1f}, {ci[1]:.1f}]"


def final_table(
    finals: dict[str, np.ndarray], threshold: float | None, reps: int, seed: int, diverged: dict[str, int] | None = None
) -> pd.DataFrame:
    """Per arm: runs (and how many of them diverged), IQM, mean and median with 95% bootstrap CIs,
    and the optimality gap if a threshold exists."""
    rows = []
    for arm in arm_order(list(finals)):
        x = finals[arm]
        lost = (diverged or {}).get(arm, 0)
        row: dict[str, object] = {"arm": arm, "runs": f"{x.size} ({lost} diverged)" if lost else x.size}
        for name, fn in (("IQM", stats.iqm), ("mean", stats.mean), ("median", stats.median)):
            row[name] = _ci(fn(x), stats.bootstrap_ci(x, fn, reps, seed=seed), x.size)
        if threshold is not None:
            gap = lambda s, t=threshold: stats.optimality_gap(s, t)  # noqa: E731
            row["optimality gap"] = _ci(gap(x), stats.bootstrap_ci(x, gap, reps, seed=seed), x.size)
        rows.append(row)
    return collapse_equal_columns(pd.DataFrame(rows), ["IQM", "mean", "median"])


def improvement_table(finals: dict[str, list[np.ndarray]], reps: int, seed: int) -> pd.DataFrame:
    """P(X > Y) with a 95% stratified-bootstrap CI once per pair of arms (X before Y in report order;
    P(Y > X) is 1 - P(X > Y))."""
    rows = []
    for x, y in combinations(arm_order(list(finals)), 2):
        poi, ci = poi_ci(finals[x], finals[y], reps, seed)
        single = min(len(a) for a in finals[x] + finals[y]) < 2
        interval = "(1 run: no CI)" if single else f"[{ci[0]:.2f}, {ci[1]:.2f}]"
        rows.append({"X": x, "Y": y, "P(X > Y)": f"{poi:.2f} {interval}"})
    return pd.DataFrame(rows)


def poi_ci(x: list[np.ndarray], y: list[np.ndarray], reps: int, seed: int) -> tuple[float, tuple[float, float]]:
    """P(X > Y) and its 95% stratified-bootstrap CI."""
    poi = stats.probability_of_improvement(x, y)
    return poi, stats.stratified_bootstrap_ci([x, y], stats.probability_of_improvement, reps, seed=seed)


#: Fewer runs per arm than this and the report flags its intervals as unreliable.
FEW_RUNS = 5
#: With at most this many runs per arm, no interval is presented as a difference the seeds support.
TOO_FEW_TO_CALL = 3


def pair_verdict(x: str, y: str, finals: dict[str, np.ndarray], reps: int, seed: int) -> str:
    """One pair of arms in plain words, from P(X > Y) and its CI, e.g. ``td3 vs sb3-td3: no difference
    the seeds can detect (P(td3 > sb3-td3) = 0.56 [0.22, 0.89], 5 vs 5 runs)``. A CI excluding 0.5 is
    a difference the seeds support only with more than TOO_FEW_TO_CALL runs per arm."""
    a, b = finals[x], finals[y]
    poi, (low, high) = poi_ci([a], [b], reps, seed)
    runs = f"{a.size} run{'s' if a.size != 1 else ''}" if a.size == b.size else f"{a.size} vs {b.size} runs"
    if a.size == b.size:
        runs += " per arm"
    if min(a.size, b.size) < 2:
        return f"{x} vs {y}: one run, no interval: cannot tell (P({x} > {y}) = {poi:.2f}, {runs})"
    p = f"P({x} > {y}) = {poi:.2f} [{low:.2f}, {high:.2f}], {runs}"
    leader = x if poi > 0.5 else y
    if min(a.size, b.size) <= TOO_FEW_TO_CALL:
        if low > 0.5 or high < 0.5:
            return (
                f"{x} vs {y}: {leader} ahead, but too few runs to call it a difference ({p}; an interval "
                f"from {min(a.size, b.size)} runs per arm is not reliable)"
            )
        return f"{x} vs {y}: no difference these few runs can detect ({p})"
    if low > 0.5 or high < 0.5:
        return f"{x} vs {y}: **{leader} better**, a difference the seeds support ({p})"
    return f"{x} vs {y}: no difference the seeds can detect ({p})"


def verdict_table(
    finals: dict[str, np.ndarray], done: pd.DataFrame, reference: str | None, reps: int, seed: int
) -> pd.DataFrame:
    """One row per arm: runs (completed, diverged), final score IQM with CI, P(reference > arm) with
    CI, and the median run's CPU time and wall-clock (harness.report.cost). ``done`` is the env's result runs."""
    rows = []
    for arm in arm_order(list(finals)):
        x = finals[arm]
        runs = done[done["arm"] == arm]
        diverged = int((runs["status"] == "diverged").sum())
        row: dict[str, object] = {
            "arm": arm,
            "runs (completed / diverged)": f"{x.size - diverged} / {diverged}",
            "final score, IQM [95% CI]": _ci(stats.iqm(x), stats.bootstrap_ci(x, stats.iqm, reps, seed=seed), x.size),
        }
        if reference is not None and reference in finals:
            if arm == reference:
                row[f"P({reference} > arm)"] = "(reference)"
            else:
                poi, ci = poi_ci([finals[reference]], [x], reps, seed)
                single = min(x.size, finals[reference].size) < 2
                row[f"P({reference} > arm)"] = f"{poi:.2f}" + (
                    " (1 run: no CI)" if single else f" [{ci[0]:.2f}, {ci[1]:.2f}]"
                )
        row.update(cost.verdict_columns(runs))
        rows.append(row)
    return pd.DataFrame(rows)


def collapse_equal_columns(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Columns among ``columns`` whose every cell is the same become one, named ``A = B``."""
    groups: list[list[str]] = []
    for c in columns:
        for g in groups:
            if table[c].equals(table[g[0]]):
                g.append(c)
                break
        else:
            groups.append([c])
    out = table.copy()
    for g in groups:
        if len(g) > 1:
            out = out.rename(columns={g[0]: " = ".join(g)}).drop(columns=g[1:])
    return out


def seeds_table(finals: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per pair of arms: the difference of mean final scores, the smallest difference these seeds
    detect (Welch t-test, 5% level, 80% power), and the seeds per arm a decisive answer about the
    observed difference would need (Colas, Sigaud and Oudeyer 2018)."""
    rows = []
    arms = arm_order(list(finals))
    for i, x in enumerate(arms):
        for y in arms[i + 1 :]:
            a, b = finals[x], finals[y]
            diff = float(np.mean(a) - np.mean(b))
            detectable = stats.detectable_difference(a, b)
            if np.isnan(detectable):
                needed = "needs 2 runs per arm to estimate"
            else:
                n = stats.seeds_needed(diff, float(np.std(a, ddof=1)), float(np.std(b, ddof=1)))
                needed = "no difference to detect" if diff == 0 else (f"{n:,}" if n else "more than 10,000")
            rows.append(
                {
                    "X vs Y": f"{x} vs {y}",
                    "runs": f"{a.size} vs {b.size}",
                    "difference of means": f"{diff:.1f}",
                    "smallest difference these seeds detect": "-" if np.isnan(detectable) else f"{detectable:.1f}",
                    "seeds per arm to detect the observed difference": needed,
                }
            )
    return pd.DataFrame(rows)


def sample_efficiency_table(study: Study, env: str, threshold: float) -> pd.DataFrame:
    """Per arm: env steps at which each seed's evaluation first reaches the threshold."""
    rows = []
    evals = study.evals[study.evals["env"] == env]
    for arm, group in study.results(env).groupby("arm"):
        reached = {}
        for seed in sorted(group["seed"]):
            ev = evals[(evals["arm"] == arm) & (evals["seed"] == seed)]
            reached[seed] = stats.steps_to_threshold(ev["step"].to_numpy(), ev["return_mean"].to_numpy(), threshold)
        hits = [s for s in reached.values() if s is not None]
        rows.append(
            {
                "arm": arm,
                "steps to threshold, per seed": ", ".join(f"{k}: {_steps(v)}" for k, v in reached.items()),
                "median (seeds that reached it)": _steps(int(np.median(hits))) if hits else "-",
                "reached it": f"{len(hits)} of {len(reached)} runs",
            }
        )
    order = arm_order([r["arm"] for r in rows])
    return pd.DataFrame(sorted(rows, key=lambda r: order.index(r["arm"])))


def _value(v: object) -> str:
    """A hyperparameter for a table: numbers to 4 significant digits, lists and the rest as written."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return str(v)


def hyperparameter_tables(runs: pd.DataFrame, env: str) -> dict[str, pd.DataFrame]:
    """The hyperparameters on ``env`` in three tables: ``shared`` (the same for every arm that has
    them, and every arm has them), ``differ`` (per arm, the values in bold) and ``own`` (options only
    some arms have, with their values). Numbers to 4 significant digits."""
    per_arm = {arm: json.loads(g["hyperparameters"].iloc[0]) for arm, g in runs[runs["env"] == env].groupby("arm")}
    arms = arm_order(list(per_arm))
    keys = sorted(set().union(*per_arm.values()))
    shared, differ, own = [], [], []
    for key in keys:
        having = [a for a in arms if key in per_arm[a]]
        values = [_value(per_arm[a][key]) for a in having]
        if len(having) < len(arms):
            own.append(
                {"option": key, "arms: value": "; ".join(f"{a}: {v}" for a, v in zip(having, values, strict=True))}
            )
        elif len(set(values)) == 1:
            shared.append({"hyperparameter": key, "value (every arm)": values[0]})
        else:
            differ.append({"hyperparameter": key, **{a: f"**{v}**" for a, v in zip(having, values, strict=True)}})
    return {"shared": pd.DataFrame(shared), "differ": pd.DataFrame(differ), "own": pd.DataFrame(own)}


def _steps(value: int | None) -> str:
    return "never" if value is None else f"{value:,}"
