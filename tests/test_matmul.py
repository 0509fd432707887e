"""The matmul backend: the probe's choice, its accuracy check and fallback, the override, one backend per study."""

import json

import pytest
import torch

from harness.errors import UsageError
from harness.run import matmul

SHAPES = matmul.layer_shapes(64, 8, 2, (32, 24), (32, 24))


def test_layer_shapes_are_the_actor_and_critic_layers():
    assert matmul.layer_shapes(256, 24, 4, (400, 300), (400, 300)) == [
        (256, 24, 400),
        (256, 28, 400),
        (256, 300, 1),
        (256, 300, 4),
        (256, 400, 300),
    ]


def test_decide_takes_the_faster_accurate_backend():
    fast = matmul.decide({"default": 90.0, "onednn": 190.0}, {"default": 4e-7, "onednn": 6e-7})
    assert fast.backend == "onednn" and "2.11x" in fast.reason
    slow = matmul.decide({"default": 90.0, "onednn": 92.0}, {"default": 4e-7, "onednn": 6e-7})
    assert slow.backend == "default" and "not 1.05x faster" in slow.reason
    bf16 = matmul.decide({"default": 90.0, "onednn": 400.0}, {"default": 4e-7, "onednn": 2e-3})
    assert bf16.backend == "default" and "2.0e-03 exceeds" in bf16.reason
    alone = matmul.decide({"default": 90.0}, {"default": 4e-7})
    assert alone.backend == "default" and "not available" in alone.reason


def test_probe_measures_both_backends_accurately_and_leaves_the_default_on():
    choice = matmul.probe(SHAPES, threads=1, seconds=0.05, fresh=True)
    assert set(choice.rates) == set(matmul.available())
    assert all(rate > 0 for rate in choice.rates.values())
    assert all(error < matmul.TOLERANCE for error in choice.errors.values())  # fp32 on this machine
    assert choice.backend in matmul.available()
    assert matmul.current() == "default"
    assert choice.backend in choice.describe() and "GFLOP/s" in choice.describe()


@pytest.fixture
def bf16_onednn(monkeypatch):
    """oneDNN as it behaves where the flag lets it compute in bf16: inputs rounded to bf16."""
    if "onednn" not in matmul.available():
        pytest.skip("oneDNN is not in this torch build")
    linear = torch.nn.functional.linear

    def rounded(x, w, b=None):
        if matmul.current() == "onednn":
            return linear(x.bfloat16().float(), w.bfloat16().float(), b)
        return linear(x, w, b)

    monkeypatch.setattr(torch.nn.functional, "linear", rounded)


def test_an_inaccurate_onednn_is_caught_and_the_default_kept(bf16_onednn):
    choice = matmul.probe(SHAPES, threads=1, seconds=0.05, fresh=True)
    assert choice.errors["onednn"] > 1e-4 > matmul.TOLERANCE > choice.errors["default"]
    assert choice.backend == "default" and "exceeds" in choice.reason
    with pytest.raises(FloatingPointError, match="computes with relative error"):
        matmul.check_accuracy("onednn")  # what a run does before training on a machine it was not probed on
    matmul.apply("default")


def test_choose_keeps_the_studys_backend_and_honours_an_override():
    assert matmul.choose("auto", ["onednn", "onednn"], SHAPES, 1, "cpu").backend == "onednn"
    assert matmul.choose("default", [], SHAPES, 1, "cpu").reason == "requested (--matmul-backend)"
    assert matmul.choose("auto", [], SHAPES, 1, "cuda").backend == "default"
    assert matmul.choose("auto", [], [], 1, "cpu").reason == "no torch arm in the study"
    with pytest.raises(UsageError, match="existing runs used default"):
        matmul.choose("onednn", ["default"], SHAPES, 1, "cpu")
    with pytest.raises(UsageError, match="different matmul backends"):
        matmul.choose("auto", ["default", "onednn"], SHAPES, 1, "cpu")


def test_the_plan_states_the_backend_and_a_contradicting_override_is_refused(run_cli, tmp_path, tiny_hp_file):
    study = [
        *"compare --env Pendulum-v1 --algos td3 --seeds 1 --steps 300 --eval-freq 150 --eval-episodes 1".split(),
        "--hp-file",
        tiny_hp_file,
        "--results",
        tmp_path,
        *"--study s --no-estimate --jobs 1".split(),
    ]
    code, out, err = run_cli(*study, "--matmul-backend", "default")
    assert code == 0, err
    assert "matmul backend default: requested (--matmul-backend)" in out
    meta = json.loads((tmp_path / "s" / "td3" / "Pendulum-v1_0" / "meta.json").read_text())
    assert meta["matmul_backend"] == "default"
    code, out, err = run_cli(*study, "--seeds", "2", "--dry-run")  # auto keeps the study's backend
    assert code == 0 and "matmul backend default: the backend of the study's existing runs" in out
    if "onednn" in matmul.available():
        code, out, err = run_cli(*study, "--seeds", "2", "--matmul-backend", "onednn")
        assert code == 2 and "existing runs used default" in err and "Study" not in out
    report = (tmp_path / "s" / "report.md").read_text()
    assert "fp32 matmul backend: default (1 runs)" in report


def test_a_run_is_not_resumed_on_another_backend(tmp_path, tiny_hp_file):
    import dataclasses

    from harness.run import rundir
    from harness.run.runner import execute
    from harness.study.spec import StudySpec

    spec = StudySpec(
        "r", ("Pendulum-v1",), ("td3",), (0,), steps=300, eval_freq=150, eval_episodes=1, hp_files=(tiny_hp_file,)
    ).expand()[0]
    run_dir = spec.run_dir(tmp_path)
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "step_000000000100.pt").write_bytes(b"")
    rundir.write_json(
        run_dir / "meta.json",
        {"spec": {}, "spec_hash": spec.spec_hash(), "status": "interrupted", "matmul_backend": "default"},
    )
    summary = execute(dataclasses.replace(spec, matmul_backend="onednn"), tmp_path)
    assert summary["status"] == "failed" and "a run keeps one backend" in summary["error"]


def test_the_machines_first_choice_is_kept_whatever_a_later_probe_would_say(monkeypatch, tmp_path):
    monkeypatch.setenv("TD3_HARNESS_CACHE", str(tmp_path))
    if "onednn" not in matmul.available():
        pytest.skip("oneDNN is not in this torch build")
    answers = iter([(50.0, 100.0), (50.0, 51.0)])  # a loaded probe, then a quiet one: they would disagree

    def noisy(shapes, threads):
        default, onednn = next(answers)
        return matmul.decide({"default": default, "onednn": onednn}, {"default": 1e-7, "onednn": 1e-7})

    monkeypatch.setattr(matmul, "probe", noisy)
    first = matmul.choose("auto", [], SHAPES, 1, "cpu")
    second = matmul.choose("auto", [], SHAPES, 1, "cpu")
    assert first.backend == second.backend == "onednn"
    assert second.reason.startswith("kept from this machine's probe of ") and "2.00x" in second.reason
    assert json.loads((tmp_path / "machine.json").read_text())  # where it is kept
    monkeypatch.setenv("TD3_HARNESS_CACHE", str(tmp_path / "elsewhere"))  # another machine probes again
    assert matmul.choose("auto", [], SHAPES, 1, "cpu").backend == "default"


def test_a_gain_must_hold_in_every_round_of_the_probe(monkeypatch):
    if "onednn" not in matmul.available():
        pytest.skip("oneDNN is not in this torch build")
    rounds = iter([100.0, 150.0, 100.0, 101.0])  # default, onednn; default, onednn: 1.5x once, 1.01x then
    monkeypatch.setattr(matmul, "_measure", lambda backend, shapes, seconds, seed: (next(rounds), 1e-7))
    choice = matmul.probe(SHAPES, threads=1, seconds=0.01, fresh=True)
    assert choice.backend == "default" and "not 1.05x faster" in choice.reason
