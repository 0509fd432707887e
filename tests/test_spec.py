import dataclasses

import pytest

from harness.study.budget import MIN_STEPS, make_budget
from harness.study.spec import StudySpec


def test_budget_presets_are_fractions_of_the_full_budget():
    assert make_budget("full", 1_000_000).total_steps == 1_000_000
    assert make_budget("quick", 1_000_000).total_steps == 100_000
    assert make_budget("smoke", 1_000_000).total_steps == 10_000
    assert make_budget("smoke", 20_000).total_steps == MIN_STEPS  # 1% would be 200: floored
    assert make_budget("smoke", 20_000, steps=123).total_steps == 123


def test_evaluation_schedule():
    b = make_budget("quick", 20_000)
    assert (b.total_steps, b.eval_freq, b.eval_episodes) == (2000, 200, 5)
    assert b.eval_steps() == list(range(0, 2001, 200))
    assert make_budget("smoke", 20_000, steps=500, eval_freq=200).eval_steps() == [0, 200, 400, 500]


def test_every_arm_on_an_env_gets_the_same_budget_and_scaled_learning_starts():
    runs = StudySpec("s", ("Pendulum-v1", "BipedalWalker-v3"), ("sb3-td3", "sb3-ddpg"), (0, 1), budget="quick").expand()
    assert len(runs) == 8
    by_env = {}
    for r in runs:
        by_env.setdefault(r.env_id, set()).add(r.budget)
    assert {e: len(b) for e, b in by_env.items()} == {"Pendulum-v1": 1, "BipedalWalker-v3": 1}
    pend = next(r for r in runs if r.env_id == "Pendulum-v1")
    assert pend.budget.learning_starts_scale == pytest.approx(0.1)
    assert pend.learning_starts_configured == 10_000 and pend.config.learning_starts == 1000
    walker = next(r for r in runs if r.env_id == "BipedalWalker-v3")
    assert walker.budget.total_steps == 100_000 and walker.config.learning_starts == 1000


def test_spec_hash_tracks_what_determines_results():
    run = StudySpec("s", ("Pendulum-v1",), ("sb3-td3",), (0,), budget="smoke").expand()[0]
    assert run.spec_hash() == dataclasses.replace(run, study="other").spec_hash()
    assert run.spec_hash() != dataclasses.replace(run, seed=1).spec_hash()
    assert run.spec_hash() != dataclasses.replace(run, config=dataclasses.replace(run.config, tau=0.01)).spec_hash()
    assert run.key == "sb3-td3/Pendulum-v1_0"
