"""What a study runs: the expansion envs x arms x seeds -> runs, one budget per env."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.agents import get_arm
from harness.config import HYPERPARAMS_DIR, env_name, resolve
from harness.errors import UsageError
from harness.run.spec import RunSpec
from harness.study.budget import PRESETS, make_budget


@dataclass(frozen=True)
class StudySpec:
    """A matched-budget study: every arm on every env with every seed, one budget per env."""

    name: str
    envs: tuple[str, ...]
    arms: tuple[str, ...]
    seeds: tuple[int, ...]
    budget: str = "smoke"
    steps: int | None = None
    eval_freq: int | None = None
    eval_episodes: int | None = None
    device: str = "cpu"
    hp_files: tuple[Path, ...] = ()
    hp_overrides: Mapping[str, Any] = field(default_factory=dict)
    hp_set: str = "default"  # "tuned": apply <tuned_dir>/<arm>/<env>.yml
    tuned_dir: Path | None = None  # None: hyperparams/tuned

    def expand(self, hp_dir: Path = HYPERPARAMS_DIR) -> list[RunSpec]:
        """All runs, env-major then arm then seed; every arm on an env gets the same Budget.

        The env's full budget is the largest ``n_timesteps`` among the arms (baselines such as
        ``random`` do not vote), so no arm is cut short; each arm's learning_starts is scaled by
        the budget's fraction.
        """
        if self.budget not in PRESETS:
            raise UsageError(f"unknown budget '{self.budget}'; accepted: {', '.join(PRESETS)}")
        runs = []
        for env_id in self.envs:
            resolved = {
                a: resolve.resolve(
                    get_arm(a),
                    env_id,
                    self.hp_files,
                    self.hp_overrides,
                    hp_dir,
                    tuned=self.hp_set == "tuned",
                    tuned_dir=self.tuned_dir,
                )
                for a in self.arms
            }
            voters = [r.n_timesteps for a, r in resolved.items() if get_arm(a).sets_budget]
            full = max(voters or [r.n_timesteps for r in resolved.values()])
            budget = make_budget(self.budget, full, self.steps, self.eval_freq, self.eval_episodes)
            for arm, r in resolved.items():
                configured = r.config.learning_starts
                scaled = round(configured * budget.learning_starts_scale)
                config = dataclasses.replace(r.config, learning_starts=scaled)
                for seed in self.seeds:
                    runs.append(
                        RunSpec(self.name, arm, env_id, seed, budget, config, r.sources, configured, self.device)
                    )
        return runs


def default_study_name(envs: Sequence[str], budget: str, steps: int | None) -> str:
    size = f"{steps}steps" if steps is not None else budget
    return "+".join(env_name(e) for e in envs) + f"-{size}"
