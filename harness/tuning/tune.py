"""``tune``: an Optuna study whose objective is a harness run, scored by the harness's evaluation.

A trial samples the arm's search space, applies it over the arm's resolved hyperparameters
for the env, and runs ``seeds_per_trial`` runs (``results/tuning/<study>/trial_<n>/...``);
intermediate evaluations of its first seed feed the pruner once the run has made a gradient
update (a policy that has not learned yet is never judged). The objective is the mean final
evaluation return over the trial's seeds. The best values go to the study's own folder,
``results/tuning/<study>/tuned/<arm>/<env>.yml``; only a promotion (harness.tuning.promote)
copies them to where ``compare --hp-set tuned`` reads. Storage is a journal
file under ``results/tuning/<study>/`` by default, or any RDB URL (PostgreSQL with heartbeats
and retry of trials whose worker died) shared by workers on several machines. Workers are
local processes (``run_workers``) or any other ``Launcher``, e.g. Ray tasks (harness.tuning.ray).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RDBStorage, RetryFailedTrialCallback
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState

from harness.agents import get_arm
from harness.config import search
from harness.config import tuned as tuned_file
from harness.config.schema import as_plain, build_config, learning_starts
from harness.config.seeds import TUNING_EVAL_SEED, TUNING_SEED_BASE
from harness.errors import UsageError
from harness.execution.progress import Display, make_display
from harness.run import matmul, rundir, runner
from harness.run.provenance import git_state, package_versions
from harness.run.spec import RunSpec
from harness.study.plan import study_shapes
from harness.study.spec import StudySpec

SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "halving", "none")


@dataclass(frozen=True)
class TuneSpec:
    study: str
    arm: str
    env_id: str
    trials: int
    budget: str | None = "quick"  # None: the one whose share of the full budget ``steps`` is
    steps: int | None = None
    eval_freq: int | None = None
    eval_episodes: int | None = None
    seeds_per_trial: int = 1
    storage: str | None = None
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int = 0
    hp_files: tuple[Path, ...] = ()
    hp_overrides: tuple[tuple[str, Any], ...] = ()
    device: str = "cpu"
    space: Path | None = None  # default: hyperparams/search/<arm>.yml
    heartbeat: int = 10  # seconds between a worker's heartbeats (RDB storage); stale after 3 missed
    matmul_backend: str = "default"  # every trial's runs (harness.run.matmul; chosen once per study)

    def base_run(self) -> RunSpec:
        """The run a trial starts from: the arm's resolved hyperparameters on the env, at the budget."""
        run = StudySpec(
            self.study,
            (self.env_id,),
            (self.arm,),
            (0,),
            self.budget,
            self.steps,
            self.eval_freq,
            self.eval_episodes,
            self.device,
            self.hp_files,
            dict(self.hp_overrides),
        ).expand()[0]
        # The trials' evaluation episodes are their own: fixed and shared by every trial, apart from the studies'.
        return dataclasses.replace(run, matmul_backend=self.matmul_backend, eval_seed=TUNING_EVAL_SEED)


class TrialFailed(RuntimeError):
    """A trial's run diverged or failed: the trial is marked FAIL with this reason."""


def study_dir(spec: TuneSpec, results_root: Path) -> Path:
    return Path(results_root) / "tuning" / spec.study


def trial_study(spec: TuneSpec, number: int) -> str:
    """The study name of trial ``number``'s runs: they go to ``<results>/tuning/<study>/trial_<n>/``."""
    return f"tuning/{spec.study}/trial_{number:04d}"


def storage_for(spec: TuneSpec, results_root: Path) -> optuna.storages.BaseStorage:
    if spec.storage is None:
        folder = study_dir(spec, results_root)
        folder.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(folder / "journal.log")))
    if spec.storage.split(":")[0].split("+")[0] not in ("postgresql", "sqlite", "mysql"):
        raise UsageError(f"--storage {spec.storage!r}: expected postgresql://..., mysql://... or sqlite:///...")
    # Heartbeats let a live study see a dead worker's trial; the callback retries it as a new trial.
    return RDBStorage(
        spec.storage,
        heartbeat_interval=spec.heartbeat,
        grace_period=3 * spec.heartbeat,
        failed_trial_callback=RetryFailedTrialCallback(max_retry=2),
    )


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(name: str, warmup_steps: int) -> optuna.pruners.BasePruner:
    """``warmup_steps`` is the budget's learning_starts: nothing is pruned before learning starts.
    (The objective also reports nothing before a run's first gradient update.)"""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=warmup_steps)
    if name == "halving":
        return _WarmedUp(optuna.pruners.SuccessiveHalvingPruner(), warmup_steps)
    return optuna.pruners.NopPruner()


class _WarmedUp(optuna.pruners.BasePruner):
    """Another pruner, silenced until the trial's last reported step reaches ``warmup_steps``."""

    def __init__(self, inner: optuna.pruners.BasePruner, warmup_steps: int):
        self.inner, self.warmup_steps = inner, warmup_steps

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        return step is not None and step >= self.warmup_steps and self.inner.prune(study, trial)


def trial_seeds(spec: TuneSpec, number: int) -> list[int]:
    """Trial ``number``'s training seeds: from TUNING_SEED_BASE on, a range no study's seeds reach."""
    first = TUNING_SEED_BASE + spec.seed * 100_000 + number * spec.seeds_per_trial
    return [first + k for k in range(spec.seeds_per_trial)]


def search_space(spec: TuneSpec) -> tuple[dict[str, search.Param], dict[str, str]]:
    """The dimensions the trials sample (those that act on the arm's resolved configuration) and the
    ones left out, with why (``search.active``)."""
    return search.active(search.load_space(get_arm(spec.arm), spec.space), spec.base_run().config)


def design(spec: TuneSpec) -> dict[str, Any]:
    """What every trial of a study shares and its values depend on: the arm and its code, the env,
    the budget and evaluation, the resolved hyperparameters under the trials, the searched space and
    the seeding. A study continues only under the same design (``check_design``)."""
    base = spec.base_run()
    space, left_out = search_space(spec)
    return {
        "arm": spec.arm,
        "agent_code": base.agent_code.get("identity"),
        "env_id": spec.env_id,
        "budget": dataclasses.asdict(base.budget),
        "eval_seed": base.eval_seed,
        "hyperparameters": as_plain(base.config),
        "space": {name: dataclasses.asdict(p) for name, p in space.items()},
        "left_out": sorted(left_out),
        "seeds_per_trial": spec.seeds_per_trial,
        "seed": spec.seed,
    }


def check_design(spec: TuneSpec, results_root: Path) -> dict[str, Any]:
    """The study's design, recorded at its first start; UsageError when this command's design differs
    (naming what changed) or when the study has trials but no recorded design (it cannot be checked)."""
    study = open_study(spec, results_root)
    wanted = json.loads(json.dumps(design(spec), default=str))  # as stored: lists, not tuples
    recorded = study.user_attrs.get("design")
    if recorded is None:
        if study.get_trials(deepcopy=False):
            raise UsageError(
                f"tuning study '{spec.study}' has {len(study.trials)} trial(s) but no recorded design (it was made "
                "before studies recorded their arm, budget and search space), so this command cannot be checked "
                "against what its trials used; it is not continued. Choose another study name (--study, make tune "
                "... STUDY=name)"
            )
        study.set_user_attr("design", wanted)
        return wanted
    before, after = _leaves(recorded), _leaves(wanted)
    changed = [k for k in sorted(set(before) | set(after)) if before.get(k, "absent") != after.get(k, "absent")]
    if changed:
        details = "; ".join(
            f"{k}: {_short(before.get(k, 'absent'))} -> {_short(after.get(k, 'absent'))}" for k in changed
        )
        raise UsageError(
            f"tuning study '{spec.study}' was made with another design, so its trials do not compare with new "
            f"ones ({details}). Continue it with the same settings, or choose another study name (--study, make "
            "tune ... STUDY=name)"
        )
    return recorded


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested dict as {dotted key: leaf value}, so a difference names the setting that changed."""
    if not isinstance(value, dict) or not value:
        return {prefix: value}
    out: dict[str, Any] = {}
    for k, v in value.items():
        out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _short(value: Any, width: int = 80) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 3] + "..."


def objective(spec: TuneSpec, results_root: Path, threads: int, report: runner.Reporter | None = None) -> Any:
    arm = get_arm(spec.arm)
    space, _ = search_space(spec)
    base = spec.base_run()

    progress = report

    def run_trial(trial: optuna.Trial) -> float:
        values = search.sample(trial, space)
        try:
            config = build_config(arm.config_cls, values, f"trial {trial.number}", base=base.config)
        except UsageError as exc:
            raise TrialFailed(str(exc)) from None
        seeds = trial_seeds(spec, trial.number)
        trial.set_user_attr("seeds", seeds)
        finals = []
        for k, seed in enumerate(seeds):
            run = dataclasses.replace(base, study=trial_study(spec, trial.number), seed=seed, config=config)

            def report(step: int, value: float, updates: int | None, first: bool = k == 0) -> None:
                # Before its first update a run's policy says nothing of its settings (an agent that
                # counts no updates is judged from the pruner's warm-up on).
                if first and (updates is None or updates > 0):
                    trial.report(value, step)
                    if trial.should_prune():
                        raise optuna.TrialPruned(f"pruned at step {step} with return {value:.1f}")

            summary = runner.execute(
                run, results_root, threads, report=progress, on_eval=report, passthrough=(optuna.TrialPruned,)
            )
            if summary["status"] != rundir.STATUS_COMPLETE:
                trial.set_user_attr("fail_reason", summary.get("error", summary["status"]))
                raise TrialFailed(f"seed {seed}: {summary.get('error', summary['status'])}")
            finals.append(summary["final_return_mean"])
        return statistics.fmean(finals)

    return run_trial


def open_study(spec: TuneSpec, results_root: Path, worker: int = 0) -> optuna.Study:
    """The study, loaded when its storage has it (create_study with load_if_exists would append to a
    journal each time, dirtying a committed one), else created."""
    base = spec.base_run()
    storage = storage_for(spec, results_root)
    sampler = make_sampler(spec.sampler, spec.seed + worker)
    pruner = make_pruner(spec.pruner, learning_starts(base.config))
    if spec.study in optuna.get_all_study_names(storage):
        return optuna.load_study(study_name=spec.study, storage=storage, sampler=sampler, pruner=pruner)
    return optuna.create_study(
        study_name=spec.study,
        storage=storage,
        direction="maximize",
        sampler=sampler,
        load_if_exists=True,  # another worker may create it meanwhile
        pruner=pruner,
    )


def choose_backend(spec: TuneSpec, results_root: Path, requested: str, threads: int) -> matmul.Choice:
    """The tuning study's matmul backend: chosen at its first start (probe or request) and kept in the
    study's user attributes, so every trial of a study, on any worker, runs on the same one."""
    study = open_study(spec, results_root)
    kept = [study.user_attrs["matmul_backend"]] if "matmul_backend" in study.user_attrs else []
    base = spec.base_run()
    choice = matmul.choose(requested, kept, study_shapes([base]), threads, spec.device)
    if not kept:
        study.set_user_attr("matmul_backend", choice.backend)
    return choice


#: Called by Optuna after each trial of a worker, with the study and the finished trial.
TrialCallback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]
#: Runs ``jobs`` workers on a study: (spec, results root, jobs, torch threads per worker).
Launcher = Callable[[TuneSpec, Path, int, int], None]


def work(
    spec: TuneSpec,
    results_root: Path,
    threads: int,
    worker: int,
    callbacks: Sequence[TrialCallback] = (),
    progress: str = "log",
) -> None:
    """One worker: run trials until the study has ``spec.trials`` complete or pruned ones.

    Failed trials (a diverged run, or a dead worker's trial failed by the heartbeat) do not
    count, so they are replaced; each worker still runs at most ``spec.trials`` trials.
    """
    import torch

    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(spec, results_root, worker)
    done = (TrialState.COMPLETE, TrialState.PRUNED)
    remaining = spec.trials - len(study.get_trials(deepcopy=False, states=done))
    display = make_display(progress)
    if remaining > 0:
        with display:
            study.optimize(
                objective(spec, results_root, threads, report=display.handle),
                n_trials=remaining,
                catch=(TrialFailed,),
                callbacks=[MaxTrialsCallback(spec.trials, states=done), TrialLines(display, spec.trials), *callbacks],
            )


class TrialLines:
    """One line per finished trial: its number, value or why it ended, and the best so far."""

    def __init__(self, display: Display, trials: int):
        self.display, self.trials = display, trials

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.state == TrialState.COMPLETE:
            what = f"value {trial.value:.2f}"
        elif trial.state == TrialState.PRUNED:
            last = trial.last_step
            what = "pruned" + (f" at step {last:,} ({trial.intermediate_values[last]:.2f})" if last is not None else "")
        else:
            what = f"failed: {trial.user_attrs.get('fail_reason', trial.state.name.lower())}"
        finished = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
        try:
            best = f"best so far: trial {study.best_trial.number}, {study.best_value:.2f}"
        except ValueError:
            best = "no trial complete yet"
        self.display.line(f"trial {trial.number}: {what}; {finished}/{self.trials} finished; {best}")


def run(spec: TuneSpec, results_root: Path, jobs: int, threads: int, launch: Launcher | None = None) -> optuna.Study:
    """Run ``jobs`` workers on one study (``launch``; default: local processes), then write outputs."""
    (launch or run_workers)(spec, results_root, jobs, threads)
    study = open_study(spec, results_root)
    write_outputs(spec, study, results_root)
    return study


def run_workers(spec: TuneSpec, results_root: Path, jobs: int, threads: int) -> None:
    """``jobs`` worker processes on this machine (this process when ``jobs`` is 1)."""
    if jobs == 1:
        work(spec, results_root, threads, 0)
        return
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=work, args=(spec, results_root, threads, w)) for w in range(jobs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()


def write_outputs(spec: TuneSpec, study: optuna.Study, results_root: Path) -> Path | None:
    """Plots and summary.md; the best values with their provenance to the study's own tuned directory,
    ``results/tuning/<study>/tuned/<arm>/<env>.yml`` (returned; None when no trial completed)."""
    from harness.tuning.outputs import plots_and_summary

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    folder = study_dir(spec, results_root)
    plots_and_summary(study, folder, spec)
    if not complete:
        return None
    best = study.best_trial
    recorded = study.user_attrs.get("design") or design(spec)
    space = search.load_space(get_arm(spec.arm), spec.space)
    config = build_config(
        get_arm(spec.arm).config_cls,
        search.decode(best.params, space),
        f"best trial {best.number}",
        base=spec.base_run().config,
    )
    out = tuned_file.path_for(tuned_file.study_tuned_dir(results_root, spec.study), spec.arm, spec.env_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    provenance = {
        "study": spec.study,
        "arm": spec.arm,
        "env_id": spec.env_id,
        "storage": spec.storage or str(folder / "journal.log"),
        "trial": best.number,
        "objective": f"mean final evaluation return over {spec.seeds_per_trial} seed(s)",
        "value": best.value,
        "seeds": best.user_attrs.get("seeds"),  # the best trial's training seeds (TUNING_SEED_BASE on)
        "evaluation": {"seed": recorded["eval_seed"], "episodes": recorded["budget"]["eval_episodes"]},
        "budget": {"preset": recorded["budget"]["preset"], "steps": recorded["budget"]["total_steps"]},
        "design": recorded,  # what every trial used: arm and code, env, budget, hyperparameters, space, seeds
        "trials": {
            s.name.lower(): len(study.get_trials(deepcopy=False, states=(s,)))
            for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        },
        "sampler": spec.sampler,
        "pruner": spec.pruner,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "git": git_state(),
    }
    tuned = {k: v for k, v in as_plain(config).items() if k in best.params}
    rundir.atomic_write(out, tuned_file.dump(tuned, provenance))
    return out
