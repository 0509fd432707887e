"""The commands besides compare and tune: report, reference-scores, bench, enjoy, record, hyperparams.

Each imports what it needs when it runs, so ``report`` imports neither torch nor the agents.
"""

from __future__ import annotations

import argparse

from harness.cli.args import parse_list
from harness.config import env_name


def cmd_report(args: argparse.Namespace) -> int:
    from harness.report.write import write_report

    path = write_report(args.results / args.study, reps=args.bootstrap_reps, seed=args.seed)
    print(f"report: {path} and {path.with_suffix('.html')}")
    return 0


def cmd_reference_scores(args: argparse.Namespace) -> int:
    from harness.config import reference
    from harness.run.envs import resolve_env_id
    from harness.run.evaluator import measure_random

    for env_id in parse_list(args.env, "--env"):
        resolve_env_id(env_id)
        score = measure_random(env_id, args.episodes)
        ref = reference.lookup(env_id)
        print(
            f"{env_name(env_id)}:\n  random: {score:.2f}  # uniform random actions, {args.episodes} episodes "
            f"of the evaluation protocol\n  threshold: {ref.threshold}  # {ref.source}"
        )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import platform

    import torch

    from harness.execution.local import available_cores
    from harness.run import bench
    from harness.run.envs import resolve_env_id

    env_id = resolve_env_id(args.env)
    threads = args.threads or available_cores()
    print(
        f"{env_id}: {args.steps} timed steps after {args.warmup} random ones, {threads} torch thread(s), "
        f"{args.rounds} alternating rounds; torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{available_cores()} cores"
    )
    rates = bench.run(env_id, args.steps, args.warmup, args.rounds, threads)
    for line in bench.summary(rates, env_id):
        print(line)
    return 0


def cmd_enjoy(args: argparse.Namespace) -> int:
    from harness.run import watch

    returns = watch.enjoy(args.run, args.episodes, say=print)
    for i, r in enumerate(returns):
        print(f"episode {i}: return {r:.2f}")
    print(f"mean {returns.mean():.2f} over {len(returns)} episodes")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from harness.run import watch

    mp4, gif, first = watch.record(args.run, args.out, args.episodes, say=print)
    print(f"video: {mp4}\ngif: {gif}\nfirst episode return {first:.2f}")
    return 0


def cmd_hyperparams(args: argparse.Namespace) -> int:
    from harness.agents import get_arm
    from harness.config.resolve import resolve
    from harness.config.schema import describe

    arm = get_arm(args.arm)
    print(f"{arm.name}: {arm.description} ({arm.config_cls.__name__})")
    for name, accepted, default, text in describe(arm.config_cls):
        print(f"  {name:<20} {text}. Accepts {accepted}; library default {default!r}")
    if args.env:
        resolved = resolve(arm, args.env)
        print(f"\nOn {args.env} (n_timesteps {resolved.n_timesteps:,}), from {' + '.join(resolved.sources)}:")
        for key, value in vars(resolved.config).items():
            print(f"  {key:<20} {value!r}")
    return 0
