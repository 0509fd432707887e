"""Report figures: learning curves (IQM and 95% bootstrap band over seeds) and performance profiles.

Colors are fixed per arm (``arms.arm_colors``), so an arm has one color in every figure.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter
from scipy import stats as sps

from harness.report.arms import arm_colors, arm_order, arm_styles

CURVE_POINTS = 60


def iqm_band(matrix: np.ndarray, reps: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM over runs and its 95% percentile-bootstrap band, at every column.

    ``matrix`` is (runs, points); returns (iqm, low, high), each (points,). Runs are resampled
    together across points (a resample is a set of whole runs).
    """
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, matrix.shape[0], size=(reps, matrix.shape[0]))
    boot = sps.trim_mean(matrix[idx], 0.25, axis=1)  # (reps, points)
    low, high = np.percentile(boot, [2.5, 97.5], axis=0)
    return sps.trim_mean(matrix, 0.25, axis=0), low, high


def _steps_matrix(evals: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(steps,), (runs, steps) of evaluation returns on the steps every run has."""
    table = evals.pivot_table(index="seed", columns="step", values="return_mean").dropna(axis=1)
    return table.columns.to_numpy(), table.to_numpy()


def _wall_matrix(evals: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Returns interpolated on a common wall-clock grid (seconds) up to the shortest run's end.

    A diverged run's held rows have no wall-clock (NaN): it keeps its score after its last timed
    evaluation, and only runs that reached the end of the budget bound the grid (all runs when none did).
    """
    runs = [g.sort_values("step") for _, g in evals.groupby("seed")]
    timed = [g[g["wall_s"].notna()] for g in runs]
    whole = [t for t, g in zip(timed, runs, strict=True) if len(t) == len(g)] or [t for t in timed if len(t)]
    end = min((t["wall_s"].iloc[-1] for t in whole), default=0.0)
    grid = np.linspace(0.0, end, CURVE_POINTS)

    def curve(t: pd.DataFrame, g: pd.DataFrame) -> np.ndarray:
        if t.empty:  # diverged before its first evaluation was timed: its score throughout
            return np.full(grid.shape, g["return_mean"].iloc[-1])
        return np.interp(grid, t["wall_s"], t["return_mean"])

    return grid, np.stack([curve(t, g) for t, g in zip(timed, runs, strict=True)])


def _thousands(x: float, _: int) -> str:
    return f"{x / 1e6:g}M" if abs(x) >= 1e6 else (f"{x / 1e3:g}k" if abs(x) >= 1e3 else f"{x:g}")


def learning_curves(
    evals: pd.DataFrame,
    env: str,
    title: str,
    episodes: int,
    threshold: float | None,
    learning_starts: float | None,
    path: Path,
    reps: int,
    seed: int,
) -> Path:
    """Two panels for one env: return vs env steps, and vs wall-clock; one line per arm."""
    sns.set_theme(style="whitegrid", context="notebook")
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    arms = arm_order(list(evals["arm"].unique()))
    colors = arm_colors(arms)
    longest = float(evals.groupby(["arm", "seed"])["wall_s"].max().max())
    unit, scale = (
        ("hours", 3600.0) if longest >= 2 * 3600 else ("minutes", 60.0) if longest >= 180 else ("seconds", 1.0)
    )
    styles = arm_styles(arms)
    for arm in arms:
        data = evals[evals["arm"] == arm]
        n = data["seed"].nunique()
        grid, wall = _wall_matrix(data)
        for ax, (x, matrix) in zip(axes, (_steps_matrix(data), (grid / scale, wall)), strict=True):
            mid, low, high = iqm_band(matrix, reps, seed)
            ax.plot(
                x,
                mid,
                color=colors[arm],
                label=f"{arm} ({n} seed{'' if n == 1 else 's'})",
                linewidth=2,
                linestyle=styles[arm][0],
                marker=styles[arm][1],
                markevery=max(1, len(x) // 8),
                markersize=5,
            )
            ax.fill_between(x, low, high, color=colors[arm], alpha=0.2, linewidth=0)
    for ax in axes:
        if threshold is not None:
            ax.axhline(threshold, color="0.3", linestyle="--", linewidth=1)
            ax.annotate(
                f"threshold {threshold:g}",
                (0, threshold),
                xycoords=("axes fraction", "data"),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=8,
                color="0.3",
            )
    if learning_starts:
        axes[0].axvline(learning_starts, color="0.5", linestyle=":", linewidth=1)
        axes[0].annotate(
            "learning starts",
            (learning_starts, 0),
            xycoords=("data", "axes fraction"),
            xytext=(4, 6),
            textcoords="offset points",
            fontsize=8,
            color="0.4",
        )
    axes[0].xaxis.set_major_formatter(FuncFormatter(_thousands))
    axes[0].set_xlabel("environment steps")
    axes[1].set_xlabel(f"wall-clock ({unit}, up to each arm's shortest run)")
    axes[0].set_ylabel(f"evaluation return (mean of {episodes} episodes)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, title="arm: IQM, 95% bootstrap CI", loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9
    )
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return path


def performance_profile(
    finals: dict[str, list[np.ndarray]],
    title: str,
    xlabel: str,
    path: Path,
    reps: int,
    seed: int,
    floor: dict[str, float] | None = None,
    dots: dict[str, np.ndarray] | None = None,
) -> Path:
    """Fraction of runs whose final score exceeds each tau, per arm (all tasks pooled), with a 95% band
    by the stratified bootstrap: each resample draws every task's runs from that task (``finals`` holds
    one array per task, as stats.Scores).

    ``floor`` (arm -> score) is drawn as a marked vertical line instead of a curve, so a random policy
    far below the learning arms does not squeeze them together. ``dots`` (arm -> final scores of one
    task) adds a panel beside the profile: every run's score, with the IQM and its 95% bootstrap CI.
    """
    sns.set_theme(style="whitegrid", context="notebook")
    if dots:
        fig, (ax, dax) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1.4, 1]})
    else:
        fig, ax = plt.subplots(figsize=(7, 4.5))
    pooled = np.concatenate([np.concatenate(tasks) for tasks in finals.values()])
    margin = 0.05 * (pooled.max() - pooled.min() or 1.0)
    taus = np.linspace(pooled.min() - margin, pooled.max() + margin, 200)
    arms = arm_order(list(finals))
    every = arm_order(list(finals) + list(floor or {}) + list(dots or {}))
    colors, styles = arm_colors(every), arm_styles(every)
    rng = np.random.default_rng(seed)
    for arm in arms:
        tasks = [np.asarray(t, dtype=float) for t in finals[arm]]
        x = np.concatenate(tasks)
        above = (x[:, None] > taus[None, :]).astype(float)  # (runs, taus)
        starts = np.cumsum([0] + [t.size for t in tasks[:-1]])
        resampled = np.concatenate(
            [start + rng.integers(0, t.size, size=(reps, t.size)) for start, t in zip(starts, tasks, strict=True)],
            axis=1,
        )
        boot = above[resampled].mean(axis=1)
        low, high = np.percentile(boot, [2.5, 97.5], axis=0)
        ax.plot(
            taus,
            above.mean(axis=0),
            color=colors[arm],
            label=f"{arm} ({x.size} run{'' if x.size == 1 else 's'})",
            linewidth=2,
            linestyle=styles[arm][0],
            marker=styles[arm][1],
            markevery=25,
            markersize=5,
        )
        ax.fill_between(taus, low, high, color=colors[arm], alpha=0.2, linewidth=0)
    for arm, score in (floor or {}).items():
        off = score < taus[0]
        if not off:
            ax.axvline(score, color="0.3", linestyle="-.", linewidth=1)
        # a legend entry, so the floor's score is always readable, on the axis or off it
        ax.plot(
            [], [], color="0.3", linestyle="-.", label=f"{arm}: {score:,.1f}" + (" (off the axis, left)" if off else "")
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of runs with score > tau")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8, frameon=False)
    ax.set_title(title)
    if dots:
        _dot_panel(dax, dots, colors, styles, reps, seed)
    fig.tight_layout()
    fig.savefig(path, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return path


def _dot_panel(ax, dots: dict[str, np.ndarray], colors: dict, styles: dict, reps: int, seed: int) -> None:
    """One row per arm: every run's final score as a dot, the IQM as a bar with its 95% bootstrap CI."""
    arms = arm_order(list(dots))
    rng = np.random.default_rng(seed)
    for i, arm in enumerate(arms):
        x = np.asarray(dots[arm], dtype=float)
        jitter = rng.uniform(-0.12, 0.12, x.size)
        ax.scatter(x, i + jitter, color=colors[arm], s=22, alpha=0.8, marker=styles[arm][1], zorder=3)
        mid = float(sps.trim_mean(x, 0.25))
        if x.size > 1:
            idx = rng.integers(0, x.size, size=(reps, x.size))
            low, high = np.percentile(sps.trim_mean(x[idx], 0.25, axis=1), [2.5, 97.5])
            ax.plot([low, high], [i, i], color="0.15", linewidth=2, zorder=2)
        ax.plot([mid, mid], [i - 0.3, i + 0.3], color="0.15", linewidth=2.5, zorder=4)
    ax.set_yticks(range(len(arms)), [f"{a} ({np.asarray(dots[a]).size})" for a in arms])
    ax.invert_yaxis()
    ax.set_xlabel("final score per run (dots); IQM and its 95% CI (bar)")
    ax.set_title("final scores, every run")
    if len(arms) > 1:
        spread = [np.asarray(v, dtype=float) for v in dots.values()]
        lows = sorted(float(np.min(v)) for v in spread)
        highs = [float(np.max(v)) for v in spread]
        # a floor far below every other arm would squeeze them: cut the axis just past the second-lowest arm
        span = max(highs) - lows[1]
        if lows[0] < lows[1] - 3 * max(span, 1e-9):
            left = lows[1] - 0.15 * span - 1e-9
            ax.set_xlim(left, max(highs) + 0.1 * span + 1e-9)
            for i, arm in enumerate(arms):
                x = np.asarray(dots[arm], dtype=float)
                if x.max() < left:  # a floor far below: its score in words at the left edge of its row
                    ax.annotate(
                        f"\u2190 {float(sps.trim_mean(x, 0.25)):,.1f} (off the axis)",
                        (left, i),
                        xytext=(4, 0),
                        textcoords="offset points",
                        va="center",
                        fontsize=8,
                        color="0.3",
                    )


def improvement_matrix(finals: dict[str, list[np.ndarray]], title: str, path: Path) -> Path:
    """P(row > column) for every pair of arms as a heat map (the diagonal is 0.5 by definition)."""
    from harness.report import stats

    arms = arm_order(list(finals))
    m = np.array([[stats.probability_of_improvement(finals[a], finals[b]) for b in arms] for a in arms])
    sns.set_theme(style="white", context="notebook")
    size = 1.0 + 0.75 * len(arms)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    sns.heatmap(
        m,
        annot=True,
        fmt=".2f",
        vmin=0,
        vmax=1,
        cmap="RdBu_r",
        center=0.5,
        square=True,
        xticklabels=arms,
        yticklabels=arms,
        cbar_kws={"label": "P(row > column)"},
        ax=ax,
    )
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
