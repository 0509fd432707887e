"""Named budgets: a fraction of each env's full (rl-zoo3) budget with its evaluation schedule."""

from __future__ import annotations

from harness.config.budgets import MIN_STEPS, PRESETS, BudgetPreset  # noqa: F401  (re-exported)
from harness.run.spec import Budget


def make_budget(
    preset: str,
    full_steps: int,
    steps: int | None = None,
    eval_freq: int | None = None,
    eval_episodes: int | None = None,
) -> Budget:
    """The budget of ``preset`` for an env whose full budget is ``full_steps``; ``steps`` overrides."""
    p = PRESETS[preset]
    total = steps if steps is not None else max(MIN_STEPS, round(full_steps * p.fraction))
    freq = eval_freq if eval_freq is not None else max(1, total // p.evaluations)
    return Budget(preset, total, full_steps, freq, eval_episodes or p.eval_episodes)
