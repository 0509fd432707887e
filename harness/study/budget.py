"""Named budgets: a fraction of each env's full (rl-zoo3) budget with its evaluation schedule."""

from __future__ import annotations

from dataclasses import dataclass

from harness.run.spec import Budget


@dataclass(frozen=True)
class BudgetPreset:
    """A named budget: a fraction of the env's full (rl-zoo3) budget and its evaluation schedule."""

    name: str
    fraction: float
    evaluations: int  # evaluations after step 0; eval_freq = total_steps // evaluations
    eval_episodes: int
    purpose: str


PRESETS: dict[str, BudgetPreset] = {
    p.name: p
    for p in (
        BudgetPreset("smoke", 0.01, 5, 3, "does every arm run end to end and learn a little?"),
        BudgetPreset("quick", 0.10, 10, 5, "an early look at learning curves"),
        BudgetPreset("full", 1.00, 20, 10, "rl-zoo3's n_timesteps: results to compare with published ones"),
    )
}
#: The smallest budget a preset gives, so short envs still see several episodes and updates.
MIN_STEPS = 1000


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
