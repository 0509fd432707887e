"""The command line's parser: every command, its options, their defaults and help."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from harness.cli.args import compare_study_name, non_negative_int, positive_int, study_name
from harness.study.budget import PRESETS

RESULTS = Path("results")
DESCRIPTION = """Fair comparisons of reinforcement-learning agents on matched budgets.

commands:
  compare           run a matched-budget study (envs x arms x seeds) and write its report
  report            rewrite a study's report from its run directories
  tune              an Optuna study for one arm on one env (its best values feed compare)
  promote           make a tuning study's best values the ones compare --hp-set tuned reads
  hyperparams       an arm's hyperparameters, accepted values and resolved values
  check-agent       does an agent keep the contract a study relies on, and its data path? (one row per check)
  parity            does a TD3-family agent's update compute what SB3's TD3 or DDPG computes?
  validate-precision  does PRECISION=bf16 change the answer? (drift over identical updates; TOST of two studies)
  enjoy, record     watch a saved model act (returns; mp4 and GIF)
  bench             env steps/s of our TD3 against SB3's TD3 on identical work
  reference-scores  measure a uniform-random policy's score with the evaluation protocol"""


def add_matmul_option(p: argparse.ArgumentParser, default: str = "auto") -> None:
    """--matmul-backend, shared by compare, tune and bench."""
    p.add_argument(
        "--matmul-backend",
        choices=["auto", "default", "onednn"],
        default=default,
        help="fp32 matrix products of every torch arm: PyTorch's default path or oneDNN; auto times both on the "
        "study's layer shapes, checks them against float64 and takes the faster accurate one (a study keeps the "
        f"backend of its existing runs) (default {default})",
    )


def add_backend_options(p: argparse.ArgumentParser, what: str) -> None:
    """--backend, --ray-address and --max-retries, shared by compare and tune."""
    p.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help=f"local: {what} as processes on this machine (default); ray: as Ray tasks, on the cluster "
        "at --ray-address or on Ray embedded here",
    )
    p.add_argument(
        "--ray-address",
        metavar="HOST:PORT",
        default=os.environ.get("RAY_ADDRESS") or None,
        help="with --backend ray: the head node to join (default: $RAY_ADDRESS; unset: Ray starts "
        "embedded on this machine)",
    )
    p.add_argument(
        "--max-retries",
        type=non_negative_int,
        default=3,
        help="with --backend ray: times a task whose worker or node dies is retried (default 3)",
    )


def build_parser(arms: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command. ``arms`` (name -> description) fills the help texts that list
    the arms; None imports the registry for them (the report's parser does without: it must not
    import the agents, and with them torch)."""
    if arms is None:
        from harness.agents import known_arms

        arms = {name: arm.description for name, arm in known_arms().items()}
    known = (", ".join(arms) or "see `python -m harness compare --help`") + (
        ", or any agent by import path module:Class (docs/agents.md)"
    )

    # No abbreviations: "--hp" must never silently mean "--hp-file".
    parser = argparse.ArgumentParser(prog="python -m harness", description=DESCRIPTION, allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True)

    c = sub.add_parser(
        "compare",
        allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="run a matched-budget study (envs x arms x seeds) and write its report",
        description="Run every arm on every env with every seed on the same budget, evaluate them with one "
        "protocol, and write results/<study>/ with a report.\n\nBudgets:\n"
        + "\n".join(
            f"  {p.name:<6} {p.fraction:>4.0%} of rl-zoo3's n_timesteps (at least 1,000 steps), "
            f"{p.evaluations} evaluations x {p.eval_episodes} episodes: {p.purpose}"
            for p in PRESETS.values()
        )
        + "\n\nArms:\n"
        + "\n".join(f"  {name:<10} {text}" for name, text in arms.items())
        + "\n  module:Class   any agent by import path, e.g. examples.cleanrl_td3:TD3, or an installed\n"
        "                 entry point of the group td3_harness.arms (docs/agents.md)",
    )
    c.add_argument(
        "--env",
        required=True,
        help="gymnasium id(s) with a Box action space, comma-separated; 'module:EnvId' imports module first",
    )
    c.add_argument("--algos", default="td3,sb3-td3,sb3-ddpg", help=f"arms, comma-separated (known: {known})")
    c.add_argument("--seeds", type=positive_int, help="number of seeds per arm and env (seeds 0..N-1; default 5)")
    c.add_argument("--seed-offset", type=int, default=0, help="first seed (default 0)")
    seq = c.add_argument_group(
        "sequential study (make compare SEEDS=adaptive; docs/sequential.md)",
        "--sequential adds seeds look by look and stops comparing arms as soon as a comparison is decided, "
        "with a family-wise error rate at most --alpha over all comparisons",
    )
    seq.add_argument(
        "--sequential",
        action="store_true",
        help="decide with as few seeds as needed: --per-look seeds per arm per look, at most --looks looks",
    )
    seq.add_argument("--per-look", type=positive_int, help="seeds per arm per look (default 5)")
    seq.add_argument("--looks", type=positive_int, help="at most this many looks (default 4)")
    seq.add_argument("--alpha", type=float, help="family-wise error rate over all comparisons (default 0.05)")
    seq.add_argument(
        "--compare",
        choices=["all", "reference"],
        help="all: every pair of arms (default); reference: the first arm of --algos against each other one",
    )
    seq.add_argument(
        "--equivalence-margin",
        type=float,
        metavar="M",
        help="declare equivalence (TOST on normalized scores) only inside +-M; without it undecided "
        "comparisons end as 'not distinguished'",
    )
    seq.add_argument(
        "--permutation-seed", type=int, help="seed of the relabellings the boundaries come from (default 0)"
    )
    c.add_argument(
        "--budget",
        choices=list(PRESETS),
        help="named budget (default full; with --steps, the one whose share of the full budget it is: its evaluation schedule)",
    )
    c.add_argument("--steps", type=positive_int, help="env steps per run, overriding the budget's size")
    c.add_argument("--eval-freq", type=positive_int, help="evaluate every N env steps (default: budget's schedule)")
    c.add_argument("--eval-episodes", type=positive_int, help="episodes per evaluation (default: budget's)")
    c.add_argument(
        "--precision",
        choices=["fp32", "bf16"],
        default="fp32",
        help="arithmetic of every arm's gradient updates: fp32, or bf16 matrix products with fp32 weights, optimizer "
        "state and losses (acting and evaluation stay fp32); one per study (default fp32)",
    )
    c.add_argument(
        "--value-episodes",
        type=non_negative_int,
        default=3,
        help="episodes of each evaluation on which an arm with a critic has its value estimate measured (they "
        "run past the time limit; scores are unchanged); 0: no value measure (default 3)",
    )
    c.add_argument("--jobs", type=positive_int, help="runs in parallel (default: the number of cores)")
    c.add_argument(
        "--seed-groups",
        type=positive_int,
        default=1,
        metavar="K",
        help="train up to K runs that differ only in seed in one process, by one batched update, for arms whose "
        "agent offers group_of (our td3); each keeps its own run directory; an execution choice, not part of a "
        "run's identity; pays on a GPU, not on a CPU (default 1: one seed per process)",
    )
    c.add_argument(
        "--study",
        type=compare_study_name,
        help="study name (default: <envs>-<budget>); results go to <results>/<study>/",
    )
    c.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="torch device; auto picks cuda when available"
    )
    add_matmul_option(c)
    c.add_argument(
        "--hp-file",
        action="append",
        type=Path,
        default=[],
        help="YAML of overrides {arm or all: {env id or all: {key: value}}}; repeatable",
    )
    c.add_argument(
        "--hp-set",
        choices=["default", "tuned"],
        default="default",
        help="tuned: apply the promoted best values of `tune` (hyperparams/tuned/<arm>/<env>.yml; see --tuned-dir)",
    )
    c.add_argument(
        "--tuned-dir",
        type=Path,
        help="read tuned values from this directory (<dir>/<arm>/<env>.yml) instead of hyperparams/tuned, e.g. "
        "a tuning study's own results/tuning/<study>/tuned; implies --hp-set tuned",
    )
    c.add_argument(
        "--hp",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one hyperparameter for every arm, e.g. --hp net_arch=[64,64]; repeatable",
    )
    c.add_argument("--results", type=Path, default=RESULTS, help="results root (default: results)")
    c.add_argument(
        "--progress",
        choices=["auto", "live", "log", "quiet"],
        default="auto",
        help="live bars on a terminal, periodic log lines elsewhere (auto), or quiet",
    )
    c.add_argument("--quiet", action="store_true", help="same as --progress quiet: only start/end lines")
    c.add_argument("--dry-run", action="store_true", help="print the plan and estimate, run nothing")
    c.add_argument("--yes", action="store_true", help="start even if the estimate exceeds two hours")
    c.add_argument("--no-estimate", action="store_true", help="skip the calibration that estimates wall-clock")
    c.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    c.add_argument(
        "--reference", metavar="ARM", help="the arm the report compares every other with (default: td3 if in the study)"
    )
    c.add_argument(
        "--no-tensorboard", action="store_true", help="write no TensorBoard event files into the run directories"
    )
    c.add_argument(
        "--checkpoint-every",
        type=positive_int,
        metavar="STEPS",
        help="checkpoint each run every STEPS env steps (default: every --checkpoint-minutes of work)",
    )
    c.add_argument(
        "--checkpoint-minutes",
        type=float,
        default=10.0,
        help="with no --checkpoint-every: at most this many minutes of work at risk (default 10)",
    )
    add_backend_options(c, "runs")
    c.add_argument(
        "--checkpoint-uri",
        metavar="URI",
        help="with --backend ray: where checkpoints go, a path every node sees or a pyarrow.fs/fsspec "
        "URI such as s3://bucket/ckpt (default: the driver's results tree, sent through Ray)",
    )

    r = sub.add_parser(
        "report", allow_abbrev=False, help="write results/<study>/report.md, a self-contained report.html and figures"
    )
    r.add_argument("--study", required=True, type=compare_study_name, help="study name under the results root")
    r.add_argument("--results", type=Path, default=RESULTS, help="results root (default: results)")
    r.add_argument("--bootstrap-reps", type=positive_int, default=10_000, help="bootstrap resamples for CIs")
    r.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (reports are deterministic given it)")
    r.add_argument(
        "--reference", metavar="ARM", help="the arm every other is compared with (default: td3 if in the study)"
    )

    rs = sub.add_parser(
        "reference-scores",
        allow_abbrev=False,
        help="measure a uniform-random policy's score with the evaluation protocol",
    )
    rs.add_argument("--env", required=True, help="gymnasium id(s), comma-separated")
    rs.add_argument("--episodes", type=positive_int, default=100, help="evaluation episodes (default 100)")

    b = sub.add_parser(
        "bench",
        allow_abbrev=False,
        help="env steps/s of our TD3 beside SB3's and SBX's TD3 on identical work, per thread count and matmul "
        "backend, and the update's matmul floor (last line: speedup)",
    )
    b.add_argument("--env", default="BipedalWalker-v3", help="env id (default BipedalWalker-v3)")
    b.add_argument("--steps", type=positive_int, default=1000, help="timed learning steps per measurement")
    b.add_argument("--warmup", type=positive_int, default=1000, help="random steps before timing")
    b.add_argument("--rounds", type=positive_int, default=3, help="alternating rounds; the median is reported")
    b.add_argument("--threads", help="thread counts, comma-separated (default: 1 and all cores)")
    b.add_argument("--no-sbx", action="store_true", help="leave SBX out even when the sbx extra is installed")
    b.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="rates per second of wall-clock (default) or of the process's CPU time, which other work on a busy "
        "machine does not inflate (at one thread the two agree on a quiet one)",
    )
    b.add_argument(
        "--no-bf16", action="store_true", help="leave out the rows with the updates at bf16 (PRECISION=bf16)"
    )
    b.add_argument(
        "--groups",
        help="seed-group sizes, comma-separated (e.g. 1,4): measure our TD3's seed groups instead, total and per "
        "member env steps/s at the fewest --threads, after checking the batched update against each member's own "
        "on the same device (groups are for GPUs; docs/speed.md)",
    )
    b.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="cpu",
        help="with --groups: the torch device of the groups (default cpu; cuda needs a CUDA device)",
    )
    add_matmul_option(b)

    t = sub.add_parser(
        "tune",
        allow_abbrev=False,
        help="an Optuna study for one arm on one env; its best values feed compare --hp-set tuned",
    )
    t.add_argument("--env", required=True, help="gymnasium id with a Box action space")
    t.add_argument("--algo", required=True, help=f"the arm to tune (known: {known})")
    t.add_argument("--trials", type=positive_int, default=50, help="cap on finished trials in the study (default 50)")
    t.add_argument(
        "--budget",
        choices=list(PRESETS),
        help="budget of each trial's runs (default quick; with --steps, the one whose share of the full budget it is)",
    )
    t.add_argument("--steps", type=positive_int, help="env steps per trial run, overriding the budget's size")
    t.add_argument("--eval-freq", type=positive_int, help="evaluate (and report to the pruner) every N env steps")
    t.add_argument("--eval-episodes", type=positive_int, help="episodes per evaluation")
    t.add_argument("--seeds-per-trial", type=positive_int, default=1, help="runs averaged per trial (default 1)")
    t.add_argument(
        "--storage",
        help="RDB URL shared by workers on several machines, e.g. postgresql://user@host/db "
        "(default: a journal file under results/tuning/<study>/)",
    )
    t.add_argument(
        "--study",
        type=study_name,
        help="study name (default: <arm>-<env>-<budget>, or -<N>steps with --steps); re-running it continues the study",
    )
    t.add_argument("--jobs", type=positive_int, default=1, help="worker processes on the study (default 1)")
    t.add_argument("--sampler", choices=["tpe", "random"], default="tpe", help="default tpe")
    t.add_argument("--pruner", choices=["median", "halving", "none"], default="median", help="default median")
    t.add_argument("--seed", type=int, default=0, help="seed of the sampler and of the trials' runs")
    add_matmul_option(t)
    t.add_argument("--hp-file", action="append", type=Path, default=[], help="overrides applied under the trials")
    t.add_argument(
        "--hp",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one hyperparameter under the trials (the space still wins for its keys)",
    )
    t.add_argument("--results", type=Path, default=RESULTS, help="results root (default: results)")
    t.add_argument("--space", type=Path, help="search space YAML (default: hyperparams/search/<arm>.yml)")
    t.add_argument(
        "--heartbeat",
        type=positive_int,
        default=10,
        help="RDB storage: seconds between worker heartbeats; a trial 3 beats silent is failed and retried",
    )
    t.add_argument(
        "--promote",
        action="store_true",
        help="also promote the best values to --tuned-dir, where compare --hp-set tuned reads them (default: "
        "they stay in results/tuning/<study>/tuned/; see the promote command)",
    )
    t.add_argument("--force", action="store_true", help="with --promote: replace values even if better ones are lost")
    t.add_argument("--tuned-dir", type=Path, help="where --promote puts the values (default: hyperparams/tuned)")
    add_backend_options(t, "--jobs workers")

    pr = sub.add_parser(
        "promote",
        allow_abbrev=False,
        help="make a tuning study's best values (results/tuning/<study>/tuned/) what compare --hp-set tuned reads",
    )
    pr.add_argument("study", type=study_name, help="the tuning study's name (its folder under <results>/tuning/)")
    pr.add_argument("--results", type=Path, default=RESULTS, help="results root (default: results)")
    pr.add_argument("--tuned-dir", type=Path, help="the tuned directory to promote into (default: hyperparams/tuned)")
    pr.add_argument(
        "--force",
        action="store_true",
        help="replace values found with a larger budget or with a better objective (refused otherwise, exit 2)",
    )

    e = sub.add_parser(
        "enjoy", allow_abbrev=False, help="run a saved model for N deterministic episodes and print returns"
    )
    e.add_argument("--run", required=True, type=Path, help="a run directory, results/<study>/<arm>/<env>_<seed>")
    e.add_argument("--episodes", type=positive_int, default=5, help="episodes (default 5)")

    v = sub.add_parser(
        "record", allow_abbrev=False, help="write an mp4 and a short GIF of a saved model acting (headless)"
    )
    v.add_argument("--run", required=True, type=Path, help="a run directory, results/<study>/<arm>/<env>_<seed>")
    v.add_argument(
        "--episodes", type=positive_int, default=1, help="episodes in the mp4 (default 1; the GIF shows the first)"
    )
    v.add_argument("--out", type=Path, help="output folder (default: <run>/videos)")

    ca = sub.add_parser(
        "check-agent",
        allow_abbrev=False,
        help="check that an agent keeps the contract a study relies on: one row per check; exit 1 if a required "
        "one fails",
    )
    ca.add_argument("--agent", required=True, help=f"the arm to check: {known}")
    ca.add_argument(
        "--env", default="Pendulum-v1", help="env of the checks besides the Box shapes (default Pendulum-v1)"
    )
    ca.add_argument(
        "--learning", action="store_true", help="also train on Pendulum-v1 for --steps and beat the random floor"
    )
    ca.add_argument("--steps", type=positive_int, default=10_000, help="with --learning: env steps (default 10,000)")
    ca.add_argument(
        "--no-probes",
        dest="probes",
        action="store_false",
        help="skip the probe environments, which check the data path (about 30 s for our TD3 on one core)",
    )
    ca.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="torch device (default cpu)")

    pa = sub.add_parser(
        "parity",
        allow_abbrev=False,
        help="feed a TD3-family agent and SB3's TD3 or DDPG identical minibatches and compare their networks",
    )
    pa.add_argument("--agent", required=True, help="the agent (it implements the parity adapter, docs/agents.md)")
    pa.add_argument("--reference", choices=["sb3-td3", "sb3-ddpg"], default="sb3-td3", help="default sb3-td3")
    pa.add_argument("--updates", type=positive_int, default=100, help="updates on identical minibatches (default 100)")
    pa.add_argument(
        "--threshold", type=float, default=1e-5, help="largest accepted parameter difference (default 1e-5)"
    )

    vp = sub.add_parser(
        "validate-precision",
        allow_abbrev=False,
        help="fp32 against bf16: parameter drift over identical updates, and a TOST of two studies' final scores",
    )
    vp.add_argument("--fp32-study", required=True, help="a study run with PRECISION=fp32")
    vp.add_argument("--bf16-study", required=True, help="the same study run with PRECISION=bf16")
    vp.add_argument(
        "--margins", required=True, help="equivalence margin per env, in return units: ENV=M[,ENV=M...] (declare first)"
    )
    vp.add_argument("--alpha", type=float, default=0.05, help="level of each one-sided test (default 0.05)")
    vp.add_argument("--updates", type=positive_int, default=100, help="identical updates for the drift (default 100)")
    vp.add_argument("--results", type=Path, default=RESULTS, help="results root (default: results)")

    h = sub.add_parser(
        "hyperparams", allow_abbrev=False, help="list an arm's hyperparameters, accepted values and resolved values"
    )
    h.add_argument("arm", help=f"one of {known}")
    h.add_argument("--env", help="also show the values resolved for this env, with their sources")
    return parser
