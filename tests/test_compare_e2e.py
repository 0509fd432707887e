"""A real compare on Pendulum-v1 at a tiny budget, through the CLI and the process pool."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from harness.run import rundir

ARMS = ("td3", "sb3-td3", "sb3-ddpg")  # the default arms


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Run the study once for every test in this module; returns (results root, stdout of the run)."""

    root = tmp_path_factory.mktemp("results")
    hp = root / "tiny.yml"
    hp.write_text("all:\n  all:\n    net_arch: [16, 16]\n    batch_size: 32\n    buffer_size: 5000\n")
    args = [
        *"compare --env Pendulum-v1 --steps 600 --eval-freq 200 --eval-episodes 2 --seeds 2 --jobs 2 --hp-file".split(),
        str(hp),
        "--results",
        str(root),
        *"--study e2e --progress quiet".split(),
    ]
    out = subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return root, args, out.stdout


def run_dirs(root):
    return {(arm, seed): root / "e2e" / arm / f"Pendulum-v1_{seed}" for arm in ARMS for seed in (0, 1)}


@pytest.mark.long
def test_plan_is_printed_before_running(study):
    _, _, out = study
    assert "runs: 6 = 1 env(s) x 3 arm(s) x 2 seed(s); 6 to run" in out
    assert (
        "600 env steps per run (STEPS: 3% of the full 20,000; evaluated as budget 'smoke' is" in out
        and "evaluation every 200 steps, 2 episodes" in out
    )
    assert "learning_starts 10,000 -> 300" in out  # scaled by 600 / 20,000
    assert "rl-zoo3" in out and "td3.yml [Pendulum-v1]" in out
    assert "estimate: about" in out
    assert out.index("estimate") < out.index("start  ")


def test_evaluations_follow_the_schedule(study):
    root, _, _ = study
    for run_dir in run_dirs(root).values():
        evals = pd.read_csv(run_dir / "evals.csv")
        assert evals["step"].tolist() == [0, 200, 400, 600]
        # The returns, then the value diagnostics of the arm's critic (every default arm has one), then CPU time.
        assert list(evals.columns[-7:]) == ["return_0", "return_1", *rundir.VALUE_COLUMNS, rundir.CPU_COLUMN]
        cpu = evals[rundir.CPU_COLUMN].to_numpy()
        assert (cpu > 0).all() and (np.diff(cpu) > 0).all()  # the run's CPU seconds so far, growing
        meta = json.loads((run_dir / "meta.json").read_text())
        assert meta["timings"]["cpu_s"] >= cpu[-1] > 0
        assert np.allclose(evals["return_mean"], evals[["return_0", "return_1"]].mean(axis=1), rtol=1e-5)
        assert evals["updates"].iloc[0] == 0 and evals["updates"].iloc[-1] > 0  # learning happened
        npz = np.load(run_dir / "evaluations.npz")
        assert npz["timesteps"].tolist() == [0, 200, 400, 600]
        assert npz["results"].shape == (4, 2) and npz["ep_lengths"].tolist() == [[200, 200]] * 4
        assert np.allclose(npz["results"].mean(axis=1), evals["return_mean"], rtol=1e-5)


def test_same_evaluation_episodes_for_every_arm(study):
    root, _, _ = study
    # At step 0 no arm has learned: the same seed gives the same initial actor in all three arms
    # (same architecture, same initialisation order), and the fixed evaluation episodes make the
    # returns identical.
    first = {arm: pd.read_csv(run_dirs(root)[arm, 0] / "evals.csv")["return_0"].iloc[0] for arm in ARMS}
    assert first["td3"] == first["sb3-td3"] == first["sb3-ddpg"]


def test_meta_and_config_hold_every_hyperparameter(study):
    root, _, _ = study
    for (arm, seed), run_dir in run_dirs(root).items():
        meta = json.loads((run_dir / "meta.json").read_text())
        assert meta["status"] == "complete"
        hp = meta["spec"]["hyperparameters"]
        assert hp["net_arch"] == [16, 16] and hp["batch_size"] == 32 and hp["gamma"] == 0.98
        assert hp["learning_starts"] == 300 and meta["spec"]["learning_starts_configured"] == 10000
        assert ("policy_delay" in hp) == (arm != "sb3-ddpg")
        assert hp.get("prioritized", False) is False and hp["n_steps"] == 1  # td3 runs at sb3-td3's settings
        assert yaml.safe_load((run_dir / "config.yml").read_text()) == hp
        assert meta["spec"]["seed"] == seed and meta["spec"]["budget"]["total_steps"] == 600
        assert {"torch", "stable-baselines3", "gymnasium", "rl-zoo3"} <= set(meta["versions"])
        assert "commit" in meta["git"] and meta["host"]["cpu_count"] >= 1
        assert meta["timings"]["steps_per_s"] > 0 and meta["result"]["env_steps"] == 600
        monitor = pd.read_csv(run_dir / "0.monitor.csv", skiprows=1)
        assert monitor["l"].tolist() == [200, 200, 200]
        model = run_dir / ("model.pt" if arm == "td3" else "model.zip")
        assert model.stat().st_size > 0


def test_report_has_one_row_per_algorithm_and_a_figure(study):
    root, _, _ = study
    report = (root / "e2e" / "report.md").read_text()
    final = report.split("### Final performance")[1].split("###")[0]
    rows = [line.split("|") for line in final.splitlines() if line.startswith("|") and "---" not in line][1:]
    assert [r[1].strip() for r in rows] == list(ARMS)  # one row per algorithm, in registry order
    assert all(r[2].strip() == "2" for r in rows)  # both seeds of each arm
    png = root / "e2e" / "curves_Pendulum-v1.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "![learning curves for Pendulum-v1](curves_Pendulum-v1.png)" in report
    assert "![value estimates on Pendulum-v1](values_Pendulum-v1.png)" in report
    assert (root / "e2e" / "report.html").read_text().count("data:image/png;base64,") == 3  # curves, profile, values


def test_rl_zoo3_plot_script_reads_the_results(study, tmp_path):
    root, _, _ = study
    out = tmp_path / "zoo"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rl_zoo3.plots.all_plots",
            "-a",
            *ARMS,
            "-e",
            "Pendulum-v1",
            "-f",
            str(root / "e2e"),
            "--no-display",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert proc.returncode == 0, proc.stderr
    with open(f"{out}.pkl", "rb") as fh:
        data = pickle.load(fh)
    curves = data["Pendulum-v1"]
    assert len(curves) == 3 and all(c["timesteps"].tolist() == [0, 200, 400, 600] for c in curves.values())


@pytest.mark.long
def test_repeat_skips_complete_runs_and_changed_spec_supersedes(study):
    root, args, _ = study
    before = {k: (d / "meta.json").stat().st_mtime_ns for k, d in run_dirs(root).items()}
    again = subprocess.run(
        [sys.executable, "-m", "harness", *args, "--no-estimate"], capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr
    assert "0 to run, 6 already complete (skipped)" in again.stdout
    assert before == {k: (d / "meta.json").stat().st_mtime_ns for k, d in run_dirs(root).items()}

    changed = [a if a != "2" or args[i - 1] != "--seeds" else "1" for i, a in enumerate(args)]
    changed += ["--algos", "sb3-td3", "--hp", "gamma=0.9", "--no-estimate"]
    proc = subprocess.run([sys.executable, "-m", "harness", *changed], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "1 to run, 0 already complete" in proc.stdout and "1 with a changed spec" in proc.stdout
    new = json.loads((run_dirs(root)["sb3-td3", 0] / "meta.json").read_text())
    assert new["spec"]["hyperparameters"]["gamma"] == 0.9
    old = list((root / "e2e" / "superseded" / "sb3-td3").glob("Pendulum-v1_0.*/meta.json"))
    assert len(old) == 1 and json.loads(old[0].read_text())["spec"]["hyperparameters"]["gamma"] == 0.98
