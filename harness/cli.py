"""Command line: ``python -m harness compare|report|hyperparams``. Usage errors exit with code 2."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UsageError

if TYPE_CHECKING:
    import optuna

    from harness.executors import Executor
    from harness.progress import Display
    from harness.runner import CheckpointPolicy
    from harness.tune import TuneSpec

RESULTS = Path("results")


def _int_at_least(low: int, words: str):
    """An argparse type: an integer of at least ``low``, with an error naming what was given."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {words}, got {value}")
        return value
    return parse


positive_int = _int_at_least(1, "a positive integer")
non_negative_int = _int_at_least(0, "a non-negative integer")


def add_backend_options(p: argparse.ArgumentParser, what: str) -> None:
    """--backend, --ray-address and --max-retries, shared by compare and tune."""
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help=f"local: {what} as processes on this machine (default); ray: as Ray tasks, on the cluster "
                        "at --ray-address or on Ray embedded here")
    p.add_argument("--ray-address", metavar="HOST:PORT", default=os.environ.get("RAY_ADDRESS") or None,
                   help="with --backend ray: the head node to join (default: $RAY_ADDRESS; unset: Ray starts "
                        "embedded on this machine)")
    p.add_argument("--max-retries", type=non_negative_int, default=3,
                   help="with --backend ray: times a task whose worker or node dies is retried (default 3)")


def resolve_device(requested: str, cuda: bool, where: str) -> str:
    """'auto' -> cuda when ``where`` has a CUDA device, else cpu; UsageError for cuda without one."""
    if requested == "auto":
        return "cuda" if cuda else "cpu"
    if requested == "cuda" and not cuda:
        raise UsageError(f"--device cuda: {where} sees no CUDA device; use auto or cpu")
    return requested


def build_parser() -> argparse.ArgumentParser:
    from harness.agents import ARMS
    from harness.spec import PRESETS

    # No abbreviations: "--hp" must never silently mean "--hp-file".
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__, allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compare", allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter,
        help="run a matched-budget study (envs x arms x seeds) and write its report",
        description="Run every arm on every env with every seed on the same budget, evaluate them with one "
                    "protocol, and write results/<study>/ with a report.\n\nBudgets:\n" + "\n".join(
                        f"  {p.name:<6} {p.fraction:>4.0%} of rl-zoo3's n_timesteps (at least 1,000 steps), "
                        f"{p.evaluations} evaluations x {p.eval_episodes} episodes: {p.purpose}"
                        for p in PRESETS.values()) + "\n\nArms:\n" + "\n".join(
                        f"  {a.name:<9} {a.description}" for a in ARMS.values()))
    c.add_argument("--env", required=True,
                   help="gymnasium id(s) with a Box action space, comma-separated; 'module:EnvId' imports module first")
    c.add_argument("--algos", default="td3,sb3-td3,sb3-ddpg", help=f"arms, comma-separated (known: {', '.join(ARMS)})")
    c.add_argument("--seeds", type=positive_int, default=5, help="number of seeds per arm and env (seeds 0..N-1)")
    c.add_argument("--seed-offset", type=int, default=0, help="first seed (default 0)")
    c.add_argument("--budget", choices=list(PRESETS), default="full", help="named budget (default full)")
    c.add_argument("--steps", type=positive_int, help="env steps per run, overriding the budget's size")
    c.add_argument("--eval-freq", type=positive_int, help="evaluate every N env steps (default: budget's schedule)")
    c.add_argument("--eval-episodes", type=positive_int, help="episodes per evaluation (default: budget's)")
    c.add_argument("--jobs", type=positive_int, help="runs in parallel (default: the number of cores)")
    c.add_argument("--study", help="study name (default: <envs>-<budget>); results go to <results>/<study>/")
    c.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="torch device; auto picks cuda when available")
    c.add_argument("--hp-file", action="append", type=Path, default=[],
                   help="YAML of overrides {arm or all: {env id or all: {key: value}}}; repeatable")
    c.add_argument("--hp-set", choices=["default", "tuned"], default="default",
                   help="tuned: apply the best values of `tune` (hyperparams/tuned/<arm>/<env>.yml)")
    c.add_argument("--hp", action="append", default=[], metavar="KEY=VALUE",
                   help="override one hyperparameter for every arm, e.g. --hp net_arch=[64,64]; repeatable")
    c.add_argument("--results", type=Path, default=RESULTS, help="results root (default: results)")
    c.add_argument("--progress", choices=["auto", "live", "log", "quiet"], default="auto",
                   help="live bars on a terminal, periodic log lines elsewhere (auto), or quiet")
    c.add_argument("--quiet", action="store_true", help="same as --progress quiet: only start/end lines")
    c.add_argument("--dry-run", action="store_true", help="print the plan and estimate, run nothing")
    c.add_argument("--yes", action="store_true", help="start even if the estimate exceeds two hours")
    c.add_argument("--no-estimate", action="store_true", help="skip the calibration that estimates wall-clock")
    c.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    c.add_argument("--checkpoint-every", type=positive_int, metavar="STEPS",
                   help="checkpoint each run every STEPS env steps (default: every --checkpoint-minutes of work)")
    c.add_argument("--checkpoint-minutes", type=float, default=10.0,
                   help="with no --checkpoint-every: at most this many minutes of work at risk (default 10)")
    add_backend_options(c, "runs")
    c.add_argument("--checkpoint-uri", metavar="URI",
                   help="with --backend ray: where checkpoints go, a path every node sees or a pyarrow.fs/fsspec "
                        "URI such as s3://bucket/ckpt (default: the driver's results tree, sent through Ray)")

    r = sub.add_parser("report", allow_abbrev=False, help="write results/<study>/report.md, a self-contained report.html and figures")
    r.add_argument("--study", required=True, help="study name under the results root")
    r.add_argument("--results", type=Path, default=RESULTS, help="results root (default: results)")
    r.add_argument("--bootstrap-reps", type=positive_int, default=10_000, help="bootstrap resamples for CIs")
    r.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (reports are deterministic given it)")

    rs = sub.add_parser("reference-scores", allow_abbrev=False, help="measure a uniform-random policy's score with the evaluation protocol")
    rs.add_argument("--env", required=True, help="gymnasium id(s), comma-separated")
    rs.add_argument("--episodes", type=positive_int, default=100, help="evaluation episodes (default 100)")

    b = sub.add_parser("bench", allow_abbrev=False, help="env steps/s of our TD3 vs SB3's TD3 on identical work (last line: speedup)")
    b.add_argument("--env", default="BipedalWalker-v3", help="env id (default BipedalWalker-v3)")
    b.add_argument("--steps", type=positive_int, default=1000, help="timed learning steps per measurement")
    b.add_argument("--warmup", type=positive_int, default=1000, help="random steps before timing")
    b.add_argument("--rounds", type=positive_int, default=3, help="alternating rounds; the median is reported")
    b.add_argument("--threads", type=positive_int, default=None, help="torch threads (default: all cores)")

    t = sub.add_parser("tune", allow_abbrev=False, help="an Optuna study for one arm on one env; its best values feed compare --hp-set tuned")
    t.add_argument("--env", required=True, help="gymnasium id with a Box action space")
    t.add_argument("--algo", required=True, help=f"the arm to tune (known: {', '.join(ARMS)})")
    t.add_argument("--trials", type=positive_int, default=50, help="cap on finished trials in the study (default 50)")
    t.add_argument("--budget", choices=list(PRESETS), default="quick", help="budget of each trial's runs (default quick)")
    t.add_argument("--steps", type=positive_int, help="env steps per trial run, overriding the budget's size")
    t.add_argument("--eval-freq", type=positive_int, help="evaluate (and report to the pruner) every N env steps")
    t.add_argument("--eval-episodes", type=positive_int, help="episodes per evaluation")
    t.add_argument("--seeds-per-trial", type=positive_int, default=1, help="runs averaged per trial (default 1)")
    t.add_argument("--storage", help="RDB URL shared by workers on several machines, e.g. postgresql://user@host/db "
                                     "(default: a journal file under results/tuning/<study>/)")
    t.add_argument("--study", help="study name (default: <arm>-<env>); re-running it continues the study")
    t.add_argument("--jobs", type=positive_int, default=1, help="worker processes on the study (default 1)")
    t.add_argument("--sampler", choices=["tpe", "random"], default="tpe", help="default tpe")
    t.add_argument("--pruner", choices=["median", "halving", "none"], default="median", help="default median")
    t.add_argument("--seed", type=int, default=0, help="seed of the sampler and of the trials' runs")
    t.add_argument("--hp-file", action="append", type=Path, default=[], help="overrides applied under the trials")
    t.add_argument("--hp", action="append", default=[], metavar="KEY=VALUE",
                   help="override one hyperparameter under the trials (the space still wins for its keys)")
    t.add_argument("--results", type=Path, default=RESULTS, help="results root (default: results)")
    t.add_argument("--space", type=Path, help="search space YAML (default: hyperparams/search/<arm>.yml)")
    t.add_argument("--heartbeat", type=positive_int, default=10,
                   help="RDB storage: seconds between worker heartbeats; a trial 3 beats silent is failed and retried")
    t.add_argument("--tuned-dir", type=Path, help="where the best values go (default: hyperparams/tuned)")
    add_backend_options(t, "--jobs workers")

    e = sub.add_parser("enjoy", allow_abbrev=False, help="run a saved model for N deterministic episodes and print returns")
    e.add_argument("--run", required=True, type=Path, help="a run directory, results/<study>/<arm>/<env>_<seed>")
    e.add_argument("--episodes", type=positive_int, default=5, help="episodes (default 5)")

    v = sub.add_parser("record", allow_abbrev=False, help="write an mp4 and a short GIF of a saved model acting (headless)")
    v.add_argument("--run", required=True, type=Path, help="a run directory, results/<study>/<arm>/<env>_<seed>")
    v.add_argument("--episodes", type=positive_int, default=1, help="episodes in the mp4 (default 1; the GIF shows the first)")
    v.add_argument("--out", type=Path, help="output folder (default: <run>/videos)")

    h = sub.add_parser("hyperparams", allow_abbrev=False, help="list an arm's hyperparameters, accepted values and resolved values")
    h.add_argument("arm", help=f"one of {', '.join(ARMS)}")
    h.add_argument("--env", help="also show the values resolved for this env, with their sources")
    return parser


def cmd_compare(args: argparse.Namespace) -> int:
    import torch

    from harness import compare, hparams, runner
    from harness.agents import get_arm
    from harness.envs import resolve_env_id
    from harness.executors import available_cores, threads_per_run
    from harness.progress import make_display
    from harness.spec import StudySpec, default_study_name

    envs = compare.unique([resolve_env_id(e) for e in compare.parse_list(args.env, "--env")], "--env")
    arms = compare.unique([get_arm(a).name for a in compare.parse_list(args.algos, "--algos")], "--algos")
    overrides = dict(hparams.parse_override(o) for o in args.hp)
    display = make_display("quiet" if args.quiet else args.progress)
    if args.checkpoint_minutes <= 0:
        raise UsageError(f"--checkpoint-minutes: expected a positive number, got {args.checkpoint_minutes}")
    policy = runner.CheckpointPolicy(steps=args.checkpoint_every, seconds=60 * args.checkpoint_minutes)

    def start(device: str, jobs: int, threads: int, executor: Executor | None) -> int:
        study = StudySpec(
            name=args.study or default_study_name(envs, args.budget, args.steps), envs=envs, arms=arms,
            seeds=compare.seeds_from(args.seeds, args.seed_offset), budget=args.budget, steps=args.steps,
            eval_freq=args.eval_freq, eval_episodes=args.eval_episodes, device=device,
            hp_files=tuple(args.hp_file), hp_overrides=overrides, hp_set=args.hp_set)
        return compare.run_compare(study, args.results, jobs, threads, display, dry_run=args.dry_run,
                                   assume_yes=args.yes, estimate=not args.no_estimate, report=not args.no_report,
                                   policy=policy, executor=executor)

    if args.backend == "ray":
        return compare_on_ray(args, policy, display, start)
    if args.checkpoint_uri:
        raise UsageError("--checkpoint-uri applies to --backend ray; local runs keep their checkpoints in their "
                         "run directories")
    jobs = args.jobs or available_cores()
    device = resolve_device(args.device, torch.cuda.is_available(), f"torch {torch.__version__}")
    return start(device, jobs, threads_per_run(jobs), None)


def compare_on_ray(args: argparse.Namespace, policy: CheckpointPolicy, display: Display,
                   start: Callable[[str, int, int, Executor | None], int]) -> int:
    """The study on Ray: embedded with --jobs CPUs (default: the cores here), or on the cluster at
    --ray-address with --jobs runs at a time (default: the cluster's CPUs), one torch thread each."""
    from harness import checkpoint, ray_executor
    from harness.executors import available_cores, threads_per_run

    store = None
    if args.checkpoint_uri:
        store = checkpoint.UriStore(args.checkpoint_uri)
        store.check()
    with ray_executor.session(args.ray_address, args.jobs or available_cores()) as cluster:
        display.line(cluster.describe())
        device = resolve_device(args.device, cluster.gpus > 0, cluster.where)
        jobs = args.jobs or max(1, cluster.cpus)
        threads = threads_per_run(jobs) if cluster.address is None else 1
        executor = ray_executor.RayExecutor(cluster, jobs, threads, policy, store, args.max_retries)
        return start(device, jobs, threads, executor)


def cmd_report(args: argparse.Namespace) -> int:
    from harness.report import write_report

    path = write_report(args.results / args.study, reps=args.bootstrap_reps, seed=args.seed)
    print(f"report: {path} and {path.with_suffix('.html')}")
    return 0


def cmd_reference_scores(args: argparse.Namespace) -> int:
    from harness import reference
    from harness.compare import parse_list
    from harness.envs import env_name, resolve_env_id

    for env_id in parse_list(args.env, "--env"):
        resolve_env_id(env_id)
        score = reference.measure_random(env_id, args.episodes)
        ref = reference.lookup(env_id)
        print(f"{env_name(env_id)}:\n  random: {score:.2f}  # uniform random actions, {args.episodes} episodes "
              f"of the evaluation protocol\n  threshold: {ref.threshold}  # {ref.source}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import platform

    import torch

    from harness import bench
    from harness.envs import resolve_env_id
    from harness.executors import available_cores

    env_id = resolve_env_id(args.env)
    threads = args.threads or available_cores()
    print(f"{env_id}: {args.steps} timed steps after {args.warmup} random ones, {threads} torch thread(s), "
          f"{args.rounds} alternating rounds; torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{available_cores()} cores")
    import statistics

    rates = bench.run(env_id, args.steps, args.warmup, args.rounds, threads)
    for name, values in rates.items():
        ratio = bench.paired_ratio(rates, name, "sb3-td3")
        print(f"median  {name:<20} {statistics.median(values):7.1f} env steps/s  ({ratio:.2f}x sb3-td3, "
              "median of per-round ratios)")
    per_cost = 1 / bench.paired_ratio(rates, "td3 PER 3-step", "td3 uniform 1-step") - 1
    print(f"PER + 3-step cost vs uniform 1-step: {100 * per_cost:+.1f}% time per step")
    memory = bench.buffer_megabytes(env_id)
    print(f"replay memory at 1,000,000 transitions: {memory['uniform']:.0f} MiB uniform, "
          f"{memory['prioritized']:.0f} MiB prioritized")
    print(f"speedup_vs_sb3: {bench.paired_ratio(rates, 'td3 uniform 1-step', 'sb3-td3'):.2f}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from harness import hparams, tune
    from harness.agents import get_arm
    from harness.envs import env_name, resolve_env_id
    from harness.executors import threads_per_run

    env_id, arm = resolve_env_id(args.env), get_arm(args.algo).name
    spec = tune.TuneSpec(study=args.study or f"{arm}-{env_name(env_id)}", arm=arm, env_id=env_id,
                         trials=args.trials, budget=args.budget, steps=args.steps, eval_freq=args.eval_freq,
                         eval_episodes=args.eval_episodes, seeds_per_trial=args.seeds_per_trial,
                         storage=args.storage, sampler=args.sampler, pruner=args.pruner, seed=args.seed,
                         hp_files=tuple(args.hp_file), hp_overrides=tuple(hparams.parse_override(o) for o in args.hp),
                         space=args.space, tuned_dir=args.tuned_dir or tune.TUNED_DIR,
                         heartbeat=args.heartbeat)
    base = spec.base_run()
    print(f"Tuning {arm} on {env_id}: study '{spec.study}', up to {spec.trials} trials x {spec.seeds_per_trial} "
          f"seed(s) x {base.budget.total_steps:,} env steps, {args.jobs} worker(s), sampler {spec.sampler}, "
          f"pruner {spec.pruner} (no pruning before step {base.config.learning_starts:,})", flush=True)
    if args.backend == "ray":
        study = tune_on_ray(args, spec)
    else:
        study = tune.run(spec, args.results, args.jobs, threads_per_run(args.jobs))
    folder = tune.study_dir(spec, args.results)
    best = study.best_trial if any(t.value is not None for t in study.trials) else None
    print(f"best: trial {best.number}, value {best.value:.2f}" if best else "no trial completed")
    print(f"summary: {folder / 'summary.md'}")
    return 0


def tune_on_ray(args: argparse.Namespace, spec: TuneSpec) -> optuna.Study:
    """The tuning workers as Ray tasks: on a cluster they share the study through --storage."""
    from harness import ray_executor, tune
    from harness.executors import threads_per_run

    ray_executor.check_tune_storage(spec.storage, args.ray_address)
    with ray_executor.session(args.ray_address, args.jobs) as cluster:
        print(cluster.describe(), flush=True)
        threads = threads_per_run(args.jobs) if cluster.address is None else 1
        return tune.run(spec, args.results, args.jobs, threads, ray_executor.TuneLauncher(cluster, args.max_retries))


def cmd_enjoy(args: argparse.Namespace) -> int:
    from harness import watch

    returns = watch.enjoy(args.run, args.episodes, say=print)
    for i, r in enumerate(returns):
        print(f"episode {i}: return {r:.2f}")
    print(f"mean {returns.mean():.2f} over {len(returns)} episodes")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from harness import watch

    mp4, gif, first = watch.record(args.run, args.out, args.episodes, say=print)
    print(f"video: {mp4}\ngif: {gif}\nfirst episode return {first:.2f}")
    return 0


def cmd_hyperparams(args: argparse.Namespace) -> int:
    from harness import hparams
    from harness.agents import get_arm
    from harness.config import describe

    arm = get_arm(args.arm)
    print(f"{arm.name}: {arm.description} ({arm.config_cls.__name__})")
    for name, accepted, default, text in describe(arm.config_cls):
        print(f"  {name:<20} {text}. Accepts {accepted}; library default {default!r}")
    if args.env:
        resolved = hparams.resolve(arm, args.env)
        print(f"\nOn {args.env} (n_timesteps {resolved.n_timesteps:,}), from {' + '.join(resolved.sources)}:")
        for key, value in vars(resolved.config).items():
            print(f"  {key:<20} {value!r}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"compare": cmd_compare, "report": cmd_report, "bench": cmd_bench, "tune": cmd_tune,
               "enjoy": cmd_enjoy, "record": cmd_record,
               "hyperparams": cmd_hyperparams, "reference-scores": cmd_reference_scores}[args.command]
    try:
        return handler(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted: unfinished runs are marked in their meta.json; repeating the same command "
              "skips complete runs and restarts the others", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
