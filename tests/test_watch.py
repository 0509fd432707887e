"""enjoy and record: any arm's saved model acts again, and replays its own final evaluation."""

import subprocess
import sys

import pandas as pd
import pytest

from harness import watch

ARMS = ("td3", "sb3-td3", "random")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("watch")
    hp = root / "hp.yml"
    hp.write_text("td3:\n  all: {net_arch: [16, 16]}\nsb3-td3:\n  all: {net_arch: [16, 16]}\n")
    proc = subprocess.run([sys.executable, "-m", "harness", "compare", "--env", "Pendulum-v1", "--algos", ",".join(ARMS),
                           "--steps", "600", "--eval-freq", "300", "--eval-episodes", "2", "--seeds", "1",
                           "--hp-file", str(hp), "--results", str(root), "--study", "w", "--progress", "quiet",
                           "--no-estimate", "--no-report"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return root / "w"


@pytest.mark.parametrize("arm", ARMS)
def test_enjoy_replays_the_final_evaluation(study, arm):
    run = study / arm / "Pendulum-v1_0"
    returns = watch.enjoy(run, episodes=2)
    last = pd.read_csv(run / "evals.csv").iloc[-1]
    if arm == "random":  # random actions: a fresh draw, only the scale is comparable
        assert returns.shape == (2,) and (returns < 0).all()
    else:  # same saved policy, same evaluation episode seeds: the same returns
        assert returns.tolist() == pytest.approx([last["return_0"], last["return_1"]], rel=1e-5)


def test_record_writes_mp4_and_gif(study, tmp_path):
    run = study / "td3" / "Pendulum-v1_0"
    mp4, gif, first = watch.record(run, tmp_path / "videos")
    assert mp4.suffix == ".mp4" and mp4.stat().st_size > 10_000
    assert gif.read_bytes()[:4] == b"GIF8" and gif.stat().st_size > 10_000
    assert first == pytest.approx(pd.read_csv(run / "evals.csv").iloc[-1]["return_0"], rel=1e-5)


def test_enjoy_bad_run_directory(run_cli, tmp_path):
    code, _, err = run_cli("enjoy", "--run", tmp_path / "nope")
    assert code == 2 and "no readable meta.json" in err
