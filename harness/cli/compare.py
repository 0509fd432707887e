"""``compare``: plan a matched-budget study, show it with a cost estimate, run it (locally or on
Ray), and write its report."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path

from harness.cli.args import parse_list, resolve_device, seeds_from, unique
from harness.cli.options import RunOptions
from harness.cli.sequential import run_sequential
from harness.errors import UsageError
from harness.execution.dispatch import run_plan
from harness.execution.local import Executor, available_cores, threads_per_run
from harness.execution.progress import Display, make_display
from harness.report.write import write_report
from harness.run import checkpoint
from harness.run.record import Status
from harness.run.runner import CheckpointPolicy
from harness.sequential import Design
from harness.study.plan import check_writable, confirm, describe_plan, make_plan, remove_if_empty
from harness.study.spec import StudySpec, default_study_name

#: (device, jobs, torch threads per run, executor or None for the local pool) -> exit code
Start = Callable[[str, int, int, "Executor | None"], int]


def cmd_compare(args: argparse.Namespace) -> int:
    import torch

    from harness.agents import get_arm
    from harness.config.resolve import parse_override
    from harness.run.envs import resolve_env_id

    envs = unique([resolve_env_id(e) for e in parse_list(args.env, "--env")], "--env")
    arms = unique([get_arm(a).name for a in parse_list(args.algos, "--algos")], "--algos")
    overrides = dict(parse_override(o) for o in args.hp)
    reference = getattr(args, "reference", None)
    if reference is not None and reference not in arms:
        raise UsageError(f"--reference {reference!r} is not among the study's arms ({', '.join(arms)})")
    display = make_display("quiet" if args.quiet else args.progress)
    if args.checkpoint_minutes <= 0:
        raise UsageError(f"--checkpoint-minutes: expected a positive number, got {args.checkpoint_minutes}")
    policy = CheckpointPolicy(steps=args.checkpoint_every, seconds=60 * args.checkpoint_minutes)
    design = sequential_design(args, arms)

    def start(device: str, jobs: int, threads: int, executor: Executor | None) -> int:
        study = StudySpec(
            name=args.study
            or default_study_name(envs, args.budget or "full", args.steps) + ("-adaptive" if design else ""),
            envs=envs,
            arms=arms,
            seeds=design.seeds(1, args.seed_offset) if design else seeds_from(args.seeds or 5, args.seed_offset),
            budget=args.budget if args.budget or args.steps else "full",
            steps=args.steps,
            eval_freq=args.eval_freq,
            eval_episodes=args.eval_episodes,
            device=device,
            hp_files=tuple(args.hp_file),
            hp_overrides=overrides,
            hp_set="tuned" if args.tuned_dir else args.hp_set,
            tuned_dir=args.tuned_dir,
            value_episodes=args.value_episodes,
        )
        options = RunOptions(
            jobs,
            threads,
            display,
            dry_run=args.dry_run,
            assume_yes=args.yes,
            estimate=not args.no_estimate,
            report=not args.no_report,
            policy=policy,
            executor=executor,
            matmul_backend=args.matmul_backend,
            precision=args.precision,
            tensorboard=not args.no_tensorboard,
            reference=reference,
            seed_groups=args.seed_groups,
        )
        if design is None:
            return run_compare(study, args.results, options)
        return run_sequential(study, args.results, options, design, args.seed_offset)

    if args.backend == "ray":
        return compare_on_ray(args, policy, display, start)
    if args.checkpoint_uri:
        raise UsageError(
            "--checkpoint-uri applies to --backend ray; local runs keep their checkpoints in their run directories"
        )
    jobs = args.jobs or available_cores()
    device = resolve_device(args.device, torch.cuda.is_available(), f"torch {torch.__version__}")
    return start(device, jobs, threads_per_run(jobs), None)


def sequential_design(args: argparse.Namespace, arms: tuple[str, ...]) -> Design | None:
    """The sequential design of ``--sequential`` (SEEDS=adaptive), None without it; its options alone are refused."""
    options = {
        "--per-look": args.per_look,
        "--looks": args.looks,
        "--alpha": args.alpha,
        "--compare": args.compare,
        "--equivalence-margin": args.equivalence_margin,
        "--permutation-seed": args.permutation_seed,
    }
    if not args.sequential:
        given = [name for name, value in options.items() if value is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: only with --sequential (make compare SEEDS=adaptive)")
        return None
    if args.seeds is not None:
        raise UsageError(
            "--seeds and --sequential exclude each other: a sequential study adds --per-look seeds per look "
            "(make compare SEEDS=adaptive [PER_LOOK=5] [LOOKS=4])"
        )
    return Design(
        arms,
        per_look=args.per_look or 5,
        looks=args.looks or 4,
        alpha=0.05 if args.alpha is None else args.alpha,
        compare=args.compare or "all",
        equivalence_margin=args.equivalence_margin,
        seed=args.permutation_seed or 0,
    )


def compare_on_ray(args: argparse.Namespace, policy: CheckpointPolicy, display: Display, start: Start) -> int:
    """The study on Ray: embedded with --jobs CPUs (default: the cores here), or on the cluster at
    --ray-address with --jobs runs at a time (default: the cluster's CPUs), one torch thread each."""
    from harness.execution import ray

    store = None
    if args.checkpoint_uri:
        store = checkpoint.UriStore(args.checkpoint_uri)
        store.check()
    with ray.session(args.ray_address, args.jobs or available_cores()) as cluster:
        display.line(cluster.describe())
        device = resolve_device(args.device, cluster.gpus > 0, cluster.where)
        jobs = args.jobs or max(1, cluster.cpus)
        threads = threads_per_run(jobs) if cluster.address is None else 1
        executor = ray.RayExecutor(cluster, jobs, threads, policy, store, args.max_retries)
        return start(device, jobs, threads, executor)


def run_compare(study: StudySpec, results_root: Path, options: RunOptions) -> int:
    """The whole compare command; returns the exit code (0, or 1 if any run failed or diverged).
    ``tensorboard`` False: the runs write no event files."""
    created = [] if options.dry_run else check_writable(results_root, study.name)
    try:
        plan = make_plan(
            study,
            results_root,
            options.jobs,
            options.threads,
            estimate=options.estimate,
            matmul_backend=options.matmul_backend,
            precision=options.precision,
            seed_groups=options.seed_groups,
        )
        if not options.tensorboard:
            plan.runs = [dataclasses.replace(r, tensorboard=False) for r in plan.runs]
        for line in describe_plan(plan, results_root, options.jobs, options.threads):
            options.display.line(line)
        if options.dry_run:
            return 0
        confirm(plan, options.jobs, options.assume_yes)
    except BaseException:
        remove_if_empty(created)  # a refused study leaves no empty folder behind
        raise
    summaries = (
        run_plan(plan, results_root, options.jobs, options.threads, options.display, options.policy, options.executor)
        if plan.to_run
        else []
    )
    failed = [s for s in summaries if s["status"] not in (Status.COMPLETE, Status.BUSY, Status.CANCELLED)]
    if options.report:
        path = write_report(Path(results_root) / study.name, reference=options.reference)
        options.display.line(f"report: {path} and {path.with_suffix('.html')}")
    if failed:
        options.display.line(
            f"{len(failed)} run(s) did not complete: "
            + ", ".join(f"{s['key']} ({s['status']})" for s in failed)
            + " (see their meta.json)"
        )
    return 1 if failed else 0
