"""What a study runs: the expansion envs x arms x seeds -> runs, one budget per env."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

from harness.agents import external, get_arm, known_arms
from harness.config import HYPERPARAMS_DIR, env_name, resolve, yamlio
from harness.config.schema import has_learning_starts, learning_starts
from harness.config.seeds import EVAL_SEED, TUNING_SEED_BASE
from harness.errors import ConfigError, UsageError, suggest
from harness.run import provenance
from harness.run.spec import RunSpec
from harness.study.budget import PRESETS, make_budget


@dataclass(frozen=True)
class StudySpec:
    """A matched-budget study: every arm on every env with every seed, one budget per env."""

    name: str
    envs: tuple[str, ...]
    arms: tuple[str, ...]
    seeds: tuple[int, ...]
    budget: str | None = "smoke"  # None: the one whose share of the full budget ``steps`` is (budget.preset_for)
    steps: int | None = None
    eval_freq: int | None = None
    eval_episodes: int | None = None
    device: str = "cpu"
    hp_files: tuple[Path, ...] = ()
    hp_overrides: Mapping[str, Any] = field(default_factory=dict)
    hp_set: str = "default"  # "tuned": apply <tuned_dir>/<arm>/<env>.yml
    tuned_dir: Path | None = None  # None: hyperparams/tuned
    value_episodes: int = 3  # episodes of each evaluation the value measure records (0: off)

    def expand(self, hp_dir: Path = HYPERPARAMS_DIR) -> list[RunSpec]:
        """All runs, env-major then arm then seed; every arm on an env gets the same Budget.

        The env's full budget is the largest ``n_timesteps`` among the arms (baselines such as
        ``random``, and arms whose sources set none, do not vote), so no arm is cut short; each
        arm's learning_starts, where its config has one, is scaled by the budget's fraction.
        """
        if self.seeds and max(self.seeds) >= TUNING_SEED_BASE:
            raise UsageError(
                f"seed {max(self.seeds):,} is in the range tuning trials train with ({TUNING_SEED_BASE:,} on); a study's "
                "seeds stay below it, so a tuned configuration is never judged on the seeds it was selected on"
            )
        if self.budget is not None and self.budget not in PRESETS:
            raise UsageError(f"unknown budget '{self.budget}'; accepted: {', '.join(PRESETS)}")
        arms = {a: get_arm(a) for a in self.arms}
        self.hp_file_sections()  # a typo'd section of an HP file is refused before anything resolves
        code = {a: provenance.agent_code(arm.code_module, arm.target) for a, arm in arms.items()}
        runs = []
        for env_id in self.envs:
            resolved = {
                a: resolve.resolve(
                    arm,
                    env_id,
                    self.hp_files,
                    self.hp_overrides,
                    hp_dir,
                    tuned=self.hp_set == "tuned",
                    tuned_dir=self.tuned_dir,
                )
                for a, arm in arms.items()
            }
            budget = make_budget(
                self.budget, self._full_steps(env_id, resolved, arms), self.steps, self.eval_freq, self.eval_episodes
            )
            for arm, r in resolved.items():
                configured = learning_starts(r.config)
                config = r.config
                if has_learning_starts(config):
                    config = dataclasses.replace(
                        config, learning_starts=round(configured * budget.learning_starts_scale)
                    )
                for seed in self.seeds:
                    overlap = (
                        r.tuned.overlap(self.seeds, EVAL_SEED, budget.eval_episodes) if r.tuned is not None else None
                    )
                    runs.append(
                        RunSpec(
                            self.name,
                            arm,
                            env_id,
                            seed,
                            budget,
                            config,
                            r.sources,
                            configured,
                            self.device,
                            agent_code=code[arm],
                            tuning_overlap=overlap,
                            value_episodes=self.value_episodes,
                            algorithm=arms[arm].algorithm,
                        )
                    )
        return runs

    def hp_file_sections(self) -> list[str]:
        """Per --hp-file, which of its sections apply to this study and which are kept for other studies
        (another registered arm, another gymnasium env), as plan lines; ConfigError for a section that
        names no arm or no env at all (a typo: ``tdd3``, ``Pendulm-v1``), with close matches."""
        study_arms = {a: get_arm(a) for a in self.arms}
        own = {key for arm in study_arms.values() for key in (arm.name, arm.files)}
        others = set(known_arms()) | set(external.entry_points())
        envs = {env_name(e) for e in self.envs}
        lines = []
        for file in self.hp_files:
            data = yamlio.load_file(file)
            if not isinstance(data, Mapping):
                continue  # resolve() refuses it with the file's expected shape
            applied: list[str] = []
            elsewhere: list[str] = []
            for arm_key, per_arm in data.items():
                arm_key = str(arm_key)
                if (
                    arm_key != "all"
                    and arm_key not in own
                    and arm_key not in others
                    and not external.is_import_path(arm_key)
                ):
                    raise ConfigError(
                        f"{file}: section '{arm_key}' names no arm.{suggest(arm_key, sorted(own | others))} Accepted: "
                        f"'all', this study's arms ({', '.join(self.arms)}), or another arm's name (kept for other studies)"
                    )
                for env_key in per_arm if isinstance(per_arm, Mapping) else ():
                    env_key = str(env_key)
                    if env_key != "all" and env_key not in envs and env_key not in gym.registry:
                        raise ConfigError(
                            f"{file} [{arm_key}]: section '{env_key}' names no env.{suggest(env_key, sorted(envs | set(gym.registry)))} "
                            f"Accepted: 'all', this study's envs ({', '.join(sorted(envs))}), or another registered "
                            "gymnasium id (kept for other studies)"
                        )
                    where = f"[{arm_key}][{env_key}]"
                    applies = (arm_key == "all" or arm_key in own) and (env_key == "all" or env_key in envs)
                    (applied if applies else elsewhere).append(where)
            line = f"  {file}: applies {', '.join(applied) or 'no section'}"
            lines.append(line + (f"; kept for other studies: {', '.join(elsewhere)}" if elsewhere else ""))
        return lines

    def _full_steps(self, env_id: str, resolved: Mapping[str, resolve.Resolved], arms: Mapping[str, Any]) -> int:
        """The env's full budget: the largest n_timesteps of the arms that set the budget, else of any
        arm; with none set (only arms without rl-zoo3 values or files), --steps stands for it."""
        voters = [r.n_timesteps for a, r in resolved.items() if arms[a].sets_budget and r.n_timesteps]
        voters = voters or [r.n_timesteps for r in resolved.values() if r.n_timesteps]
        if voters:
            return max(voters)
        if self.steps is not None:
            return self.steps
        raise UsageError(
            f"no arm of this study sets a full budget for {env_name(env_id)} (arms without rl-zoo3 values read "
            f"n_timesteps from hyperparams/<arm>.yml or an HP file): set one there, add an arm that has one "
            f"(td3, sb3-td3), or give STEPS=N (--steps)"
        )


def default_study_name(envs: Sequence[str], budget: str, steps: int | None) -> str:
    size = f"{steps}steps" if steps is not None else budget
    return "+".join(env_name(e) for e in envs) + f"-{size}"
