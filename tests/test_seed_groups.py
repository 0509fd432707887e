"""Seed groups in the harness (SEED_GROUPS=K): which runs the plan groups, a group's members against the
same seeds run alone, members already complete, a user's own group, a diverging member, and a group killed
with SIGKILL and repeated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import mannwhitneyu

from harness.study.plan import group_seeds
from harness.study.spec import StudySpec

TINY = [*"--env Pendulum-v1 --eval-episodes 2".split()]
NET = [*"--hp net_arch=[16,16] --hp batch_size=32".split()]
QUIET = [*"--progress quiet --no-estimate --no-report".split()]


def compare(run_cli, root, *extra):
    return run_cli("compare", *TINY, *QUIET, "--results", root, *extra)


def meta(root, study, arm, seed):
    return json.loads((root / study / arm / f"Pendulum-v1_{seed}" / "meta.json").read_text())


def evals(root, study, arm, seed):
    return pd.read_csv(root / study / arm / f"Pendulum-v1_{seed}" / "evals.csv")


def test_the_plan_groups_runs_that_differ_only_in_seed():
    study = StudySpec("p", ("Pendulum-v1",), ("td3", "sb3-td3"), (0, 1, 2, 3, 4), "smoke", steps=400)
    units = group_seeds(study.expand(), 2)
    groups = [tuple(r.key for r in u) for u in units if isinstance(u, tuple)]
    alone = sorted(u.key for u in units if not isinstance(u, tuple))
    assert groups == [("td3/Pendulum-v1_0", "td3/Pendulum-v1_1"), ("td3/Pendulum-v1_2", "td3/Pendulum-v1_3")]
    assert alone == ["sb3-td3/Pendulum-v1_" + str(s) for s in range(5)] + ["td3/Pendulum-v1_4"]
    assert group_seeds(study.expand(), 1) == study.expand()
    two_envs = StudySpec("p", ("Pendulum-v1", "LunarLanderContinuous-v3"), ("td3",), (0, 1), "smoke", steps=400)
    units = group_seeds(two_envs.expand(), 8)  # another env is another kind of run: never in one group
    assert sorted({r.env_id for r in u} == {u[0].env_id} for u in units) == [True, True]


def test_the_plan_shows_the_groups(run_cli, tmp_path):
    code, out, err = compare(
        run_cli,
        tmp_path,
        *NET,
        "--algos",
        "td3,sb3-td3",
        "--steps",
        "400",
        "--seeds",
        "3",
        "--seed-groups",
        "2",
        "--dry-run",
    )
    assert code == 0, err
    assert (
        "seed groups: at most 2 runs per process; 1 group(s) (td3 on Pendulum-v1 seeds 0,1), 4 run(s) alone "
        "(sb3-td3: no group_of, one seed per process)" in out
    )
    code, out, err = compare(run_cli, tmp_path, "--algos", "td3", "--steps", "400", "--seed-groups", "0", "--dry-run")
    assert code == 2 and "--seed-groups" in err


def test_members_of_a_group_learn_what_they_learn_alone(run_cli, tmp_path):
    args = [
        *NET,
        "--algos",
        "td3",
        "--steps",
        "1200",
        "--eval-freq",
        "400",
        "--seeds",
        "3",
        "--checkpoint-every",
        "300",
    ]
    assert compare(run_cli, tmp_path, *args, "--study", "alone", "--jobs", "1")[0] == 0
    code, _out, err = compare(run_cli, tmp_path, *args, "--study", "grouped", "--jobs", "1", "--seed-groups", "3")
    assert code == 0, err
    keys = [f"td3/Pendulum-v1_{s}" for s in range(3)]
    for seed in range(3):
        grouped, alone = meta(tmp_path, "grouped", "td3", seed), meta(tmp_path, "alone", "td3", seed)
        assert grouped["status"] == "complete" and grouped["seed_group"] == keys
        assert "seed_group" not in alone
        assert grouped["spec_hash"] == alone["spec_hash"]  # an execution choice, not the run's identity
        assert grouped["timings"]["cpu_s"] > 0 and grouped["result"]["updates"] == alone["result"]["updates"]
        ours, theirs = evals(tmp_path, "grouped", "td3", seed), evals(tmp_path, "alone", "td3", seed)
        assert ours["step"].tolist() == theirs["step"].tolist() == [0, 400, 800, 1200]
        # The same mathematics per member; batched products may round otherwise in the last bits.
        np.testing.assert_allclose(ours["return_mean"], theirs["return_mean"], rtol=1e-3)
        run = tmp_path / "grouped" / "td3" / f"Pendulum-v1_{seed}"
        assert {p.name for p in run.iterdir() if not p.name.startswith("events.")} >= {
            "meta.json",
            "config.yml",
            "evals.csv",
            "evaluations.npz",
            "0.monitor.csv",
            "model.pt",
        }
    again = compare(run_cli, tmp_path, *args, "--study", "grouped", "--seed-groups", "3")
    assert again[0] == 0 and "3 already complete (skipped)" in again[1]


def test_a_group_runs_only_its_incomplete_members(run_cli, tmp_path):
    args = [*NET, "--algos", "td3", "--steps", "600", "--eval-freq", "300", "--study", "m", "--jobs", "1"]
    assert compare(run_cli, tmp_path, *args, "--seeds", "1")[0] == 0
    first = meta(tmp_path, "m", "td3", 0)
    code, out, err = compare(run_cli, tmp_path, *args, "--seeds", "3", "--seed-groups", "3")
    assert code == 0, err
    assert "1 already complete (skipped)" in out and "1 group(s) (td3 on Pendulum-v1 seeds 1,2)" in out
    assert meta(tmp_path, "m", "td3", 0) == first  # not run again
    assert meta(tmp_path, "m", "td3", 2)["seed_group"] == ["td3/Pendulum-v1_1", "td3/Pendulum-v1_2"]


def test_a_users_own_agent_offers_group_of(run_cli, tmp_path):
    args = ["--algos", "tests.own_agents:MinimalGroup", "--steps", "600", "--eval-freq", "300", "--seeds", "3"]
    assert compare(run_cli, tmp_path, *args, "--study", "alone", "--jobs", "1")[0] == 0
    code, out, err = compare(run_cli, tmp_path, *args, "--study", "g", "--jobs", "1", "--seed-groups", "2")
    assert code == 0, err
    assert "1 group(s) (tests.own_agents:MinimalGroup on Pendulum-v1 seeds 0,1), 1 run(s) alone" in out
    arm = "tests.own_agents:MinimalGroup"
    assert meta(tmp_path, "g", arm, 1)["seed_group"] == [f"{arm}/Pendulum-v1_0", f"{arm}/Pendulum-v1_1"]
    assert "seed_group" not in meta(tmp_path, "g", arm, 2)  # a group of one runs alone
    for seed in range(3):
        pd.testing.assert_frame_equal(
            evals(tmp_path, "g", arm, seed)[["step", "return_mean", "return_0"]],
            evals(tmp_path, "alone", arm, seed)[["step", "return_mean", "return_0"]],
        )


def test_a_member_that_breaks_the_contract_fails_alone(run_cli, tmp_path):
    arm = "tests.own_agents:OutOfBoundsAtSeed1InGroup"
    args = ["--algos", arm, "--steps", "600", "--eval-freq", "300", "--seeds", "3", "--seed-groups", "3"]
    code, out, _ = compare(run_cli, tmp_path, *args, "--study", "c")
    assert code == 1 and "1 run(s) did not complete" in out
    failed = meta(tmp_path, "c", arm, 1)
    assert failed["status"] == "failed" and "outside" in failed["error"] and "300" in failed["error"], failed
    for seed in (0, 2):
        record = meta(tmp_path, "c", arm, seed)
        assert record["status"] == "complete" and record["result"]["env_steps"] == 600
        assert evals(tmp_path, "c", arm, seed)["step"].tolist() == [0, 300, 600]


def test_a_diverging_member_leaves_the_group_and_the_others_complete(run_cli, tmp_path):
    arm = "tests.own_agents:DivergesInGroup"
    code, out, _ = compare(
        run_cli,
        tmp_path,
        "--algos",
        arm,
        "--steps",
        "600",
        "--eval-freq",
        "300",
        "--seeds",
        "3",
        "--seed-groups",
        "3",
        "--study",
        "d",
    )
    assert code == 1 and "1 run(s) did not complete" in out
    study = "d"
    statuses = [meta(tmp_path, study, arm, s)["status"] for s in range(3)]
    assert statuses == ["complete", "diverged", "complete"]
    assert meta(tmp_path, study, arm, 1)["divergence"] == {"step": 150, "cause": "critic loss is nan at update 150"}


@pytest.mark.long
def test_our_td3_member_that_diverges_in_the_batched_update(run_cli, tmp_path):
    arm = "tests.own_agents:NaNCriticAtSeed1"
    args = [
        *NET,
        "--algos",
        arm,
        "--steps",
        "1000",
        "--eval-freq",
        "500",
        "--seeds",
        "2",
        "--hp",
        "learning_starts=100",
    ]
    code, _out, _ = compare(run_cli, tmp_path, *args, "--seed-groups", "2", "--study", "g")
    assert code == 1
    diverged, complete = meta(tmp_path, "g", arm, 1), meta(tmp_path, "g", arm, 0)
    assert diverged["status"] == "diverged" and "critic loss is nan at update 600" in diverged["divergence"]["cause"]
    assert complete["status"] == "complete" and complete["result"]["env_steps"] == 1000
    assert compare(run_cli, tmp_path, *args, "--study", "alone")[0] == 1
    alone = meta(tmp_path, "alone", arm, 1)
    assert alone["status"] == "diverged" and alone["divergence"]["cause"] == diverged["divergence"]["cause"]


STEPS, EVAL = 2000, 250


def cli(root, *extra):
    return [
        sys.executable,
        "-m",
        "harness",
        "compare",
        *TINY,
        *NET,
        *QUIET,
        *f"--algos td3 --steps {STEPS} --eval-freq {EVAL} --seeds 2 --seed-groups 2 --checkpoint-every 400".split(),
        *"--study crash --jobs 1 --results".split(),
        str(root),
        *extra,
    ]


def newest_checkpoint_step(run) -> int:
    return max((int(p.stem.split("_")[1]) for p in (run / "checkpoints").glob("step_*.pt")), default=0)


def test_a_group_killed_with_sigkill_resumes_every_member_exactly(tmp_path):
    """Killed once both members have checkpointed past learning_starts (1,000 steps here: updates have run)."""
    straight = subprocess.run(cli(tmp_path / "straight"), capture_output=True, text=True, timeout=600)
    assert straight.returncode == 0, straight.stderr
    killed = tmp_path / "killed"
    runs = [killed / "crash" / "td3" / f"Pendulum-v1_{s}" for s in (0, 1)]
    proc = subprocess.Popen(cli(killed), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not all(newest_checkpoint_step(r) >= 1200 for r in runs):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert all(json.loads((r / "meta.json").read_text())["status"] == "running" for r in runs)
    again = subprocess.run([*cli(killed), "--progress", "log"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "2 resumed from their last checkpoint" in again.stdout
    for seed, run in enumerate(runs):
        record = json.loads((run / "meta.json").read_text())
        assert record["status"] == "complete" and record["resumes"][-1]["seed_group"] == [
            "td3/Pendulum-v1_0",
            "td3/Pendulum-v1_1",
        ]
        reference = tmp_path / "straight" / "crash" / "td3" / f"Pendulum-v1_{seed}"
        cols = ["step", "updates", "return_mean", "return_0", "return_1"]
        pd.testing.assert_frame_equal(pd.read_csv(run / "evals.csv")[cols], pd.read_csv(reference / "evals.csv")[cols])
        mine, ref = (torch.load(r / "model.pt", weights_only=False)["actor"] for r in (run, reference))
        assert all(torch.equal(mine[k], ref[k]) for k in ref)  # every member continues bit for bit
        monitor = pd.read_csv(run / "0.monitor.csv", skiprows=1)
        assert monitor["l"].tolist() == [200] * (STEPS // 200)


@pytest.mark.long
def test_grouped_and_alone_final_scores_are_not_told_apart(tmp_path):
    """Six seeds of our TD3 that learn Pendulum-v1 (10,000 steps), as one group and each alone: both
    learn, and a two-sided Mann-Whitney test does not tell their final scores apart."""
    args = [*TINY, *QUIET, *"--algos td3 --steps 10000 --eval-freq 5000 --eval-episodes 5 --seeds 6".split()]
    args += [*"--hp net_arch=[64,64] --hp batch_size=64 --results".split(), str(tmp_path)]
    for extra in ("--study grouped --seed-groups 6 --jobs 1", "--study alone --jobs 2"):
        done = subprocess.run(
            [sys.executable, "-m", "harness", "compare", *args, *extra.split()],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
    final = {
        study: np.array([meta(tmp_path, study, "td3", s)["result"]["final_return_mean"] for s in range(6)])
        for study in ("grouped", "alone")
    }
    assert (final["grouped"] > -400).all() and (final["alone"] > -400).all(), final  # random: about -1,200
    assert meta(tmp_path, "grouped", "td3", 0)["seed_group"] == [f"td3/Pendulum-v1_{s}" for s in range(6)]
    assert mannwhitneyu(final["grouped"], final["alone"]).pvalue > 0.05, final
