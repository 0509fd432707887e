"""What a study costs, said before it starts and while it runs: STEPS=N takes the evaluation schedule
of the budget it reaches, the estimate counts every evaluation as a run makes it (the value
measure's longer episodes included), and the ETA counts the evaluations still to come."""

import dataclasses

import pytest

from harness.execution.progress import _eta
from harness.run import runner
from harness.run.spec import Budget
from harness.run.values import horizon_extension
from harness.study import calibrate
from harness.study.budget import make_budget, preset_for
from harness.study.spec import StudySpec


@pytest.mark.parametrize(
    "steps, full, preset, evaluations, episodes",
    [
        (2_000, 20_000, "quick", 10, 5),  # 10% of the full budget: quick's 10 evaluations of 5 episodes
        (300_000, 1_000_000, "quick", 10, 5),
        (100, 20_000, "smoke", 5, 3),  # below smoke's 1%: still smoke's schedule
        (1_000, 20_000, "smoke", 5, 3),
        (20_000, 20_000, "full", 20, 10),
        (40_000, 20_000, "full", 20, 10),
    ],
)
def test_steps_take_the_evaluation_schedule_of_the_budget_they_reach(steps, full, preset, evaluations, episodes):
    assert preset_for(steps, full) == preset
    budget = make_budget(None, full, steps)
    assert (budget.preset, budget.total_steps, budget.eval_episodes) == (preset, steps, episodes)
    assert budget.eval_freq == steps // evaluations


def test_a_named_budget_with_steps_keeps_its_own_schedule():
    budget = make_budget("full", 1_000_000, 300_000)
    assert (budget.preset, budget.eval_freq, budget.eval_episodes) == ("full", 15_000, 10)


def test_the_plan_says_which_schedule_steps_took(run_cli, tmp_path):
    code, out, err = run_cli(
        *"compare --env Pendulum-v1 --algos td3 --steps 2000 --dry-run --no-estimate --results".split(), tmp_path
    )
    assert code == 0, err
    assert (
        "budget 'quick', 2,000 env steps per run (STEPS: 10% of the full 20,000; evaluated as budget 'quick' is" in out
    )
    assert "evaluation every 200 steps, 5 episodes" in out
    code, out, err = run_cli(
        *"compare --env Pendulum-v1 --algos td3 --steps 2000 --budget full --dry-run --no-estimate --results".split(),
        tmp_path,
    )
    assert "budget 'full', 2,000 env steps per run (STEPS: 10% of the full 20,000)" in out
    assert "evaluation every 100 steps, 10 episodes" in out


@pytest.mark.parametrize("arm, critic", [("td3", True), ("random", False)])
def test_calibration_counts_evaluation_as_a_run_makes_it(arm, critic):
    spec = StudySpec("c", ("Pendulum-v1",), (arm,), (0,), "smoke", steps=400).expand()[0]
    spec = dataclasses.replace(spec, config=dataclasses.replace(spec.config, **({"net_arch": (16,)} if critic else {})))
    rates = calibrate.measure(spec, threads=1, seconds=0.2)
    gamma = getattr(spec.config, "gamma", None)
    assert rates.episode_steps == 200 + (horizon_extension(gamma) if critic else 0)
    b = spec.budget
    evaluations = len(b.eval_steps()) * b.eval_episodes * rates.episode_steps / rates.predict
    assert calibrate.run_seconds(spec, rates) >= evaluations  # the estimate holds every evaluation


def test_the_eta_counts_the_evaluations_still_to_come():
    clock = runner._Clock(0.0, 10.0, 0, None)  # two evaluations so far took 10 s
    budget = Budget("full", 1_000, 1_000, 100, 1)  # evaluations at 0, 100, ..., 1000
    assert clock.eta(200, 100.0, budget, 2) == pytest.approx(800 / 100 + 8 * 5.0)
    assert clock.eta(200, None, budget, 2) is None
    assert _eta({"eta_s": 48.0, "steps_per_s": 100.0, "steps": 200, "total": 1_000}) == 48.0
    assert _eta({"steps_per_s": 100.0, "steps": 200, "total": 1_000}) == 8.0
