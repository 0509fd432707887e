"""The tuned-values file: the best hyperparameters of a tuning study with their provenance.

One file per arm and env, ``<tuned dir>/<arm>/<env>.yml``::

    hyperparameters: {learning_rate: 0.0015, ...}   # the study's best trial's sampled values
    provenance: {study, arm, env_id, trial, value, budget: {preset, steps}, seeds, trials: {...}, date, ...}

A tuning study writes its own (``results/tuning/<study>/tuned/``); ``hyperparams/tuned/`` holds the
promoted ones that ``compare --hp-set tuned`` reads by default. The resolver, the tuner and the
promotion all read and write this format through here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import HYPERPARAMS_DIR, env_name, yamlio
from harness.config.seeds import EVAL_SEED, MAX_EVAL_EPISODES
from harness.errors import ConfigError

#: Where ``compare --hp-set tuned`` reads tuned values unless told another directory.
TUNED_DIR = HYPERPARAMS_DIR / "tuned"
#: A tuning study's own tuned directory, inside its results folder ``results/tuning/<study>/``.
STUDY_SUBDIR = "tuned"
HEADER = "# Best values of a tuning study (`python -m harness tune`); read by `compare --hp-set tuned`.\n"


def path_for(tuned_dir: Path, arm: str, env_id: str) -> Path:
    """``<tuned_dir>/<arm>/<env>.yml``."""
    return Path(tuned_dir) / arm / f"{env_name(env_id)}.yml"


@dataclass(frozen=True)
class Tuned:
    """A tuned-values file as read: its hyperparameters and what produced them."""

    path: Path
    hyperparameters: dict[str, Any]
    provenance: dict[str, Any]

    @property
    def study(self) -> str | None:
        study = self.provenance.get("study")
        return str(study) if study is not None else None

    @property
    def steps(self) -> int | None:
        """Env steps per trial run (the budget the values were found with), if recorded."""
        budget = self.provenance.get("budget")
        steps = budget.get("steps") if isinstance(budget, Mapping) else None
        return int(steps) if isinstance(steps, (int, float)) and not isinstance(steps, bool) else None

    @property
    def value(self) -> float | None:
        """The best trial's objective (mean final evaluation return), if recorded."""
        value = self.provenance.get("value")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    @property
    def finished_trials(self) -> int | None:
        trials = self.provenance.get("trials")
        if not isinstance(trials, Mapping):
            return None
        return sum(int(trials.get(k) or 0) for k in ("complete", "pruned"))

    @property
    def train_seeds(self) -> list[int]:
        """The training seeds of the trial whose values these are, as recorded."""
        seeds = self.provenance.get("seeds")
        return [int(x) for x in seeds] if isinstance(seeds, list) else []

    @property
    def eval_episodes(self) -> range:
        """The evaluation episodes' reset seeds the trials were ranked on: as recorded, else (values tuned
        before tuning had its own episodes) the studies' own, EVAL_SEED onwards."""
        evaluation = self.provenance.get("evaluation")
        if isinstance(evaluation, Mapping) and "seed" in evaluation:
            return range(int(evaluation["seed"]), int(evaluation["seed"]) + int(evaluation.get("episodes", 1)))
        return range(EVAL_SEED, EVAL_SEED + MAX_EVAL_EPISODES)

    def overlap(self, seeds: Sequence[int], eval_seed: int, episodes: int) -> str | None:
        """In words, how the seeds and evaluation episodes these values were selected on overlap a study's
        (``seeds``, episodes ``eval_seed`` .. ``eval_seed + episodes - 1``); None when they are apart."""
        parts = []
        shared = sorted(set(seeds) & set(self.train_seeds))
        if shared:
            parts.append(f"training seed{'s' * (len(shared) > 1)} {', '.join(map(str, shared))}")
        episodes_shared = set(range(eval_seed, eval_seed + episodes)) & set(self.eval_episodes)
        if episodes_shared:
            recorded = (
                "recorded"
                if isinstance(self.provenance.get("evaluation"), Mapping)
                else "not recorded: tuned before tuning had its own"
            )
            parts.append(f"{len(episodes_shared)} of its {episodes} evaluation episodes ({recorded})")
        if not parts:
            return None
        return (
            f"tuned values selected on this study's own {' and '.join(parts)} ({self.describe()}): its score here "
            "is optimistically biased, judged on what it was selected on; tuning again keeps them apart"
        )

    def describe(self) -> str:
        """``study td3-Pendulum-v1, 10,000 steps x 1 seed, 21 trials, value -146.6, 2026-11-21``:
        whatever of these the file records."""
        p = self.provenance
        parts = [f"study {self.study}" if self.study else "study not recorded"]
        if self.steps is not None:
            seeds = p.get("seeds")
            n_seeds = len(seeds) if isinstance(seeds, list) else None
            parts.append(f"{self.steps:,} steps" + (f" x {n_seeds} seed{'s' * (n_seeds != 1)}" if n_seeds else ""))
        if self.finished_trials is not None:
            parts.append(f"{self.finished_trials} trials")
        parts.append(f"value {self.value:.1f}" if self.value is not None else "value not recorded")
        if p.get("date"):
            parts.append(str(p["date"])[:10])
        return ", ".join(parts)


def load(path: Path, results_root: Path | None = None) -> Tuned:
    """Read a tuned-values file; ConfigError naming the file when it is not one.

    A file whose provenance names its study but lacks the budget or value (written before they
    were recorded) takes them from that study's own file under ``results_root/tuning/<study>/``
    when it is there.
    """
    data = yamlio.load_file(path) or {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping with 'hyperparameters' and 'provenance'")
    values, provenance = data.get("hyperparameters") or {}, data.get("provenance") or {}
    if not isinstance(values, Mapping):
        raise ConfigError(f"{path} [hyperparameters]: expected a mapping of hyperparameters")
    if not isinstance(provenance, Mapping):
        raise ConfigError(f"{path} [provenance]: expected a mapping")
    tuned = Tuned(Path(path), dict(values), dict(provenance))
    if results_root is not None and tuned.study and (tuned.steps is None or tuned.value is None):
        own = path_for(study_tuned_dir(results_root, tuned.study), Path(path).parent.name, Path(path).stem)
        if own.exists() and own.resolve() != Path(path).resolve():
            recorded = load(own)
            if recorded.hyperparameters == tuned.hyperparameters:
                tuned = Tuned(tuned.path, tuned.hyperparameters, {**recorded.provenance, **tuned.provenance})
    return tuned


def dump(hyperparameters: Mapping[str, Any], provenance: Mapping[str, Any]) -> str:
    return HEADER + yamlio.dump({"hyperparameters": dict(hyperparameters), "provenance": dict(provenance)})


def study_tuned_dir(results_root: Path, study: str) -> Path:
    """A tuning study's own tuned directory: ``<results_root>/tuning/<study>/tuned``."""
    return Path(results_root) / "tuning" / study / STUDY_SUBDIR
