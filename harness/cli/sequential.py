"""``compare --sequential`` (``make compare SEEDS=adaptive``): a study decided look by look.

Each look runs ``--per-look`` new seeds of every arm that still has an open comparison, in the
ordinary run directories (results/<study>/<arm>/<env>_<seed>), then tests the open comparisons
(harness.report.sequential) and writes the look to results/<study>/sequential.json: its runs, scores,
statistics, boundaries and decisions. Repeating the command continues at the next look (a look
interrupted midway resumes its runs); a command whose design differs from the recorded one is refused.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from harness.config import env_name, reference
from harness.errors import UsageError
from harness.execution.dispatch import run_plan
from harness.execution.local import Executor
from harness.execution.progress import Display
from harness.report import sequential as seq
from harness.report.load import RESULT_STATUSES, load_study
from harness.report.write import write_report
from harness.run.locks import Locked, RunLock
from harness.run.rundir import LOCK_NAME
from harness.run.runner import CheckpointPolicy
from harness.study.plan import (
    SequentialPlan,
    check_writable,
    confirm,
    describe_plan,
    describe_sequential,
    make_plan,
    remove_if_empty,
)
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


def _start_or_resume(
    folder: Path, design: seq.Design, settings: dict[str, Any], envs: tuple[str, ...]
) -> dict[str, Any]:
    """The study's record: the one on disk (refused if the design changed), or a new one."""
    record = seq.read_record(folder)
    if record is not None:
        changes = _changes(record, design, settings)
        if changes:
            raise UsageError(
                f"{folder} is a sequential study started with another design: {'; '.join(changes)}. Its error "
                "guarantee holds only for the design fixed before its first look, so it cannot change once "
                "started: repeat the command with the recorded design to continue it, or give the new design "
                "its own --study. Nothing was changed."
            )
        return record
    existing = sorted(str(p.parent.relative_to(folder)) for p in folder.glob("*/*/meta.json"))
    if existing:
        raise UsageError(
            f"{folder} already holds runs made outside a sequential design ({', '.join(existing[:3])}"
            + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
            + "): results seen before a design is fixed would void its guarantee; choose another --study"
        )
    normalization, score = normalization_of(envs)
    if design.equivalence_margin is not None and normalization is None:
        raise UsageError(
            f"--equivalence-margin is on the normalized score, and {envs[0]} has no random-policy score or "
            "threshold to normalize with (hyperparams/reference_scores.yml)"
        )
    return {
        "format": seq.RECORD_FORMAT,
        "design": design.to_dict(),
        "study": settings,
        "score": score,
        "normalization": normalization,
        "looks": [],
    }


def _look_scores(
    folder: Path,
    arms: tuple[str, ...],
    seeds: tuple[int, ...],
    envs: tuple[str, ...],
    normalization: list[float] | None,
) -> tuple[dict[str, list[float]], dict[str, list[str]], list[str]]:
    """Per arm, one score per seed of this look (its runs' final scores; with several envs the mean of
    the normalized ones), the runs they come from, and the runs that are not results yet."""
    runs = load_study(folder).runs
    scores: dict[str, list[float]] = {}
    used: dict[str, list[str]] = {}
    missing: list[str] = []
    for arm in arms:
        scores[arm], used[arm] = [], []
        for seed in seeds:
            per_env = []
            for env in envs:
                name = env_name(env)
                key = f"{arm}/{name}_{seed}"
                row = runs[(runs["arm"] == arm) & (runs["env"] == name) & (runs["seed"] == seed)] if len(runs) else runs
                if row.empty or row["status"].iloc[0] not in RESULT_STATUSES:
                    missing.append(f"{key} ({'absent' if row.empty else row['status'].iloc[0]})")
                    continue
                used[arm].append(key)
                final = float(row["final_return"].iloc[0])
                if len(envs) > 1:
                    ref = reference.lookup(env)
                    assert ref.random is not None and ref.threshold is not None  # checked when the study started
                    final = (final - ref.random) / (ref.threshold - ref.random)
                per_env.append(final)
            if len(per_env) == len(envs):
                scores[arm].append(float(np.mean(per_env)))
    return scores, used, missing


def _verdict_lines(record: dict[str, Any]) -> list[str]:
    seeds = record.get("seeds_per_arm", {})
    lines = []
    for name, v in record.get("verdicts", {}).items():
        at = f" at look {v['look']}" if v.get("look") else ""
        lines.append(f"  {name}: {v['verdict']}{at}")
    if seeds:
        lines.append("  seeds per arm: " + ", ".join(f"{a} {n}" for a, n in seeds.items()))
    return lines


def run_sequential(
    study: StudySpec,
    results_root: Path,
    jobs: int,
    threads: int,
    display: Display,
    *,
    design: seq.Design,
    seed_offset: int = 0,
    dry_run: bool = False,
    assume_yes: bool = False,
    estimate: bool = True,
    report: bool = True,
    policy: CheckpointPolicy = CheckpointPolicy(),
    executor: Executor | None = None,
    matmul_backend: str = "auto",
    tensorboard: bool = True,
    reference: str | None = None,
) -> int:
    """Run the looks still to run, each decided and recorded before the next; returns the exit code (0, 1
    if a look's runs did not all complete: repeat the command to complete them and decide the look)."""
    folder = Path(results_root) / study.name
    settings = settings_of(study, seed_offset)
    record = _start_or_resume(folder, design, settings, study.envs)
    created = [] if dry_run else check_writable(results_root, study.name)
    try:
        lock = None if dry_run else RunLock(folder).__enter__()
    except Locked as exc:
        remove_if_empty(created)
        raise UsageError(f"another compare is running this sequential study: {exc}") from None
    try:
        return _looks(
            study,
            design,
            record,
            folder,
            results_root,
            jobs,
            threads,
            display,
            dry_run,
            assume_yes,
            estimate,
            report,
            policy,
            executor,
            matmul_backend,
            tensorboard,
            reference,
        )
    except BaseException:
        if lock is not None and not seq.record_path(folder).exists():  # refused before its first run
            lock.__exit__(None, None, None)
            lock = None
            (folder / LOCK_NAME).unlink(missing_ok=True)
            remove_if_empty(created)
        raise
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)


def _looks(
    study: StudySpec,
    design: seq.Design,
    record: dict[str, Any],
    folder: Path,
    results_root: Path,
    jobs: int,
    threads: int,
    display: Display,
    dry_run: bool,
    assume_yes: bool,
    estimate: bool,
    report: bool,
    policy: CheckpointPolicy,
    executor: Executor | None,
    matmul_backend: str,
    tensorboard: bool,
    reference: str | None,
) -> int:
    offset = int(record["study"]["seed_offset"])
    while True:
        analysis = seq.analyze(record)
        if analysis["finished"]:
            break
        look, arms = analysis["next_look"], tuple(analysis["next_arms"])
        look_study = dataclasses.replace(study, arms=arms, seeds=design.seeds(look, offset))
        backend = record.get("matmul_backend", matmul_backend) if matmul_backend == "auto" else matmul_backend
        plan = make_plan(look_study, results_root, jobs, threads, estimate=estimate, matmul_backend=backend)
        if not tensorboard:
            plan.runs = [dataclasses.replace(r, tensorboard=False) for r in plan.runs]
        sp = SequentialPlan(
            look,
            design.looks,
            design.per_look,
            design.alpha,
            design.compare,
            tuple(design.comparisons),
            design.arms,
            arms,
            len(study.envs),
            design.equivalence_margin,
            design.permutations,
            design.seed,
        )
        lines = describe_plan(plan, results_root, jobs, threads)
        for line in lines[:1] + describe_sequential(sp, plan, jobs) + lines[1:]:
            display.line(line)
        if dry_run:
            return 0
        confirm(plan, jobs, assume_yes, repeats=design.looks - look + 1)
        if not seq.record_path(folder).exists():
            seq.write_record(folder, record)  # the design is fixed from here on
        if plan.to_run:
            run_plan(plan, results_root, jobs, threads, display, policy, executor)
        scores, used, missing = _look_scores(folder, arms, look_study.seeds, study.envs, record.get("normalization"))
        if missing:
            display.line(
                f"look {look} is not complete: {', '.join(missing)} (see their meta.json); it is decided once "
                "every run of the look is a result: repeat the same command"
            )
            return 1
        record["looks"].append(
            {"look": look, "seeds": {a: list(look_study.seeds) for a in arms}, "runs": used, "scores": scores}
        )
        record["matmul_backend"] = plan.matmul.backend
        seq.write_record(folder, record)
        done = record["looks"][-1]
        decided = ", ".join(f"{c}: {v}" for c, v in done["decided"].items()) or "nothing decided"
        display.line(f"look {look} of {design.looks}: {decided} ({seq.record_path(folder)})")
    display.line(f"sequential study {'complete' if record['looks'] else 'not started'}:")
    for line in _verdict_lines(record):
        display.line(line)
    if report and not dry_run:
        path = write_report(folder, reference=reference)
        display.line(f"report: {path} and {path.with_suffix('.html')}")
    return 0
