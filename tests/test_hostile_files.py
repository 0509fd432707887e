"""Files that are broken or hostile: a corrupted or malicious newest checkpoint (the run falls back to
the one before, and nothing is unpickled beyond tensors), a disk that fills while checkpointing, a
bad model.pt, an SB3 model.zip carrying code, and an unwritable --out."""

import base64
import json
import os
import pickle
import shutil
import subprocess
import zipfile

import pytest
import torch

from harness.agents import get_arm
from harness.run import checkpoint, runner
from harness.run.spec import Budget, RunSpec

TINY = "--hp learning_starts=100 --hp net_arch=[16,16] --hp batch_size=32 --hp buffer_size=5000"


class Payload:
    """Unpickling this runs code: it touches a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _spec(steps=1200, eval_freq=600) -> RunSpec:
    import dataclasses

    config = dataclasses.replace(
        get_arm("td3").config_cls(), learning_starts=100, batch_size=32, net_arch=(16, 16), buffer_size=5000
    )
    return RunSpec("h", "td3", "Pendulum-v1", 0, Budget("full", steps, steps, eval_freq, 1), config, ("t",), 100, "cpu")


class _Stop(KeyboardInterrupt):
    pass


def _interrupted_run(root, at_step):
    """A td3 run stopped (as by Ctrl-C) at the evaluation of ``at_step``, with checkpoints every 200 steps."""

    def stop(step, mean, updates):
        if step == at_step:
            raise _Stop

    with pytest.raises(_Stop):
        runner.execute(_spec(), root, policy=runner.CheckpointPolicy(steps=200), on_eval=stop)
    return _spec().run_dir(root)


@pytest.mark.parametrize("newest", ["garbage", "malicious"])
def test_a_corrupted_or_malicious_newest_checkpoint_falls_back_to_the_one_before(tmp_path, newest):
    run_dir = _interrupted_run(tmp_path, 600)
    (older, _), (_step, path) = checkpoint.checkpoints(run_dir)
    marker = tmp_path / "pwned"
    if newest == "garbage":
        path.write_bytes(b"\x00garbage" * 100)
    else:
        torch.save({"agent": Payload(marker)}, path)
    events = []
    summary = runner.execute(_spec(), tmp_path, report=events.append, policy=runner.CheckpointPolicy(steps=200))
    assert summary["status"] == "complete"
    assert not marker.exists()  # the payload never ran
    notes = [e["text"] for e in events if e["event"] == "note"]
    assert len(notes) == 1 and path.name in notes[0] and "weights_only" not in notes[0]
    if newest == "malicious":
        assert "unsupported GLOBAL posix.system" in notes[0]
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["resumes"][0]["from_step"] == older and path.name in meta["resumes"][0]["skipped"][0]


def test_a_checkpoint_refused_by_torch_never_suggests_weights_only_false(tmp_path):
    torch.save({"agent": Payload(tmp_path / "pwned")}, tmp_path / "bad.pt")
    with pytest.raises(checkpoint.CheckpointUnreadable) as err:
        checkpoint.load(tmp_path / "bad.pt")
    text = str(err.value)
    assert text.startswith(f"{tmp_path / 'bad.pt'}: UnpicklingError: Trying to load unsupported GLOBAL posix.system")
    assert "weights_only" not in text and "\n" not in text and not (tmp_path / "pwned").exists()


def _mount_tmpfs(folder, size):
    folder.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    return proc.returncode == 0


@pytest.mark.skipif(shutil.which("mount") is None, reason="no mount command")
def test_a_disk_that_fills_during_a_checkpoint_interrupts_the_run_cleanly(tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "8m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:

        def fill(run_dir, step):  # after the first checkpoint, leave too little room for the next
            if step == 200:
                with open(disk / "filler", "wb") as fh:
                    fh.write(b"\0" * (shutil.disk_usage(disk).free - 64 * 1024))

        events = []
        summary = runner.execute(
            _spec(), disk, report=events.append, policy=runner.CheckpointPolicy(steps=200), on_checkpoint=fill
        )
        run_dir = _spec().run_dir(disk)
        meta = json.loads((run_dir / "meta.json").read_text())
        assert summary["status"] == meta["status"] == "interrupted"
        assert "checkpoint of step 400 not written" in meta["error"] and "No space left on device" in meta["error"]
        assert "MiB free on the disk of" in meta["error"] and "repeat the command to resume" in meta["error"]
        leftovers = [p.name for p in run_dir.rglob(".*") if p.name != ".lock"]
        assert leftovers == []  # no temporary file left behind
        (disk / "filler").unlink()
        again = runner.execute(_spec(), disk, policy=runner.CheckpointPolicy(steps=200))
        assert (
            again["status"] == "complete"
            and json.loads((run_dir / "meta.json").read_text())["resumes"][0]["from_step"] == 200
        )
    finally:
        subprocess.run(["umount", str(disk)], check=False)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Complete td3 and sb3-td3 runs to watch."""
    from harness.cli import main

    root = tmp_path_factory.mktemp("watch")
    argv = f"compare --env Pendulum-v1 --algos td3,sb3-td3 --steps 400 --eval-freq 200 --eval-episodes 1 --seeds 1 {TINY} --progress quiet --no-estimate --no-report --study w --results {root}"
    assert main(argv.split()) == 0
    return root / "w"


@pytest.mark.parametrize("content", ["garbage", "malicious"])
def test_enjoy_with_a_bad_model_pt_names_the_file(run_cli, study, tmp_path, content):
    run_dir = tmp_path / "run"
    shutil.copytree(study / "td3" / "Pendulum-v1_0", run_dir)
    marker = tmp_path / "pwned"
    if content == "garbage":
        (run_dir / "model.pt").write_bytes(b"not a torch file")
    else:
        torch.save({"actor": Payload(marker)}, run_dir / "model.pt")
    code, _out, err = run_cli("enjoy", "--run", run_dir, "--episodes", "1")
    assert code == 2 and not marker.exists()
    line = err.strip()
    assert line.startswith(f"error: {run_dir / 'model.pt'}: cannot load this model (") and "\n" not in line
    assert "weights_only" not in line and "Traceback" not in err


def test_an_sb3_model_zip_carrying_code_is_never_unpickled(run_cli, study, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(study / "sb3-td3" / "Pendulum-v1_0", run_dir)
    marker = tmp_path / "pwned"
    zip_path = run_dir / "model.zip"
    with zipfile.ZipFile(zip_path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(files["data"])
    data["policy_class"][":serialized:"] = base64.b64encode(pickle.dumps(Payload(marker))).decode()
    files["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name, blob in files.items():
            archive.writestr(name, blob)

    code, _out, err = run_cli("enjoy", "--run", run_dir, "--episodes", "1")
    assert code == 0, err
    assert not marker.exists()  # acted from the weights alone
    from stable_baselines3 import TD3

    with pytest.raises(Exception):  # noqa: B017 - SB3's own loader unpickles the payload (then fails on it)
        TD3.load(zip_path)
    assert marker.exists()  # which is why the harness never calls it


def test_an_sb3_model_without_its_runs_config_is_refused(study, tmp_path):
    import gymnasium as gym

    shutil.copy(study / "sb3-td3" / "Pendulum-v1_0" / "model.zip", tmp_path / "model.zip")
    with pytest.raises(ValueError, match=r"no config\.yml beside model\.zip"):
        get_arm("sb3-td3").load(tmp_path / "model.zip", gym.make("Pendulum-v1"), "cpu")


def test_record_to_an_unwritable_place_names_it(run_cli, study, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, _, err = run_cli("record", "--run", study / "td3" / "Pendulum-v1_0", "--out", blocker / "videos")
    assert code == 2 and f"--out {blocker / 'videos'}: cannot write there" in err and "Traceback" not in err
