"""What runs cost, in figures a busy machine cannot fake: CPU time beside wall-clock.

Wall-clock measures the machine as much as the arm: with other work on its cores a run's wall-clock
grows while its CPU time does not. So the report's cost is CPU time per run (user + system, the
run's evaluations included) and env steps per CPU-second; wall-clock is shown beside it, and a run
whose CPU time is under ``INFLATED_BELOW`` of its wall-clock (at one torch thread a run that had its
core to itself uses nearly all of it) is flagged as slowed by other work. Runs recorded before CPU
time was measured say "not recorded"; nothing is guessed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.fmt import fmt_duration
from harness.report.arms import arm_order
from harness.run.record import RESULTS

#: A run whose CPU time is below this fraction of its wall-clock waited for its core most of the time.
INFLATED_BELOW = 0.5
NOT_RECORDED = "not recorded"


def _results(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["status"].isin([str(s) for s in RESULTS])]


def _cpu(runs: pd.DataFrame) -> pd.Series:
    return pd.to_numeric(runs["cpu_s"], errors="coerce") if "cpu_s" in runs else pd.Series(np.nan, index=runs.index)


def inflated(runs: pd.DataFrame) -> pd.Series:
    """Per run: whether its wall-clock was inflated by other work on the machine (CPU time well below it)."""
    cpu = _cpu(runs)
    return (cpu < INFLATED_BELOW * runs["wall_s"]).fillna(False)


def cpu_text(runs: pd.DataFrame) -> str:
    """The median CPU time of ``runs``, or 'not recorded' (for some: 'median of the N recorded')."""
    cpu = _cpu(runs).dropna()
    if cpu.empty:
        return NOT_RECORDED
    text = fmt_duration(float(cpu.median()))
    return text if len(cpu) == len(runs) else f"{text} ({len(cpu)} of {len(runs)} recorded)"


def steps_per_cpu_s(runs: pd.DataFrame) -> str:
    """Median env steps per CPU-second over ``runs`` (evaluations included in the CPU time)."""
    cpu = _cpu(runs)
    rate = (runs["total_steps"] / cpu).dropna()
    return f"{rate.median():,.1f}" if not rate.empty else NOT_RECORDED


def wall_text(runs: pd.DataFrame) -> str:
    """The median wall-clock, marked with how many runs other work slowed."""
    text = fmt_duration(float(runs["wall_s"].median()))
    slowed = int(inflated(runs).sum())
    return text + (f" ({slowed} of {len(runs)} slowed by other work)" if slowed else "")


def verdict_columns(runs: pd.DataFrame) -> dict[str, str]:
    """The cost cells of one arm's row in a verdict table."""
    return {"CPU time per run": cpu_text(runs), "wall-clock per run": wall_text(runs)}


def cost_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per env and arm, over its result runs: CPU time per run and env steps per CPU-second, wall-clock
    (flagged where other work slowed it), training env steps/s, total CPU time and gradient updates."""
    done = _results(runs)
    rows = []
    for env in sorted(done["env"].unique()):
        here = done[done["env"] == env]
        for arm in arm_order(list(here["arm"].unique())):
            g = here[here["arm"] == arm]
            cpu = _cpu(g)
            rows.append(
                {
                    "env": env,
                    "arm": arm,
                    "runs": len(g),
                    "CPU time per run (median)": cpu_text(g),
                    "env steps per CPU-second": steps_per_cpu_s(g),
                    "wall-clock per run (median)": wall_text(g),
                    "training env steps/s (median)": round(float(g["steps_per_s"].median()), 1),
                    "CPU time, all runs": fmt_duration(float(cpu.sum())) if cpu.notna().all() else NOT_RECORDED,
                    "gradient updates per run": f"{int(g['updates'].median()):,}"
                    if g["updates"].notna().all()
                    else "-",
                }
            )
    return pd.DataFrame(rows)


def cost_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run that is a result: CPU time, wall-clock (and whether other work slowed it), training env
    steps/s, gradient updates."""
    done = _results(runs)
    order = {a: i for i, a in enumerate(arm_order(list(done["arm"].unique())))}
    done = done.sort_values(["env", "arm", "seed"], key=lambda c: c.map(order) if c.name == "arm" else c)
    cpu = _cpu(done)
    slowed = inflated(done)
    return pd.DataFrame(
        {
            "env": done["env"],
            "arm": done["arm"],
            "seed": done["seed"],
            "status": done["status"],
            "CPU time": [fmt_duration(c) if not np.isnan(c) else NOT_RECORDED for c in cpu],
            "wall-clock": [
                fmt_duration(w) + (" (slowed by other work)" if s else "")
                for w, s in zip(done["wall_s"], slowed, strict=True)
            ],
            "training env steps/s": done["steps_per_s"].round(1),
            "gradient updates": done["updates"],
        }
    )


def caveat(runs: pd.DataFrame) -> str:
    """What the cost figures of ``runs`` can say: CPU time compares arms; wall-clock compares machines
    too. Names the runs without CPU time and those other work slowed."""
    done = _results(runs)
    missing = int(_cpu(done).isna().sum())
    slowed = int(inflated(done).sum())
    text = (
        "Cost: CPU time (user + system, evaluations included) is what a run cost whatever else the machine "
        "was doing; wall-clock also measures the machine."
    )
    if missing:
        text += (
            f" {missing} of {len(done)} runs were recorded before CPU time was: their wall-clock includes any "
            "other work on their cores and does not compare arms (`make bench` compares speed properly)."
        )
    if slowed:
        text += (
            f" {slowed} runs used under {INFLATED_BELOW:.0%} of their wall-clock in CPU time: other work slowed them."
        )
    return text
