"""A sequential study (``compare --sequential``, ``make compare SEEDS=adaptive``): its looks, from the
record on disk to the next look's runs to the decision, with the test of harness.sequential.

Each look runs ``per_look`` new seeds of every arm that still has an open comparison, in the ordinary
run directories (results/<study>/<arm>/<env>_<seed>), then tests the open comparisons and writes the
look to results/<study>/sequential.json: its runs, scores, statistics, boundaries and decisions.
Repeating the command continues at the next look (a look interrupted midway resumes its runs); a
command whose design differs from the recorded one is refused. ``SequentialStudy`` is the look loop's
state; the CLI runs each look's plan (harness.cli.sequential) and asks it for the next.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness import sequential as seq
from harness.config import env_name, reference
from harness.errors import UsageError
from harness.run import rundir
from harness.run.locks import Locked, RunLock
from harness.run.results import run_result
from harness.study.plan import check_writable, remove_if_empty
from harness.study.spec import StudySpec

#: Recorded field -> the option that sets it, for the refusal's message.
OPTION = {
    "arms": "--algos",
    "per_look": "--per-look",
    "looks": "--looks",
    "alpha": "--alpha",
    "compare": "--compare",
    "equivalence_margin": "--equivalence-margin",
    "permutations": "relabellings per look",
    "seed": "--permutation-seed",
    "envs": "--env",
    "budget": "--budget",
    "steps": "--steps",
    "eval_freq": "--eval-freq",
    "eval_episodes": "--eval-episodes",
    "hp_set": "--hp-set",
    "hp_files": "--hp-file",
    "hp_overrides": "--hp",
    "seed_offset": "--seed-offset",
    "tuned_dir": "--tuned-dir",
}


def settings_of(study: StudySpec, seed_offset: int) -> dict[str, Any]:
    """What, besides the test's design, makes the runs of every look comparable: fixed with the design."""
    settings = {
        "envs": list(study.envs),
        "budget": study.budget,
        "steps": study.steps,
        "eval_freq": study.eval_freq,
        "eval_episodes": study.eval_episodes,
        "hp_set": study.hp_set,
        "hp_files": [str(p) for p in study.hp_files],
        "hp_overrides": dict(study.hp_overrides),
        "seed_offset": seed_offset,
        "tuned_dir": None if study.tuned_dir is None else str(study.tuned_dir),
    }
    return dict(json.loads(json.dumps(settings, default=str)))


def normalization_of(envs: tuple[str, ...]) -> tuple[list[float] | None, str]:
    """(low, scale) turning a seed's score into the normalized one (0 random, 1 threshold), or None when
    the env has no reference; and what a score is. With several envs a score is already normalized."""
    if len(envs) > 1:
        refs = {e: reference.lookup(e) for e in envs}
        missing = [e for e, r in refs.items() if r.random is None or r.threshold is None]
        if missing:
            raise UsageError(
                f"a sequential study on several envs scores each seed by its final scores normalized per env, "
                f"and {', '.join(missing)} lack a random-policy score or a threshold (add them to "
                "hyperparams/reference_scores.yml; `python -m harness reference-scores` measures the random score)"
            )
        return [0.0, 1.0], (
            f"the mean over {len(envs)} envs of the final score normalized per env (0: random policy, 1: threshold)"
        )
    ref = reference.lookup(envs[0])
    what = f"the final score on {env_name(envs[0])}"
    if ref.random is None or ref.threshold is None:
        return None, what
    return [float(ref.random), float(ref.threshold - ref.random)], what


def _changes(record: dict[str, Any], design: seq.Design, settings: dict[str, Any]) -> list[str]:
    recorded = {**record["design"], **record.get("study", {})}
    wanted = {**json.loads(json.dumps(design.to_dict())), **settings}
    return [
        f"{OPTION.get(key, key)} was {_show(recorded.get(key))}, now {_show(wanted.get(key))}"
        for key in wanted
        if recorded.get(key) != wanted[key]
    ]


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return "none" if value is None else str(value)


@dataclass(frozen=True)
class Look:
    """One look to run: its number, the arms that still get seeds, and the study of its runs."""

    number: int
    arms: tuple[str, ...]
    study: StudySpec


class SequentialStudy:
    """The looks of one sequential study: its record (on disk, or new: refused if the design changed or
    the folder holds runs made outside it), the next look to run, and each look's decision."""

    def __init__(self, study: StudySpec, design: seq.Design, results_root: Path, seed_offset: int = 0):
        self.study, self.design = study, design
        self.folder = Path(results_root) / study.name
        self.record = self._start_or_resume(settings_of(study, seed_offset))
        self.offset = int(self.record["study"]["seed_offset"])

    def _start_or_resume(self, settings: dict[str, Any]) -> dict[str, Any]:
        record = seq.read_record(self.folder)
        if record is not None:
            changes = _changes(record, self.design, settings)
            if changes:
                raise UsageError(
                    f"{self.folder} is a sequential study started with another design: {'; '.join(changes)}. Its "
                    "error guarantee holds only for the design fixed before its first look, so it cannot change "
                    "once started: repeat the command with the recorded design to continue it, or give the new "
                    "design its own --study. Nothing was changed."
                )
            return record
        existing = sorted(str(p.parent.relative_to(self.folder)) for p in self.folder.glob("*/*/meta.json"))
        if existing:
            raise UsageError(
                f"{self.folder} already holds runs made outside a sequential design ({', '.join(existing[:3])}"
                + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
                + "): results seen before a design is fixed would void its guarantee; choose another --study"
            )
        normalization, score = normalization_of(self.study.envs)
        if self.design.equivalence_margin is not None and normalization is None:
            raise UsageError(
                f"--equivalence-margin is on the normalized score, and {self.study.envs[0]} has no random-policy "
                "score or threshold to normalize with (hyperparams/reference_scores.yml)"
            )
        return {
            "format": seq.RECORD_FORMAT,
            "design": self.design.to_dict(),
            "study": settings,
            "score": score,
            "normalization": normalization,
            "looks": [],
        }

    @property
    def started(self) -> bool:
        """Whether the design is fixed on disk (the first look has begun running)."""
        return seq.record_path(self.folder).exists()

    @contextmanager
    def held(self, dry_run: bool) -> Iterator[None]:
        """The study's lock for the block (none for a dry run). A study refused before its first look ran
        (a failed confirmation, bad input) leaves no lock file and no empty folder behind."""
        if dry_run:
            yield
            return
        created = check_writable(self.folder.parent, self.folder.name)
        try:
            lock = RunLock(self.folder)
            lock.__enter__()
        except Locked as exc:
            remove_if_empty(created)
            raise UsageError(f"another compare is running this sequential study: {exc}") from None
        try:
            yield
        finally:
            lock.__exit__(None, None, None)
            if not self.started:
                (self.folder / rundir.LOCK_NAME).unlink(missing_ok=True)
                remove_if_empty(created)

    def next_look(self) -> Look | None:
        """The look to run next, None when the study is finished."""
        analysis = seq.analyze(self.record)
        if analysis["finished"]:
            return None
        number, arms = analysis["next_look"], tuple(analysis["next_arms"])
        return Look(
            number, arms, dataclasses.replace(self.study, arms=arms, seeds=self.design.seeds(number, self.offset))
        )

    def fix_design(self) -> None:
        """Write the record before the first look's runs: the design is fixed from here on."""
        if not self.started:
            self._write()

    def decide(self, look: Look, matmul_backend: str) -> tuple[list[str], str]:
        """Test ``look`` once its runs are results: ([], what was decided); (the runs that are not results
        yet, '') leaves the look to a repeat of the command."""
        scores, used, missing = self._scores(look)
        if missing:
            return missing, ""
        self.record["looks"].append(
            {
                "look": look.number,
                "seeds": {a: list(look.study.seeds) for a in look.arms},
                "runs": used,
                "scores": scores,
            }
        )
        self.record["matmul_backend"] = matmul_backend
        self._write()
        done = self.record["looks"][-1]
        return [], ", ".join(f"{c}: {v}" for c, v in done["decided"].items()) or "nothing decided"

    def _scores(self, look: Look) -> tuple[dict[str, list[float]], dict[str, list[str]], list[str]]:
        """Per arm, one score per seed of the look (its runs' final scores; with several envs the mean of
        the normalized ones), the runs they come from, and the runs that are not results yet."""
        envs = self.study.envs
        scores: dict[str, list[float]] = {}
        used: dict[str, list[str]] = {}
        missing: list[str] = []
        for arm in look.arms:
            scores[arm], used[arm] = [], []
            for seed in look.study.seeds:
                per_env = []
                for env in envs:
                    key = f"{arm}/{env_name(env)}_{seed}"
                    result = run_result(self.folder / key)
                    if result is None:
                        recorded = rundir.read_record(self.folder / key)
                        missing.append(f"{key} ({recorded.status if recorded else 'absent'})")
                        continue
                    used[arm].append(key)
                    final = result[1].score
                    if len(envs) > 1:
                        ref = reference.lookup(env)
                        assert ref.random is not None and ref.threshold is not None  # checked when the study started
                        final = (final - ref.random) / (ref.threshold - ref.random)
                    per_env.append(final)
                if len(per_env) == len(envs):
                    scores[arm].append(float(np.mean(per_env)))
        return scores, used, missing

    def _write(self) -> None:
        rundir.write_json(seq.record_path(self.folder), seq.with_analysis(self.record))

    def verdict_lines(self) -> list[str]:
        """Each comparison's verdict (and the look that decided it), then the seeds each arm used."""
        seeds = self.record.get("seeds_per_arm", {})
        lines = []
        for name, v in self.record.get("verdicts", {}).items():
            at = f" at look {v['look']}" if v.get("look") else ""
            lines.append(f"  {name}: {v['verdict']}{at}")
        if seeds:
            lines.append("  seeds per arm: " + ", ".join(f"{a} {n}" for a, n in seeds.items()))
        return lines
