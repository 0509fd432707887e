"""The report's tables, each a DataFrame from scores or the study's tidy tables."""

from __future__ import annotations

import json
from itertools import permutations

import numpy as np
import pandas as pd

from harness.fmt import fmt_duration
from harness.report import stats
from harness.report.arms import arm_order
from harness.report.load import RESULT_STATUSES, Study


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
    return pd.DataFrame(rows)


def improvement_table(finals: dict[str, list[np.ndarray]], reps: int, seed: int) -> pd.DataFrame:
    """P(X > Y) with a 95% stratified-bootstrap CI for every ordered pair of arms."""
    rows = []
    for x, y in permutations(arm_order(list(finals)), 2):
        poi = stats.probability_of_improvement(finals[x], finals[y])
        ci = stats.stratified_bootstrap_ci([finals[x], finals[y]], stats.probability_of_improvement, reps, seed=seed)
        single = min(len(a) for a in finals[x] + finals[y]) < 2
        interval = "(1 run: no CI)" if single else f"[{ci[0]:.2f}, {ci[1]:.2f}]"
        rows.append({"X": x, "Y": y, "P(X > Y)": f"{poi:.2f} {interval}"})
    return pd.DataFrame(rows)


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
                "never reached": f"{len(reached) - len(hits)} of {len(reached)}",
            }
        )
    order = arm_order([r["arm"] for r in rows])
    return pd.DataFrame(sorted(rows, key=lambda r: order.index(r["arm"])))


def cost_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run that is a result (complete or diverged): env steps/s of training, gradient updates, wall-clock."""
    done = runs[runs["status"].isin(RESULT_STATUSES)]
    order = {a: i for i, a in enumerate(arm_order(list(done["arm"].unique())))}
    done = done.sort_values(["env", "arm", "seed"], key=lambda c: c.map(order) if c.name == "arm" else c)
    return pd.DataFrame(
        {
            "env": done["env"],
            "arm": done["arm"],
            "seed": done["seed"],
            "status": done["status"],
            "env steps/s": done["steps_per_s"].round(1),
            "gradient updates": done["updates"],
            "wall-clock": [fmt_duration(w) for w in done["wall_s"]],
        }
    )


def hyperparameter_table(runs: pd.DataFrame, env: str) -> pd.DataFrame:
    """Every hyperparameter (rows) per arm (columns); values that differ between arms in bold."""
    per_arm = {arm: json.loads(g["hyperparameters"].iloc[0]) for arm, g in runs[runs["env"] == env].groupby("arm")}
    arms = arm_order(list(per_arm))
    keys = sorted(set().union(*per_arm.values()))
    rows = []
    for key in keys:
        values = [per_arm[a].get(key, "—") for a in arms]
        differs = len({json.dumps(v) for v in values}) > 1
        rows.append(
            {
                "hyperparameter": f"**{key}**" if differs else key,
                **{a: f"**{v}**" if differs else str(v) for a, v in zip(arms, values, strict=True)},
            }
        )
    return pd.DataFrame(rows)


def _steps(value: int | None) -> str:
    return "never" if value is None else f"{value:,}"
