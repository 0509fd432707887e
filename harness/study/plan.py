"""The plan of a study: what each run will do (run, skip, resume, supersede...), shown with its
hyperparameter sources and a cost estimate before anything starts, and confirmed when long."""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness import sequential as seq
from harness.agents import get_arm
from harness.config.schema import has_learning_starts
from harness.errors import UsageError
from harness.fmt import fmt_duration
from harness.run import matmul, rundir, runner
from harness.run import precision as precision_mod
from harness.run.envs import make_env
from harness.run.spec import RunSpec
from harness.study import calibrate
from harness.study.budget import PRESETS
from harness.study.spec import StudySpec

#: Above this estimated wall-clock, a study asks for confirmation (or --yes) before starting.
CONFIRM_ABOVE_S = 2 * 3600


@dataclass
class Plan:
    study: StudySpec
    runs: list[RunSpec]
    actions: dict[str, str] = field(default_factory=dict)  # run key -> runner.decide()'s answer
    estimate_s: dict[str, float] = field(default_factory=dict)  # run key -> seconds
    rates: dict[tuple[str, str], calibrate.Rates] = field(default_factory=dict)
    matmul: matmul.Choice = field(default_factory=lambda: matmul.Choice("default", "not chosen"))
    precision: str = "fp32"
    precision_probe: precision_mod.Probe | None = None  # bf16 against fp32 here (None: no torch arm)
    seed_groups: int = 1  # SEED_GROUPS: at most this many runs per seed group (an execution choice)

    @property
    def to_run(self) -> list[RunSpec]:
        return [r for r in self.runs if self.actions[r.key] not in ("skip", "busy")]

    @property
    def units(self) -> list[Unit]:
        """What the executor runs: the runs to run, those of one seed group as one tuple."""
        return group_seeds(self.to_run, self.seed_groups)

    def unit_estimate(self, unit: Unit) -> float:
        """Seconds of one unit: a group's members one after another (calibrated per run, on one core)."""
        return sum(self.estimate_s.get(r.key, 0.0) for r in (unit if isinstance(unit, tuple) else (unit,)))


#: One run, or the runs of one seed group (two or more).
Unit = RunSpec | tuple[RunSpec, ...]


def group_seeds(runs: list[RunSpec], size: int) -> list[Unit]:
    """``runs`` as units: runs of an arm that offers ``group_of`` and differ only in seed (same env, arm,
    hyperparameters, budget, device, precision, backend) go in groups of at most ``size``, in seed order;
    every other run, and a group of one, runs alone."""
    if size <= 1:
        return list(runs)
    by_kind: dict[str, list[RunSpec]] = {}
    units: list[Unit] = []
    for r in runs:
        if not get_arm(r.arm).capabilities.groups:
            units.append(r)
            continue
        kind = dataclasses.replace(r, seed=0)
        by_kind.setdefault(
            f"{kind.spec_hash()}|{r.precision}|{r.matmul_backend}|{r.tensorboard}|{r.value_episodes}", []
        ).append(r)
    for members in by_kind.values():
        members.sort(key=lambda r: r.seed)
        for start in range(0, len(members), size):
            chunk = members[start : start + size]
            units.append(tuple(chunk) if len(chunk) > 1 else chunk[0])
    return units


def describe_groups(plan: Plan) -> list[str]:
    """The plan's seed groups in words (nothing when SEED_GROUPS is 1)."""
    if plan.seed_groups <= 1:
        return []
    groups = [u for u in plan.units if isinstance(u, tuple)]
    alone = [u for u in plan.units if not isinstance(u, tuple)]
    unable = sorted({r.arm for r in alone if not get_arm(r.arm).capabilities.groups})
    text = (
        f"  seed groups: at most {plan.seed_groups} runs per process; "
        + (
            f"{len(groups)} group(s) ({', '.join(f'{g[0].arm} on {g[0].env_id} seeds {_seeds(g)}' for g in groups)})"
            if groups
            else "no group"
        )
        + (f", {len(alone)} run(s) alone" if alone else "")
        + (f" ({', '.join(unable)}: no group_of, one seed per process)" if unable else "")
        + "; an execution choice, recorded in meta.json, not part of a run's identity"
    )
    return [text]


def _seeds(group: tuple[RunSpec, ...]) -> str:
    return ",".join(str(r.seed) for r in group)


def make_plan(
    study: StudySpec,
    results_root: Path,
    jobs: int,
    threads: int,
    estimate: bool = True,
    matmul_backend: str = "auto",
    precision: str = "fp32",
    seed_groups: int = 1,
) -> Plan:
    """What each run will do, the study's matmul backend (``matmul.choose``) and precision (every arm must
    be able to run it; the runs that stay decide), and, with ``estimate``, its cost."""
    runs = study.expand()
    actions = {r.key: runner.decide(r, results_root) for r in runs}
    staying = [r for r in runs if actions[r.key] in ("skip", "resume", "busy")]
    kept = [runner.recorded_backend(r, results_root) for r in staying]
    shapes = study_shapes(runs)
    choice = matmul.choose(matmul_backend, kept, shapes, threads, study.device)
    chosen = precision_mod.choose(precision, [runner.recorded_precision(r, results_root) for r in staying])
    if chosen != "fp32":
        unable = [a for a in study.arms if not get_arm(a).capabilities.precision]
        if unable:
            raise UsageError(
                f"--precision {chosen}: {', '.join(unable)} offer(s) no set_precision, so their updates run in fp32 "
                "only, and a study compares its arms at one precision; run it at fp32, or without them "
                "(docs/agents.md: set_precision)"
            )
    probe = precision_mod.probe(shapes, threads) if shapes and study.device == "cpu" else None
    runs = [dataclasses.replace(r, matmul_backend=choice.backend, precision=chosen) for r in runs]
    plan = Plan(study, runs, actions, matmul=choice, precision=chosen, precision_probe=probe, seed_groups=seed_groups)
    if estimate and plan.to_run:
        plan.rates = calibrate.calibrate(plan.to_run, threads)
        plan.estimate_s = {r.key: calibrate.run_seconds(r, plan.rates[r.env_id, r.arm]) for r in plan.to_run}
    return plan


def study_shapes(runs: Iterable[RunSpec]) -> list[matmul.Shape]:
    """The linear layers of the study's torch arms, for the matmul probe: from each config's
    ``batch_size`` and ``net_arch`` (or ``net_arch_pi``/``net_arch_qf``), on its env's dimensions."""
    shapes: set[matmul.Shape] = set()
    dims: dict[str, tuple[int, int]] = {}
    for r in runs:
        config = r.config
        actor = getattr(config, "net_arch_pi", getattr(config, "net_arch", None))
        critic = getattr(config, "net_arch_qf", getattr(config, "net_arch", None))
        batch = getattr(config, "batch_size", None)
        if actor is None or critic is None or batch is None:
            continue  # not a torch actor-critic (the random floor)
        if r.env_id not in dims:
            env = make_env(r.env_id)
            dims[r.env_id] = (
                int(np.prod(env.observation_space.shape or ())),
                int(np.prod(env.action_space.shape or ())),
            )
            env.close()
        shapes.update(matmul.layer_shapes(batch, *dims[r.env_id], actor, critic))
    return sorted(shapes)


def describe_plan(plan: Plan, results_root: Path, jobs: int, threads: int) -> list[str]:
    """The plan as text lines: runs, budgets, hyperparameter sources, estimate."""
    s = plan.study
    counts = Counter(plan.actions.values())
    extra = [
        (counts["resume"], "resumed from their last checkpoint"),
        (counts["restart"], "unfinished without a checkpoint (restarted)"),
        (counts["supersede"], "with a changed spec (old run moved to superseded/)"),
        (counts["busy"], "being run by another process (left alone)"),
    ]
    lines = [
        f"Study '{s.name}' -> {Path(results_root) / s.name}",
        f"  runs: {len(plan.runs)} = {len(s.envs)} env(s) x {len(s.arms)} arm(s) x {len(s.seeds)} seed(s); "
        f"{len(plan.to_run)} to run, {counts['skip']} already complete (skipped)"
        + "".join(f", {n} {text}" for n, text in extra if n),
    ]
    seen_env = set()
    for r in plan.runs:
        if r.env_id in seen_env:
            continue
        seen_env.add(r.env_id)
        b = r.budget
        preset = PRESETS[b.preset]
        share = f"{b.total_steps / b.full_steps:.0%} of the full {b.full_steps:,}"
        chosen = (
            f"; evaluated as budget '{b.preset}' is, the named budget this share reaches; BUDGET=<name> picks another"
            if s.budget is None
            else ""
        )
        size = f"{b.total_steps:,} env steps per run" + (
            f" (STEPS: {share}{chosen})" if s.steps else f" = {preset.fraction:.0%} of the full {b.full_steps:,}"
        )
        lines.append(
            f"  {r.env_id}: budget '{b.preset}', {size}; evaluation every {b.eval_freq:,} steps, "
            f"{b.eval_episodes} episodes; learning_starts x{b.learning_starts_scale:.3g}"
        )
        for arm in s.arms:
            spec = next(x for x in plan.runs if x.env_id == r.env_id and x.arm == arm)
            starts = (
                f"learning_starts {spec.learning_starts_configured:,} -> {spec.config.learning_starts:,}"
                if has_learning_starts(spec.config)
                else "no learning_starts"
            )
            lines.append(
                f"    {arm}: {starts}; hyperparameters from {' + '.join(spec.hp_sources[1:] or spec.hp_sources)}"
            )
            if spec.tuning_overlap:
                lines.append(f"    warning: {arm} on {r.env_id}: {spec.tuning_overlap}")
            if has_learning_starts(spec.config) and spec.config.learning_starts >= b.total_steps:
                lines.append(
                    f"    warning: {arm} on {r.env_id}: learning_starts ({spec.config.learning_starts:,}) is not "
                    f"below the budget ({b.total_steps:,} steps): it will act randomly and never learn"
                )
    lines += s.hp_file_sections()
    lines += describe_arms(plan, results_root)
    lines.append(
        f"  seeds: {', '.join(map(str, s.seeds))}; device {s.device}; {jobs} process(es) x {threads} torch thread(s)"
    )
    lines.append(f"  {plan.matmul.describe()}")
    if plan.precision_probe is not None:
        lines.append(f"  {plan.precision_probe.describe(plan.precision)}")
    elif plan.precision != "fp32":
        lines.append(f"  precision {plan.precision}")
    lines += describe_groups(plan)
    if plan.estimate_s:
        total = calibrate.makespan([plan.unit_estimate(u) for u in plan.units], jobs)
        cpu = sum(plan.estimate_s.values())
        rate_text = "; ".join(
            f"{arm} on {env.rpartition(':')[2]}: {r.train:.0f} steps/s training" for (env, arm), r in plan.rates.items()
        )
        lines.append(
            f"  estimate: about {fmt_duration(total)} wall-clock ({fmt_duration(cpu)} of run time; "
            f"calibrated: {rate_text}; evaluation counted at full episode length, the value measure's longer "
            "episodes included)"
        )
    return lines


def describe_arms(plan: Plan, results_root: Path) -> list[str]:
    """Per arm: where it and its code come from, which optional capabilities its agent offers
    (and what a missing one means for its runs); then why runs are superseded, e.g. changed agent code."""
    lines = ["  arms:"]
    for name in plan.study.arms:
        arm = get_arm(name)
        code = next(r.agent_code for r in plan.runs if r.arm == name)
        where = ", ".join(
            str(x)
            for x in (
                code.get("module_file"),
                (code.get("git") or {}).get("commit", "") and f"git {code['git']['commit'][:10]}",
            )
            if x
        )
        lines.append(
            f"    {name}: {arm.origin}; code {code.get('identity')}{f' ({where})' if where else ''}; "
            f"{arm.capabilities.describe()}"
        )
    reasons = Counter(
        (r.arm, "; ".join(r.differences(rundir.read_record(r.run_dir(results_root)))) or "another spec")
        for r in plan.runs
        if plan.actions[r.key] == "supersede"
    )
    for (name, why), n in reasons.items():
        lines.append(f"  superseded: {n} run(s) of {name}, changed: {why} (old runs moved to superseded/, run again)")
    return lines


def confirm(plan: Plan, jobs: int, assume_yes: bool, repeats: int = 1) -> None:
    """Refuse to start a study estimated above CONFIRM_ABOVE_S without --yes or a typed 'y'. A sequential
    study's plan is one look: ``repeats`` looks of it are its worst case, which is what is confirmed."""
    if not plan.estimate_s or assume_yes:
        return
    total = repeats * calibrate.makespan([plan.unit_estimate(u) for u in plan.units], jobs)
    if total <= CONFIRM_ABOVE_S:
        return
    what = f" at worst ({repeats} looks)" if repeats > 1 else ""
    if sys.stdin.isatty():
        answer = input(f"This study is estimated at {fmt_duration(total)}{what}. Start it? [y/N] ")
        if answer.strip().lower() in ("y", "yes"):
            return
        raise UsageError("not started")
    raise UsageError(
        f"the study is estimated at {fmt_duration(total)}{what} (over {fmt_duration(CONFIRM_ABOVE_S)}); "
        "re-run with --yes (make ... YES=1) to start it, or choose a smaller BUDGET/STEPS"
    )


@dataclass(frozen=True)
class SequentialPlan:
    """One look of a sequential study as its plan shows it: the design, the look, the arms that get seeds."""

    design: seq.Design
    look: int
    running: tuple[str, ...]  # the arms that get seeds at this look
    envs: int


def describe_sequential(sp: SequentialPlan, plan: Plan, jobs: int) -> list[str]:
    """The design, this look, and the cost at best (everything decided at the first look) and at worst
    (every arm at every look), in runs and, with an estimate, in wall-clock."""
    d = sp.design
    runs_per_look = len(d.arms) * sp.envs * d.per_look
    versus = "every pair" if d.compare == "all" else f"{d.arms[0]} against each other arm"
    lines = [
        f"  sequential design: {d.per_look} seeds per arm per look, at most {d.looks} looks "
        f"({d.per_look * d.looks} seeds per arm); {len(d.comparisons)} comparison(s), {versus}: "
        f"{', '.join(d.comparisons)}",
        f"    family-wise error rate at most {d.alpha:g} over all comparisons (alpha spent linearly, "
        f"{d.alpha / d.looks:g} per look; {d.permutations:,} relabellings per look, seed {d.seed}); "
        + (
            f"equivalence claimed only inside ±{d.equivalence_margin:g} (normalized score, TOST)"
            if d.equivalence_margin is not None
            else "no equivalence margin: undecided comparisons end as 'not distinguished'"
        ),
        f"    cost: at best {runs_per_look} runs (everything decided at the first look), at worst "
        f"{runs_per_look * d.looks} runs (every arm at every look, the same as a fixed "
        f"{d.per_look * d.looks}-seed study)",
    ]
    waiting = [a for a in d.arms if a not in sp.running]
    lines.append(
        f"  look {sp.look} of {d.looks}: seeds {plan.study.seeds[0]}-{plan.study.seeds[-1]} for "
        f"{', '.join(sp.running)}" + (f" ({', '.join(waiting)}: decided, no more seeds)" if waiting else "")
    )
    if plan.estimate_s:
        look_s = calibrate.makespan(list(plan.estimate_s.values()), jobs)
        left = d.looks - sp.look + 1
        lines.append(
            f"  estimate: about {fmt_duration(look_s)} per look with these arms: from here at best "
            f"{fmt_duration(look_s)} (everything decided at this look), at worst {fmt_duration(look_s * left)} "
            f"({left} look(s))"
        )
    return lines


def check_writable(results_root: Path, study: str) -> list[Path]:
    """UsageError unless files can be created under ``<results_root>/<study>``; returns the folders
    this call created (innermost first), for ``remove_if_empty`` should the study be refused."""
    folder = Path(results_root) / study
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(
            f"results directory {folder} is not writable ({exc.strerror or exc}); choose another with --results"
        ) from None
    return created


def remove_if_empty(folders: Iterable[Path]) -> None:
    """Remove each folder (innermost first) that is still empty: a refused study leaves nothing behind."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or already gone): keep it and everything above it
