"""``tune``: an Optuna study for one arm on one env, with local or Ray workers."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from harness.cli.promote import after_tune
from harness.config import env_name
from harness.config import tuned as tuned_file
from harness.errors import UsageError
from harness.execution.local import threads_per_run

if TYPE_CHECKING:
    import optuna

    from harness.tuning.tune import TuneSpec


def cmd_tune(args: argparse.Namespace) -> int:
    from harness.agents import get_arm
    from harness.config import search
    from harness.config.resolve import parse_override
    from harness.config.schema import learning_starts
    from harness.run.envs import resolve_env_id
    from harness.tuning import tune

    if args.force and not args.promote:
        raise UsageError("--force applies to a promotion: add --promote (make tune ... PROMOTE=1 FORCE=1)")
    env_id, arm_info = resolve_env_id(args.env), get_arm(args.algo)
    arm = arm_info.name
    spec = tune.TuneSpec(
        study=args.study or default_tuning_study(arm, env_id, args.budget or "quick", args.steps),
        arm=arm,
        env_id=env_id,
        trials=args.trials,
        budget=args.budget if args.budget or args.steps else "quick",
        steps=args.steps,
        eval_freq=args.eval_freq,
        eval_episodes=args.eval_episodes,
        seeds_per_trial=args.seeds_per_trial,
        storage=args.storage,
        sampler=args.sampler,
        pruner=args.pruner,
        seed=args.seed,
        hp_files=tuple(args.hp_file),
        hp_overrides=tuple(parse_override(o) for o in args.hp),
        space=args.space,
        heartbeat=args.heartbeat,
    )
    # Bad input is refused before the study's folder and storage exist: nothing is left behind.
    search.load_space(arm_info, spec.space)
    spec.base_run()
    tune.check_design(spec, args.results)  # a study continues only as what its trials were
    choice = tune.choose_backend(spec, args.results, args.matmul_backend, threads_per_run(args.jobs))
    spec = dataclasses.replace(spec, matmul_backend=choice.backend)
    print(choice.describe(), flush=True)
    base = spec.base_run()
    space, left_out = tune.search_space(spec)
    print(
        f"search space: {', '.join(space)}" + "".join(f"; left out: {name} ({why})" for name, why in left_out.items()),
        flush=True,
    )
    print(
        f"Tuning {arm} on {env_id}: study '{spec.study}', up to {spec.trials} trials x {spec.seeds_per_trial} "
        f"seed(s) x {base.budget.total_steps:,} env steps, {args.jobs} worker(s), sampler {spec.sampler}, "
        f"pruner {spec.pruner} (never before a run's first gradient update, step {learning_starts(base.config):,} "
        "at the earliest)",
        flush=True,
    )
    if args.backend == "ray":
        study = tune_on_ray(args, spec)
    else:
        study = tune.run(spec, args.results, args.jobs, threads_per_run(args.jobs))
    folder = tune.study_dir(spec, args.results)
    best = study.best_trial if any(t.value is not None for t in study.trials) else None
    print(f"best: trial {best.number}, value {best.value:.2f}" if best else "no trial completed")
    print(f"summary: {folder / 'summary.md'}", flush=True)
    values = tuned_file.path_for(tuned_file.study_tuned_dir(args.results, spec.study), arm, env_id)
    after_tune(args, spec.study, arm, env_id, values if best and values.exists() else None)
    return 0


def default_tuning_study(arm: str, env_id: str, budget: str, steps: int | None) -> str:
    """``<arm>-<env>-<budget>`` (``-<N>steps`` with --steps): another budget is another study."""
    return f"{arm}-{env_name(env_id)}-" + (f"{steps}steps" if steps is not None else budget)


def tune_on_ray(args: argparse.Namespace, spec: TuneSpec) -> optuna.Study:
    """The tuning workers as Ray tasks: on a cluster they share the study through --storage."""
    from harness.execution.ray import session
    from harness.tuning import ray, tune

    ray.check_tune_storage(spec.storage, args.ray_address)
    with session(args.ray_address, args.jobs) as cluster:
        print(cluster.describe(), flush=True)
        threads = threads_per_run(args.jobs) if cluster.address is None else 1
        return tune.run(spec, args.results, args.jobs, threads, ray.TuneLauncher(cluster, args.max_retries))
