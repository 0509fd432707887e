"""Checkpoint writes, locks, divergence, concurrency, and bad inputs that must not cost work."""

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from harness.run import checkpoint
from harness.run.locks import Locked, RunLock, held_elsewhere


def test_checkpoints_are_pruned_to_the_newest(tmp_path):
    for step in (100, 200, 300):
        checkpoint.save(tmp_path, step, {"step": step})
    assert [s for s, _ in checkpoint.checkpoints(tmp_path)] == [200, 300]
    assert checkpoint.load(checkpoint.latest(tmp_path)[1]) == {"step": 300}


def test_full_disk_during_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    checkpoint.save(tmp_path, 100, {"weights": torch.arange(4)})

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(checkpoint.CheckpointError) as err:
        checkpoint.save(tmp_path, 200, {"weights": torch.arange(8)})
    monkeypatch.undo()
    assert "checkpoint of step 200 not written" in str(err.value)
    assert "No space left on device" in str(err.value) and "the checkpoint of step 100 is intact" in str(err.value)
    assert [s for s, _ in checkpoint.checkpoints(tmp_path)] == [100]
    assert torch.equal(checkpoint.load(checkpoint.latest(tmp_path)[1])["weights"], torch.arange(4))
    assert not list((tmp_path / checkpoint.DIRNAME).glob(".*tmp"))  # no half-written file left


def test_lock_excludes_a_second_holder_and_is_released(tmp_path):
    with RunLock(tmp_path), pytest.raises(Locked, match=f"pid {os.getpid()}"), RunLock(tmp_path):
        pass
    with RunLock(tmp_path) as again:
        assert again.previous is None  # released cleanly, nothing taken over


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from harness.run.locks import RunLock\n"
                f"lock = RunLock({str(tmp_path)!r}).__enter__(); print('held', flush=True); time.sleep(60)"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    assert held_elsewhere(tmp_path)
    with pytest.raises(Locked):
        RunLock(tmp_path).__enter__()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert not held_elsewhere(tmp_path)
    with RunLock(tmp_path) as lock:
        assert lock.previous["pid"] == holder.pid  # the dead owner is detected


def test_divergence_stops_that_run_and_the_others_go_on(run_cli, tmp_path):
    code, out, _err = run_cli(
        *"compare --env Pendulum-v1,tiny_envs:HugePoint-v0 --algos td3 --steps 800 --eval-freq 100 --eval-episodes 1 --seeds 1 --hp learning_starts=100 --hp net_arch=[16,16] --hp batch_size=32 --results".split(),
        tmp_path,
        *"--study nan --progress quiet --no-estimate".split(),
    )
    assert code == 1
    bad = json.loads((tmp_path / "nan" / "td3" / "HugePoint-v0_0" / "meta.json").read_text())
    good = json.loads((tmp_path / "nan" / "td3" / "Pendulum-v1_0" / "meta.json").read_text())
    assert good["status"] == "complete"
    assert bad["status"] == "diverged"
    assert 100 < bad["divergence"]["step"] <= 800 and "critic loss is inf" in bad["divergence"]["cause"]
    assert "td3/HugePoint-v0_0 (diverged)" in out
    report = (tmp_path / "nan" / "report.md").read_text()
    assert "td3/HugePoint-v0_0: diverged at step" in report
    # A diverged run is a result: repeating the command leaves it alone.
    code, out, _ = run_cli(
        *"compare --env Pendulum-v1,tiny_envs:HugePoint-v0 --algos td3 --steps 800 --eval-freq 100 --eval-episodes 1 --seeds 1 --hp learning_starts=100 --hp net_arch=[16,16] --hp batch_size=32 --results".split(),
        tmp_path,
        *"--study nan --progress quiet --no-estimate --dry-run".split(),
    )
    assert "0 to run, 2 already complete (skipped)" in out


@pytest.mark.long
def test_two_processes_on_one_study_never_run_a_run_twice(tmp_path):
    args = [
        sys.executable,
        *"-m harness compare --env Pendulum-v1 --algos td3,sb3-td3 --steps 1500 --eval-freq 500 --eval-episodes 1 --seeds 2 --jobs 1 --hp net_arch=[16,16] --hp batch_size=32 --results".split(),
        str(tmp_path),
        *"--study two --progress quiet --no-estimate --no-report".split(),
    ]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    second = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out1, err1 = first.communicate(timeout=600)
    out2, err2 = second.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    started = [line.split()[2] for line in (out1 + out2).splitlines() if " start  " in line]
    assert sorted(started) == sorted(set(started)) and len(started) == 4  # each run started exactly once
    for meta in tmp_path.glob("two/*/*/meta.json"):
        data = json.loads(meta.read_text())
        assert data["status"] == "complete" and "resumes" not in data


def test_budget_below_learning_starts_is_warned(run_cli, tmp_path):
    code, out, _ = run_cli(
        *"compare --env Pendulum-v1 --algos sb3-td3 --steps 500 --hp learning_starts=20000 --results".split(),
        tmp_path,
        "--dry-run",
        "--no-estimate",
    )
    assert code == 0
    assert (
        "warning: sb3-td3 on Pendulum-v1: learning_starts (1,000) is not below the budget (500 steps)" not in out
    )  # scaled: 20,000 x 500/20,000 = 500
    assert "learning_starts (500) is not below the budget (500 steps): it will act randomly and never learn" in out


def test_unwritable_results_directory(run_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code, _, err = run_cli(*"compare --env Pendulum-v1 --results".split(), blocker / "results", "--no-estimate")
    assert code == 2 and "is not writable" in err and "--results" in err


def test_report_names_and_skips_corrupted_run_files(run_cli, tmp_path):
    code, _, err = run_cli(
        *"compare --env Pendulum-v1 --algos sb3-ddpg --steps 400 --eval-freq 200 --eval-episodes 2 --seeds 3 --hp net_arch=[16,16] --results".split(),
        tmp_path,
        *"--study bad --progress quiet --no-estimate".split(),
    )
    assert code == 0, err
    runs = tmp_path / "bad" / "sb3-ddpg"
    meta = runs / "Pendulum-v1_0" / "meta.json"
    meta.write_text(meta.read_text()[:40])  # cut mid-file, as a crash during a copy would
    evals = runs / "Pendulum-v1_1" / "evals.csv"
    evals.write_text(evals.read_text()[:-12])  # last row cut short
    code, _out, _ = run_cli(*"report --study bad --results".split(), tmp_path)
    assert code == 0
    report = (tmp_path / "bad" / "report.md").read_text()
    assert "## Problems reading results" in report
    assert "sb3-ddpg/Pendulum-v1_0: meta.json unreadable or incomplete; run skipped" in report
    assert "sb3-ddpg/Pendulum-v1_1: evals.csv is truncated or corrupted (row 3 incomplete); run skipped" in report
    final = report.split("### Final performance")[1].split("###")[0]
    assert re.search(r"\| sb3-ddpg \| +1 \|", final)  # only the intact run is summarized


def test_a_new_option_keeps_recorded_runs_valid(tmp_path):
    """A run recorded before a hyperparameter existed ran with its default: it is still the same run."""
    from harness.config.schema import as_plain
    from harness.run.record import RunRecord, Status
    from harness.study.spec import StudySpec

    spec = StudySpec("s", ("Pendulum-v1",), ("td3",), (0,), steps=1000).expand()[0]
    meta = RunRecord(spec={**spec.identity(), "study": "s"}, spec_hash="0" * 16, status=Status.COMPLETE)
    assert spec.matches(meta)  # the hash of an older field set differs; the contents agree
    older = dict(meta.spec["hyperparameters"])
    del older["noisy_nets"], older["episode_length_schedule"]  # recorded before these options existed
    meta.spec["hyperparameters"] = older
    assert spec.matches(meta)
    meta.spec["hyperparameters"] = {**older, "gamma": 0.5}  # a real difference still supersedes
    assert not spec.matches(meta)
    changed = {**as_plain(spec.config), "noisy_nets": True, "noise_type": None}
    meta.spec["hyperparameters"] = changed  # a recorded non-default value is not a default
    assert not spec.matches(meta)
    assert not spec.matches(None) and not spec.matches(RunRecord(spec={}, spec_hash="x", status=Status.COMPLETE))
