"""Value estimates in the report: the TD3 paper's Figure 1 made from any study, and the final bias.

Reads the value columns of evals.csv (``harness.run.rundir.VALUE_COLUMNS``; ``harness.run.values``
says how they are measured): per env, a figure of the critic's mean estimate Q(s_t, a_t) and the
mean discounted return observed from the same evaluation states, over env steps, per arm; and a
table of the bias at each run's final evaluation, its mean over seeds with a 95% bootstrap CI.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from harness.report import stats
from harness.report.arms import arm_colors, arm_order
from harness.report.load import Study
from harness.run.rundir import VALUE_COLUMNS

#: What the section says about entropy-regularized critics, whose estimate is a soft value.
SOFT_NOTE = (
    "SAC, TQC and CrossQ learn a *soft* Q: the expected return of their stochastic policy plus the "
    "discounted entropy bonuses -alpha log pi of the steps after (s, a). Beside the deterministic policy's "
    "observed return it is not expected to be equal even for a perfect critic: its difference is the "
    "bias plus those bonuses (negative once the policy's entropy is negative, as a narrow tanh-Gaussian's is) "
    "and plus the gap between the stochastic and the deterministic policy."
)


def value_evals(study: Study, env: str) -> pd.DataFrame:
    """The evaluations of ``env``'s result runs that carry value diagnostics (finite, at least one state)."""
    ev = study.evals
    if ev.empty or "value_bias" not in ev:
        return ev.iloc[0:0]
    runs = study.results(env)
    keep = ev[(ev["env"] == env) & ev["arm"].isin(runs["arm"])]
    return keep[np.isfinite(keep["value_bias"]) & (keep["value_states"] > 0)]


def final_bias(values: pd.DataFrame) -> pd.DataFrame:
    """One row per run (arm, seed): its last evaluation with value diagnostics."""
    return values.sort_values("step").groupby(["arm", "seed"], as_index=False).last()


def bias_table(study: Study, env: str, reps: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Per arm with a critic: what it estimates, runs, and at the final evaluation the mean estimate,
    the mean observed value and the mean bias over seeds with its 95% bootstrap CI."""
    finals = final_bias(value_evals(study, env))
    critic: dict[str, str] = {}
    if "critic" in study.runs:
        critic = dict(study.runs.dropna(subset=["critic"]).groupby("arm")["critic"].first())
    rows = []
    for arm in arm_order(list(finals["arm"].unique())):
        f = finals[finals["arm"] == arm]
        bias = f["value_bias"].to_numpy(float)
        lo, hi = stats.bootstrap_ci(bias, stats.mean, reps, seed=seed)
        true = float(f["value_true"].mean())
        rows.append(
            {
                "arm": arm,
                "critic estimates": critic.get(arm, "Q(s, a)"),
                "runs": len(f),
                "step": int(f["step"].max()),
                "estimate": float(f["value_estimate"].mean()),
                "observed": true,
                "bias": float(bias.mean()),
                "bias 95% CI": f"[{lo:.1f}, {hi:.1f}]",
                "relative bias": f"{bias.mean() / abs(true):+.0%}" if true else "n/a",
            }
        )
    return pd.DataFrame(rows)


def value_figure(values: pd.DataFrame, env: str, path: Path) -> Path:
    """Left: estimated (solid) and observed (dashed) value over env steps, per arm; right: their
    difference. Means over seeds, bands spanning the seeds' range; symmetric-log y axes."""
    arms = arm_order(list(values["arm"].unique()))
    colors = arm_colors(arms)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.5))
    panels = (
        (ax, "value_estimate", "-", "estimate"),
        (ax, "value_true", "--", "observed"),
        (bx, "value_bias", "-", ""),
    )
    for arm in arms:
        g = values[values["arm"] == arm].groupby("step")
        for axes, column, style, label in panels:
            mean, low, high = g[column].mean(), g[column].min(), g[column].max()
            axes.plot(mean.index, mean.to_numpy(), style, color=colors[arm], label=f"{arm} {label}".strip())
            axes.fill_between(mean.index, low.to_numpy(), high.to_numpy(), color=colors[arm], alpha=0.12, lw=0)
    ax.set_ylabel("value of the evaluation states")
    ax.set_title(f"{env}: critic's Q(s, a) (solid), observed return (dashed)")
    bx.axhline(0.0, color="black", lw=0.8)
    bx.set_ylabel("estimate - observed")
    bx.set_title(f"{env}: value bias (> 0: overestimation)")
    for axes in (ax, bx):
        # Untrained critics (Q near 0 during the warm-up) against returns of hundreds would hide the
        # differences of a few units that matter later: a scale linear within +-10, logarithmic beyond.
        axes.set_yscale("symlog", linthresh=10.0)
        axes.set_xlabel("env steps")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, ncol=2 if axes is ax else 1)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def value_section(study: Study, reps: int = 10_000, seed: int = 0) -> list[str]:
    """The report's markdown section on value estimates (empty when no run has value diagnostics)."""
    envs = [env for env in sorted(study.runs["env"].unique()) if not value_evals(study, env).empty]
    if not envs:
        return []
    lines = [
        "## Value estimates: does the critic overestimate?",
        "",
        "At every evaluation the harness compares each critic's Q(s_t, a_t) on the states and actions of "
        "the evaluation episodes with the discounted return observed from s_t on (the episodes run past "
        "the time limit until the cut-off tail weighs at most 1%; their scores count only the steps up to "
        f"the limit). Columns {', '.join(f'`{c}`' for c in VALUE_COLUMNS)} of evals.csv. Positive bias: "
        "the critic overestimates (Fujimoto et al. 2018, Figure 1).",
        "",
    ]
    for env in envs:
        values = value_evals(study, env)
        figure = value_figure(values, env, study.root / f"values_{env}.png")
        table = bias_table(study, env, reps, seed)
        lines += [f"### {env}", "", f"![value estimates on {env}]({figure.name})", ""]
        lines += [table.to_markdown(index=False, floatfmt=".1f"), ""]
        if table["critic estimates"].str.contains("soft").any():
            lines += [SOFT_NOTE, ""]
    return lines
