"""Same seed, same results on CPU; another seed, other results."""

import dataclasses

import pandas as pd
import pytest
import torch
from stable_baselines3 import DDPG, TD3

from harness.run import rundir
from harness.run.runner import execute
from harness.study.spec import StudySpec

LOADERS = {"sb3-td3": TD3, "sb3-ddpg": DDPG}


def one_run(arm, seed, hp_file, backend):
    study = StudySpec(
        "det", ("Pendulum-v1",), (arm,), (seed,), steps=500, eval_freq=250, eval_episodes=2, hp_files=(hp_file,)
    )
    return dataclasses.replace(study.expand()[0], matmul_backend=backend)  # the backend this machine's studies use


def outcome(run_dir, arm):
    evals = pd.read_csv(run_dir / "evals.csv").drop(columns=["wall_s", "eval_s", rundir.CPU_COLUMN])
    monitor = pd.read_csv(run_dir / "0.monitor.csv", skiprows=1)["r"]
    params = LOADERS[arm].load(run_dir / "model.zip", device="cpu").policy.state_dict()
    return evals, monitor, params


@pytest.mark.parametrize("arm", ["sb3-td3", "sb3-ddpg"])
def test_same_seed_same_results(tmp_path, tiny_hp_file, arm, matmul_backend):
    a = execute(one_run(arm, 7, tiny_hp_file, matmul_backend), tmp_path / "a")
    b = execute(one_run(arm, 7, tiny_hp_file, matmul_backend), tmp_path / "b")
    c = execute(one_run(arm, 8, tiny_hp_file, matmul_backend), tmp_path / "c")
    assert a["status"] == b["status"] == c["status"] == "complete"
    ea, ma, pa = outcome(tmp_path / "a" / "det" / arm / "Pendulum-v1_7", arm)
    eb, mb, pb = outcome(tmp_path / "b" / "det" / arm / "Pendulum-v1_7", arm)
    _ec, mc, pc = outcome(tmp_path / "c" / "det" / arm / "Pendulum-v1_8", arm)
    pd.testing.assert_frame_equal(ea, eb)
    pd.testing.assert_series_equal(ma, mb)
    assert pa.keys() == pb.keys() and all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not ma.equals(mc)
    assert not all(torch.equal(pa[k], pc[k]) for k in pa)
