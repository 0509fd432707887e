"""What a study runs: budgets, run specs, and the expansion envs x arms x seeds -> runs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import hparams
from harness.agents import get_arm
from harness.config import as_plain
from harness.envs import env_name
from harness.errors import UsageError


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
#: Evaluation episode i of every run, of every arm, resets its env with seed EVAL_SEED + i.
EVAL_SEED = 1_000_000


@dataclass(frozen=True)
class Budget:
    """Env steps per run and the evaluation schedule; identical for every arm on an env."""

    preset: str
    total_steps: int
    full_steps: int
    eval_freq: int
    eval_episodes: int

    @property
    def learning_starts_scale(self) -> float:
        """Factor applied to every arm's learning_starts so short budgets still train."""
        return min(1.0, self.total_steps / self.full_steps)

    def eval_steps(self) -> list[int]:
        """Env steps at which the harness evaluates: 0, E, 2E, ..., and the final step."""
        steps = list(range(0, self.total_steps, self.eval_freq))
        return steps + [self.total_steps]


def make_budget(preset: str, full_steps: int, steps: int | None = None, eval_freq: int | None = None,
                eval_episodes: int | None = None) -> Budget:
    """The budget of ``preset`` for an env whose full budget is ``full_steps``; ``steps`` overrides."""
    p = PRESETS[preset]
    total = steps if steps is not None else max(MIN_STEPS, round(full_steps * p.fraction))
    freq = eval_freq if eval_freq is not None else max(1, total // p.evaluations)
    return Budget(preset, total, full_steps, freq, eval_episodes or p.eval_episodes)


@dataclass(frozen=True)
class RunSpec:
    """One run: frozen and hashable. ``config`` is the arm's typed config exactly as used."""

    study: str
    arm: str
    env_id: str
    seed: int
    budget: Budget
    config: Any
    hp_sources: tuple[str, ...]
    learning_starts_configured: int
    device: str
    eval_seed: int = EVAL_SEED

    @property
    def key(self) -> str:
        """``<arm>/<env>_<seed>``: the run's directory inside its study."""
        return f"{self.arm}/{env_name(self.env_id)}_{self.seed}"

    def run_dir(self, results_root: Path) -> Path:
        return Path(results_root) / self.study / self.key

    def identity(self) -> dict[str, Any]:
        """Everything that determines the run's results (not the study name, not threads)."""
        return {
            "arm": self.arm,
            "env_id": self.env_id,
            "seed": self.seed,
            "budget": dataclasses.asdict(self.budget),
            "hyperparameters": as_plain(self.config),
            "device": self.device,
            "eval_seed": self.eval_seed,
        }

    def spec_hash(self) -> str:
        return _hash(self.identity())

    def matches(self, meta: dict[str, Any] | None) -> bool:
        """Whether ``meta`` (a run directory's meta.json) records this same run.

        A run recorded before a hyperparameter existed ran with that hyperparameter's default
        (a new option never changes what its default does), so keys missing from the record
        take the config's defaults: adding an option to an arm keeps its finished runs valid
        and its unfinished ones resumable.
        """
        if meta is None:
            return False
        if meta.get("spec_hash") == self.spec_hash():
            return True
        recorded = meta.get("spec")
        if not isinstance(recorded, dict) or not isinstance(recorded.get("hyperparameters"), dict):
            return False
        identity = {key: recorded.get(key) for key in self.identity()}
        identity["hyperparameters"] = {**as_plain(type(self.config)()), **recorded["hyperparameters"]}
        return _hash(identity) == self.spec_hash()


def _hash(identity: dict[str, Any]) -> str:
    blob = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


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
    hp_set: str = "default"  # "tuned": apply hyperparams/tuned/<arm>/<env>.yml

    def expand(self, hp_dir: Path = hparams.HYPERPARAMS_DIR) -> list[RunSpec]:
        """All runs, env-major then arm then seed; every arm on an env gets the same Budget.

        The env's full budget is the largest ``n_timesteps`` among the arms (baselines such as
        ``random`` do not vote), so no arm is cut short; each arm's learning_starts is scaled by
        the budget's fraction.
        """
        if self.budget not in PRESETS:
            raise UsageError(f"unknown budget '{self.budget}'; accepted: {', '.join(PRESETS)}")
        runs = []
        for env_id in self.envs:
            resolved = {a: hparams.resolve(get_arm(a), env_id, self.hp_files, self.hp_overrides, hp_dir,
                                           tuned=self.hp_set == "tuned") for a in self.arms}
            voters = [r.n_timesteps for a, r in resolved.items() if get_arm(a).sets_budget]
            full = max(voters or [r.n_timesteps for r in resolved.values()])
            budget = make_budget(self.budget, full, self.steps, self.eval_freq, self.eval_episodes)
            for arm, r in resolved.items():
                configured = r.config.learning_starts
                scaled = round(configured * budget.learning_starts_scale)
                config = dataclasses.replace(r.config, learning_starts=scaled)
                for seed in self.seeds:
                    runs.append(RunSpec(self.name, arm, env_id, seed, budget, config, r.sources, configured,
                                        self.device))
        return runs


def default_study_name(envs: Sequence[str], budget: str, steps: int | None) -> str:
    size = f"{steps}steps" if steps is not None else budget
    return "+".join(env_name(e) for e in envs) + f"-{size}"
