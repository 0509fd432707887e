"""Named budgets: a fraction of each env's full (rl-zoo3) budget with its evaluation schedule."""

from __future__ import annotations

from harness.config.budgets import MIN_STEPS, PRESETS, BudgetPreset  # noqa: F401  (re-exported)
from harness.run.spec import Budget


def preset_for(steps: int, full_steps: int) -> str:
    """The named budget whose evaluation schedule ``steps`` env steps take when no budget is named: the
    largest preset whose fraction of the full budget ``steps`` reaches (smoke below 10%, quick below
    100%, full from there), so a short run is not evaluated as often as a full one."""
    fraction = steps / full_steps
    reached = [p for p in PRESETS.values() if fraction >= p.fraction - 1e-12]
    return (
        max(reached, key=lambda p: p.fraction).name if reached else min(PRESETS.values(), key=lambda p: p.fraction).name
    )


def make_budget(
    preset: str | None,
    full_steps: int,
    steps: int | None = None,
    eval_freq: int | None = None,
    eval_episodes: int | None = None,
) -> Budget:
    """The budget of ``preset`` for an env whose full budget is ``full_steps``; ``steps`` overrides its
    size. ``preset`` None: ``preset_for(steps)`` with ``steps``, else the full budget."""
    if preset is None:
        preset = preset_for(steps, full_steps) if steps is not None else "full"
    p = PRESETS[preset]
    total = steps if steps is not None else max(MIN_STEPS, round(full_steps * p.fraction))
    freq = eval_freq if eval_freq is not None else max(1, total // p.evaluations)
    return Budget(preset, total, full_steps, freq, eval_episodes or p.eval_episodes)
