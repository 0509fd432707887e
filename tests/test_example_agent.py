"""The example agent (examples/cleanrl_td3.py), named by import path, in a real compare beside sb3-td3 on
Pendulum-v1 through the CLI and the process pool; then watched, and tuned with a search-space file."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from harness.run import watch

EXAMPLE = "examples.cleanrl_td3:TD3"
ARMS = (EXAMPLE, "sb3-td3")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    hp = root / "tiny.yml"
    hp.write_text("all:\n  all:\n    net_arch: [16, 16]\n    batch_size: 32\n    buffer_size: 5000\n")
    args = [
        *"compare --env Pendulum-v1 --steps 600 --eval-freq 300 --eval-episodes 2 --seeds 1 --jobs 2".split(),
        *("--algos", ",".join(ARMS), "--hp-file", str(hp), "--results", str(root)),
        *"--study own --progress quiet".split(),
    ]
    out = subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    return root, out.stdout


@pytest.mark.long
def test_the_example_runs_beside_sb3_td3(study):
    root, out = study
    assert f"{EXAMPLE}: import path {EXAMPLE}; code source" in out and "(examples/cleanrl_td3.py, git " in out
    for arm in ARMS:
        run_dir = root / "own" / arm / "Pendulum-v1_0"
        meta = json.loads((run_dir / "meta.json").read_text())
        assert meta["status"] == "complete" and meta["spec"]["hyperparameters"]["net_arch"] == [16, 16]
        evals = pd.read_csv(run_dir / "evals.csv")
        assert evals["step"].tolist() == [0, 300, 600] and evals["updates"].iloc[-1] > 0
    agent = json.loads((root / "own" / EXAMPLE / "Pendulum-v1_0" / "meta.json").read_text())["agent"]
    assert agent["module_file"] == "examples/cleanrl_td3.py" and agent["identity"] == f"source {agent['source_hash']}"
    report = (root / "own" / "report.md").read_text()
    assert EXAMPLE in report and "sb3-td3" in report


def test_enjoy_replays_the_example(study):
    root, _ = study
    run_dir = root / "own" / EXAMPLE / "Pendulum-v1_0"
    returns = watch.enjoy(run_dir, episodes=2)
    final = pd.read_csv(run_dir / "evals.csv")[["return_0", "return_1"]].iloc[-1].to_numpy()
    assert np.allclose(returns, final, rtol=1e-5)  # the saved model acts as it was evaluated


def test_tune_takes_the_example_with_a_search_space_file(run_cli, tmp_path):
    space = tmp_path / "space.yml"
    space.write_text(
        "learning_rate: {type: float, low: 1.0e-4, high: 1.0e-3, log: true}\nexploration_noise: {type: float, low: 0.05, high: 0.3}\n"
    )
    bad = tmp_path / "bad.yml"
    bad.write_text("noise_std: {type: float, low: 0.05, high: 0.3}\n")
    common = ["tune", "--env", "Pendulum-v1", "--algo", EXAMPLE, "--results", tmp_path / "r", "--steps", "300"]
    code, _, err = run_cli(*common, "--space", bad, "--trials", "1")
    assert code == 2 and "unknown hyperparameter 'noise_std'" in err
    code, out, err = run_cli(
        *common, "--space", space, "--trials", "1", "--eval-freq", "150", "--pruner", "none", "--hp", "net_arch=[8]"
    )
    assert code == 0, err
    assert f"Tuning {EXAMPLE} on Pendulum-v1" in out and "best: trial 0" in out
