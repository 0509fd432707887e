"""A study killed with SIGKILL mid-run and repeated: complete, no duplicate rows, and our TD3
ends exactly where an uninterrupted run ends."""

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

STEPS, EVAL = 3000, 250


def compare(root, *extra):
    return [
        sys.executable,
        *"-m harness compare --env Pendulum-v1 --algos td3,sb3-td3 --steps".split(),
        str(STEPS),
        "--eval-freq",
        str(EVAL),
        *"--eval-episodes 2 --seeds 1 --jobs 2 --hp net_arch=[16,16] --hp batch_size=32 --checkpoint-every 400 --results".split(),
        str(root),
        *"--study crash --progress quiet --no-estimate".split(),
        *extra,
    ]


def run_dir(root, arm):
    return root / "crash" / arm / "Pendulum-v1_0"


@pytest.mark.long
def test_sigkill_then_repeat(tmp_path):
    straight = subprocess.run(compare(tmp_path / "straight"), capture_output=True, text=True, timeout=600)
    assert straight.returncode == 0, straight.stderr

    killed = tmp_path / "killed"
    proc = subprocess.Popen(compare(killed), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ckpts = [list((run_dir(killed, arm) / "checkpoints").glob("step_*.pt")) for arm in ("td3", "sb3-td3")]
        if all(ckpts):
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    metas = {arm: json.loads((run_dir(killed, arm) / "meta.json").read_text()) for arm in ("td3", "sb3-td3")}
    assert all(m["status"] == "running" for m in metas.values()), "killed before the runs finished"

    again = subprocess.run(compare(killed), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "2 resumed from their last checkpoint" in again.stdout
    assert "resumed at step" in again.stdout

    schedule = list(range(0, STEPS + 1, EVAL))
    for arm in ("td3", "sb3-td3"):
        meta = json.loads((run_dir(killed, arm) / "meta.json").read_text())
        assert meta["status"] == "complete" and meta["result"]["env_steps"] == STEPS
        assert len(meta["resumes"]) == 1 and meta["resumes"][0]["from_step"] % 400 == 0
        evals = pd.read_csv(run_dir(killed, arm) / "evals.csv")
        assert evals["step"].tolist() == schedule  # neither duplicate nor missing rows
        npz = np.load(run_dir(killed, arm) / "evaluations.npz")
        assert npz["timesteps"].tolist() == schedule
        monitor = pd.read_csv(run_dir(killed, arm) / "0.monitor.csv", skiprows=1)
        assert monitor["l"].tolist() == [200] * (STEPS // 200)  # every training episode once
        assert not (run_dir(killed, arm) / "checkpoints").exists()  # pruned once complete

    # Our TD3: the resumed run is the uninterrupted run, bit for bit.
    mine = torch.load(run_dir(killed, "td3") / "model.pt", weights_only=False)["actor"]
    ref = torch.load(run_dir(tmp_path / "straight", "td3") / "model.pt", weights_only=False)["actor"]
    assert all(torch.equal(mine[k], ref[k]) for k in ref)
    cols = [f"return_{i}" for i in range(2)] + ["step", "updates"]
    pd.testing.assert_frame_equal(
        pd.read_csv(run_dir(killed, "td3") / "evals.csv")[cols],
        pd.read_csv(run_dir(tmp_path / "straight", "td3") / "evals.csv")[cols],
    )
