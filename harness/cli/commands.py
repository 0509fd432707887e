"""The commands besides compare and tune: report, reference-scores, bench, enjoy, record, hyperparams.

Each imports what it needs when it runs, so ``report`` imports neither torch nor the agents.
"""

from __future__ import annotations

import argparse
import sys

from harness.cli.args import parse_list
from harness.config import env_name
from harness.errors import UsageError


def cmd_report(args: argparse.Namespace) -> int:
    from harness.report.write import write_report

    path = write_report(args.results / args.study, reps=args.bootstrap_reps, seed=args.seed, reference=args.reference)
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

    import numpy as np
    import torch

    from harness.agents import get_arm
    from harness.config.resolve import resolve
    from harness.execution.local import available_cores
    from harness.run import bench, matmul
    from harness.run.envs import make_env, resolve_env_id

    env_id = resolve_env_id(args.env)
    cores = available_cores()
    try:
        threads = (
            sorted({int(t) for t in parse_list(args.threads, "--threads")}) if args.threads else sorted({1, cores})
        )
    except ValueError:
        raise UsageError(f"--threads: expected positive integers, comma-separated, got {args.threads!r}") from None
    if min(threads) < 1:
        raise UsageError(f"--threads: expected positive integers, got {args.threads!r}")
    if args.groups:
        return _bench_groups(args, env_id, threads)
    if args.device != "cpu":
        raise UsageError(
            f"--device {args.device}: applies to --groups only (the comparison with SB3's and SBX's TD3 runs on the CPU)"
        )
    config = resolve(get_arm("td3"), env_id).config
    env = make_env(env_id)
    obs_dim, act_dim = int(np.prod(env.observation_space.shape or ())), int(np.prod(env.action_space.shape or ()))
    env.close()
    shapes = matmul.layer_shapes(config.batch_size, obs_dim, act_dim, config.net_arch, config.net_arch)
    choice = matmul.choose(args.matmul_backend, [], shapes, 1, "cpu")
    backends = sorted({"default", choice.backend}, key=matmul.BACKENDS.index)
    sbx = bench.sbx_available() and not args.no_sbx
    print(
        f"{env_id}: {args.steps} timed steps after {args.warmup} random ones, {args.rounds} alternating rounds; "
        f"threads {', '.join(map(str, threads))}; torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {cores} cores; rates per second of "
        f"{'wall-clock' if args.clock == 'wall' else 'CPU time'}",
        flush=True,
    )
    print(choice.describe() + ("" if sbx else "; SBX not measured (make venv EXTRAS=dev,sbx)"), flush=True)
    rates = bench.run(
        env_id,
        args.steps,
        args.warmup,
        args.rounds,
        threads,
        backends,
        sbx,
        say=lambda line: print(line, flush=True),
        bf16=not args.no_bf16,
        clock=args.clock,
    )
    floor = bench.matmul_floor(env_id, choice.backend)
    unit = "env steps/s" if args.clock == "wall" else "env steps per CPU-second"
    for line in bench.summary(rates, env_id, choice.backend, floor, unit):
        print(line)
    return 0


def _bench_groups(args: argparse.Namespace, env_id: str, threads: list[int]) -> int:
    """``bench --groups 1,4 [--device cuda]``: seed groups of our TD3, on the default matmul backend; first
    the batched update checked against each member's own train() on the same device (exit 1 if off)."""
    import platform

    import torch

    from harness.cli.args import resolve_device
    from harness.run import bench

    try:
        sizes = sorted({int(k) for k in parse_list(args.groups, "--groups")})
    except ValueError:
        raise UsageError(f"--groups: expected positive integers, comma-separated, got {args.groups!r}") from None
    if min(sizes) < 1:
        raise UsageError(f"--groups: expected positive integers, got {args.groups!r}")
    device = resolve_device(args.device, torch.cuda.is_available(), f"torch {torch.__version__}")
    n = min(threads)
    where = (
        f"on {torch.cuda.get_device_name()}"
        if device == "cuda"
        else "on the CPU: groups are meant for a GPU (on a CPU a batched product of large layers is no faster than "
        "K single ones)"
    )
    print(
        f"{env_id}: seed groups of {', '.join(map(str, sizes))} members of our TD3 (uniform, 1-step), {args.steps} "
        f"timed lockstep steps after {args.warmup} random ones, {args.rounds} alternating rounds; {n} thread"
        f"{'s' if n > 1 else ''}; torch {torch.__version__}, {platform.processor() or platform.machine()}, {where}",
        flush=True,
    )
    gaps = bench.group_update_gaps(device)
    off = {name: gap for name, gap in gaps.items() if not gap <= bench.GROUP_CHECK_RTOL}
    print(
        f"check on {device}: a group of 3's batched update against each member's own train(), largest parameter "
        "difference relative to its network's largest: "
        + ", ".join(f"{name} {gap:.2g}" for name, gap in gaps.items())
        + f" ({'not ' if off else ''}within {bench.GROUP_CHECK_RTOL:g})",
        flush=True,
    )
    if off:
        print(f"the batched update is off on {device} for {', '.join(off)}: no speed is measured", file=sys.stderr)
        return 1
    rates = bench.run_groups(
        env_id,
        sizes,
        args.steps,
        args.warmup,
        args.rounds,
        n,
        "default",
        say=lambda line: print(line, flush=True),
        device=device,
    )
    for line in bench.group_summary(rates, n, "default", device):
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
    print(f"{arm.name}: {arm.description} ({arm.config_cls.__qualname__}; {arm.origin})")
    for name, accepted, default, text in describe(arm.config_cls):
        print(f"  {name:<20} {text}. Accepts {accepted}; library default {default!r}")
    if args.env:
        resolved = resolve(arm, args.env)
        budget = f"n_timesteps {resolved.n_timesteps:,}" if resolved.n_timesteps else "no n_timesteps of its own"
        print(f"\nOn {args.env} ({budget}), from {' + '.join(resolved.sources)}:")
        for key, value in vars(resolved.config).items():
            print(f"  {key:<20} {value!r}")
    return 0
