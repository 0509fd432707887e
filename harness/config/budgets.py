"""The named budgets as data: a fraction of each env's full (rl-zoo3) budget and its evaluation
schedule. Shared by the study (which sizes runs with them) and the report (which names them)."""

from __future__ import annotations

from dataclasses import dataclass


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
