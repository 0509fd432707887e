"""What a tuning study leaves in results/tuning/<study>/: plots (PNG, and HTML with plotly) and summary.md."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import optuna
from optuna.trial import TrialState

PLOTS = {
    "optimization_history": "plot_optimization_history",
    "param_importances": "plot_param_importances",
    "intermediate_values": "plot_intermediate_values",
}


def plots_and_summary(study: optuna.Study, folder: Path, spec: Any) -> list[Path]:
    """Write every plot the study's trials allow, and summary.md; returns the files written."""
    with warnings.catch_warnings():  # optuna marks its matplotlib plots "experimental"
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return _plots_and_summary(study, folder, spec)


def _plots_and_summary(study: optuna.Study, folder: Path, spec: Any) -> list[Path]:
    import optuna.visualization as vis
    import optuna.visualization.matplotlib as mvis

    folder.mkdir(parents=True, exist_ok=True)
    written, skipped = [], []
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    for name, fn in PLOTS.items():
        if name == "param_importances" and len(complete) < 2:
            skipped.append(f"{name}: needs at least 2 complete trials")
            continue
        if not complete:
            skipped.append(f"{name}: no complete trial")
            continue
        ax = getattr(mvis, fn)(study)
        fig = ax.figure if hasattr(ax, "figure") else ax[0].figure
        fig.set_size_inches(8, 5)
        fig.tight_layout()
        fig.savefig(folder / f"{name}.png", dpi=120)
        plt.close(fig)
        written.append(folder / f"{name}.png")
        try:
            getattr(vis, fn)(study).write_html(folder / f"{name}.html", include_plotlyjs="cdn")
            written.append(folder / f"{name}.html")
        except ImportError:
            skipped.append(f"{name}.html: plotly is not installed")
    summary = folder / "summary.md"
    summary.write_text(_summary(study, spec, written, skipped))
    return [*written, summary]


def _summary(study: optuna.Study, spec: Any, written: list[Path], skipped: list[str]) -> str:
    counts = {
        s.name.lower(): len(study.get_trials(deepcopy=False, states=(s,)))
        for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
    }
    lines = [
        f"# Tuning study `{spec.study}`: {spec.arm} on {spec.env_id}",
        "",
        f"- trials: {', '.join(f'{n} {k}' for k, n in counts.items())} (cap {spec.trials})",
        f"- objective: mean final evaluation return over {spec.seeds_per_trial} seed(s) per trial; "
        f"budget {spec.base_run().budget.preset}" + (f", {spec.steps:,} steps" if spec.steps else ""),
        f"- sampler {spec.sampler} (seed {spec.seed}), pruner {spec.pruner}; storage "
        f"{spec.storage or 'journal.log in this folder'}",
        "",
    ]
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if complete:
        best = study.best_trial
        lines += [f"Best: trial {best.number}, value {best.value:.2f}", "", "| hyperparameter | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in best.params.items()]
        lines.append("")
    lines += [f"![{p.stem}]({p.name})" for p in written if p.suffix == ".png"]
    if skipped:
        lines += ["", "Not drawn: " + "; ".join(skipped)]
    lines += [
        "",
        "Open the study in optuna-dashboard: `pip install optuna-dashboard`, then "
        f"`optuna-dashboard {spec.storage or 'results/tuning/' + spec.study + '/journal.log'}`.",
        "",
    ]
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    if failed:
        lines += (
            ["Failed trials:", ""]
            + [f"- trial {t.number}: {t.user_attrs.get('fail_reason', 'see the log')}" for t in failed]
            + [""]
        )
    return "\n".join(lines)
