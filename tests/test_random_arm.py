"""The uniform-random arm: same protocol, the learning arms' budget, reproducible, never learns."""

import dataclasses

import pandas as pd

from harness.run.runner import execute
from harness.study.spec import StudySpec


def test_random_takes_the_budget_of_the_learning_arms():
    runs = StudySpec("s", ("Pendulum-v1",), ("sb3-td3", "random"), (0,), budget="full").expand()
    assert {r.arm: r.budget.total_steps for r in runs} == {"sb3-td3": 20_000, "random": 20_000}
    alone = StudySpec("s", ("Pendulum-v1",), ("random",), (0,), budget="smoke").expand()[0]
    assert alone.budget.full_steps == 1_000_000  # hyperparams/random.yml, used only when it runs alone
    assert "hyperparams/random.yml [defaults]" in alone.hp_sources


def test_random_runs_the_evaluation_protocol_reproducibly(tmp_path):
    spec = StudySpec("r", ("Pendulum-v1",), ("random",), (3,), steps=600, eval_freq=200, eval_episodes=2).expand()[0]
    a = execute(spec, tmp_path / "a")
    b = execute(spec, tmp_path / "b")
    assert a["status"] == b["status"] == "complete" and a["updates"] == 0
    ea = pd.read_csv(tmp_path / "a" / "r" / "random" / "Pendulum-v1_3" / "evals.csv")
    eb = pd.read_csv(tmp_path / "b" / "r" / "random" / "Pendulum-v1_3" / "evals.csv")
    assert ea["step"].tolist() == [0, 200, 400, 600]
    pd.testing.assert_frame_equal(
        ea.drop(columns=["wall_s", "eval_s", "cpu_s"]), eb.drop(columns=["wall_s", "eval_s", "cpu_s"])
    )
    # A fixed random policy (each observation's action drawn from its seed and the observation): the
    # same evaluation episodes get the same returns at every evaluation; another seed acts otherwise.
    assert ea["return_mean"].nunique() == 1
    other = execute(dataclasses.replace(spec, seed=4), tmp_path / "c")
    assert other["final_return_mean"] != a["final_return_mean"]
    monitor = pd.read_csv(tmp_path / "a" / "r" / "random" / "Pendulum-v1_3" / "0.monitor.csv", skiprows=1)
    assert monitor["l"].tolist() == [200, 200, 200]
