"""enjoy and record: any arm's saved model acts again, and replays its own final evaluation."""

import subprocess
import sys

import pandas as pd
import pytest

from harness.run import watch

ARMS = ("td3", "sb3-td3", "random")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("watch")
    hp = root / "hp.yml"
    hp.write_text("td3:\n  all: {net_arch: [16, 16]}\nsb3-td3:\n  all: {net_arch: [16, 16]}\n")
    proc = subprocess.run(
        [
            sys.executable,
            *"-m harness compare --env Pendulum-v1 --algos".split(),
            ",".join(ARMS),
            *"--steps 600 --eval-freq 300 --eval-episodes 2 --seeds 1 --hp-file".split(),
            str(hp),
            "--results",
            str(root),
            *"--study w --progress quiet --no-estimate --no-report".split(),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
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


def test_a_run_without_a_final_model_acts_with_its_newest_checkpoint(tmp_path, capsys):
    from harness.run import checkpoint
    from harness.run.runner import CheckpointPolicy, execute
    from harness.study.spec import StudySpec

    class Stop(Exception):
        pass

    def stop_at_400(step: int, value: float, updates: int) -> None:
        if step >= 400:
            raise Stop

    spec = StudySpec(
        "c",
        ("Pendulum-v1",),
        ("td3",),
        (0,),
        steps=1000,
        eval_freq=200,
        eval_episodes=2,
        hp_overrides={"net_arch": [16, 16]},
    ).expand()[0]
    with pytest.raises(Stop):  # as a run still training, or interrupted, looks: checkpoints, no final model
        execute(spec, tmp_path, policy=CheckpointPolicy(steps=200), on_eval=stop_at_400, passthrough=(Stop,))
    run = spec.run_dir(tmp_path)
    step, _ = checkpoint.latest(run)
    returns = watch.enjoy(run, episodes=2, say=print)
    assert f"acting: checkpoint at step {step:,}" in capsys.readouterr().out
    row = pd.read_csv(run / "evals.csv").set_index("step").loc[step]  # that policy's own evaluation
    assert returns.tolist() == pytest.approx([row["return_0"], row["return_1"]], rel=1e-5)
    for path in run.glob("checkpoints/*.pt"):
        path.unlink()
    with pytest.raises(Exception, match="no saved model and no checkpoint"):
        watch.enjoy(run)
