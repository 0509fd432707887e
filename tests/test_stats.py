"""The statistics against their definitions, on small arrays with exact answers."""

import numpy as np
import pytest

from harness.report import stats
from harness.study.calibrate import makespan


def test_point_estimates_exact():
    assert stats.iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert stats.iqm([np.array([10.0, 0.0]), np.array([1.0, 2.0])]) == pytest.approx(1.5)  # tasks pooled
    # Over tasks, mean and median are of the per-task means (1.5 and 6; and 1.5, 6, 10), as rliable's.
    assert stats.mean([np.array([1.0, 2.0]), np.array([6.0])]) == pytest.approx(3.75)
    assert stats.median([np.array([1.0, 2.0]), np.array([6.0]), np.array([10.0, 10.0, 10.0])]) == pytest.approx(6.0)
    assert stats.median(np.array([5.0, 1.0, 3.0, 100.0])) == pytest.approx(4.0)  # the runs of one task


def test_optimality_gap_counts_only_the_shortfall():
    assert stats.optimality_gap(np.array([250.0, 320.0, 300.0]), 300.0) == pytest.approx(50 / 3)
    assert stats.optimality_gap(np.array([1.2, 1.0]), 1.0) == 0.0


def test_probability_of_improvement_exact():
    # pairs (1,0) (1,3) (2,0) (2,3): X wins 2 of 4
    assert stats.probability_of_improvement([np.array([1.0, 2.0])], [np.array([0.0, 3.0])]) == pytest.approx(0.5)
    assert stats.probability_of_improvement([np.array([1.0])], [np.array([1.0])]) == 0.5  # a tie counts half
    assert stats.probability_of_improvement([np.array([3.0, 4.0])], [np.array([1.0, 2.0])]) == 1.0
    # averaged over tasks: 1.0 on the first, 0.0 on the second
    x = [np.array([5.0]), np.array([0.0])]
    y = [np.array([1.0]), np.array([9.0])]
    assert stats.probability_of_improvement(x, y) == pytest.approx(0.5)
    assert stats.probability_of_improvement(x, y) + stats.probability_of_improvement(y, x) == pytest.approx(1.0)


def test_performance_profile_fraction_above_each_threshold():
    profile = stats.performance_profile(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 2.0, 4.0]))
    assert profile.tolist() == [1.0, 0.5, 0.0]  # strictly above tau, as rliable


def test_normalize_and_steps_to_threshold():
    assert stats.normalize(np.array([-100.0, 100.0, 300.0]), -100.0, 300.0).tolist() == [0.0, 0.5, 1.0]
    steps, returns = np.array([0, 100, 200, 300]), np.array([-5.0, 1.0, 0.5, 3.0])
    assert stats.steps_to_threshold(steps, returns, 1.0) == 100
    assert stats.steps_to_threshold(steps, returns, 5.0) is None


def test_stratified_bootstrap_keeps_tasks_apart():
    # Each task has identical runs, so every resample is the original: the CI collapses exactly,
    # which would not hold if runs were pooled across tasks before resampling.
    scores = [np.array([1.0, 1.0, 1.0]), np.array([9.0, 9.0])]
    assert stats.stratified_bootstrap_ci([scores], stats.mean, reps=500) == (pytest.approx(5.0), pytest.approx(5.0))


def test_bootstrap_is_deterministic_and_brackets_the_estimate():
    x = np.array([-200.0, -150.0, -170.0, -400.0, -160.0])
    lo, hi = stats.bootstrap_ci(x, reps=5000, seed=3)
    assert (lo, hi) == stats.bootstrap_ci(x, reps=5000, seed=3)
    assert x.min() <= lo < x.mean() < hi <= x.max()
    assert stats.bootstrap_ci(np.array([5.0, 5.0, 5.0])) == (5.0, 5.0)
    assert stats.bootstrap_ci(np.array([7.0])) == (7.0, 7.0)


def test_bootstrap_two_values_exact_percentiles():
    # Resampled means of [0, 1] are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4.
    assert stats.bootstrap_ci(np.array([0.0, 1.0]), reps=20000) == (0.0, 1.0)


def test_probability_of_improvement_ci():
    x, y = [np.array([3.0, 4.0, 5.0])], [np.array([0.0, 1.0, 2.0])]
    assert stats.stratified_bootstrap_ci([x, y], stats.probability_of_improvement, reps=300) == (1.0, 1.0)


def test_makespan_longest_first():
    assert makespan([3, 3, 2, 2, 2], 2) == 7  # 3+2+2 | 3+2: greedy, not the optimum 6
    assert makespan([10, 1, 1], 2) == 10
    assert makespan([], 4) == 0


#: rliable 1.2.0 on the committed fixture study (tests/fixtures/study), normalized per env (BipedalWalker-v3:
#: random -100, threshold 300; Pendulum-v1: random -1200, threshold -150), as the report's aggregate does.
#: Obtained in a throwaway environment where rliable imports (pandas 2.3.3, arch 7.2.0, numpy 2.4.6):
#: scores (runs x tasks) per arm; rliable.library.get_interval_estimates(scores, lambda x: [aggregate_iqm,
#: aggregate_mean, aggregate_median, aggregate_optimality_gap](x), reps=50000) and, for the pair,
#: get_interval_estimates({"td3,sb3-td3": (td3, sb3_td3)}, probability_of_improvement, reps=50000).
RLIABLE = {
    "td3": {
        "IQM": (0.986607, 0.9327, 1.0077),
        "mean": (0.974405, 0.9343, 1.0062),
        "median": (0.974405, 0.9343, 1.0062),
        "optimality gap": (0.029762, 0.0048, 0.0657),
    },
    "sb3-td3": {
        "IQM": (0.758036, 0.7149, 0.8006),
        "mean": (0.755357, 0.7187, 0.7921),
        "median": (0.755357, 0.7187, 0.7921),
        "optimality gap": (0.244643, 0.2079, 0.2813),
    },
}
RLIABLE_POI = (0.861111, 0.5833, 1.0)  # P(td3 > sb3-td3)


def test_aggregates_and_intervals_match_rliable_on_the_fixture_study():
    from pathlib import Path

    from harness.report import load

    study = load.load_study(Path(__file__).parent / "fixtures" / "study")
    refs = {"BipedalWalker-v3": (-100.0, 300.0), "Pendulum-v1": (-1200.0, -150.0)}
    scores = {arm: [stats.normalize(study.finals(env)[arm], *refs[env]) for env in refs] for arm in RLIABLE}
    functions = {"IQM": stats.iqm, "mean": stats.mean, "median": stats.median, "optimality gap": stats.optimality_gap}
    for arm, expected in RLIABLE.items():
        for name, (point, low, high) in expected.items():
            fn = functions[name]
            assert fn(scores[arm]) == pytest.approx(point, abs=1e-6), (arm, name)
            ci = stats.stratified_bootstrap_ci([scores[arm]], fn, reps=5_000, seed=0)
            assert ci == pytest.approx((low, high), abs=0.015), (arm, name)  # the bootstrap noise of both
    poi = stats.probability_of_improvement(scores["td3"], scores["sb3-td3"])
    assert poi == pytest.approx(RLIABLE_POI[0], abs=1e-6)
    ci = stats.stratified_bootstrap_ci(
        [scores["td3"], scores["sb3-td3"]], stats.probability_of_improvement, 5_000, seed=0
    )
    assert ci == pytest.approx(RLIABLE_POI[1:], abs=0.03)


def test_seeds_needed_reproduces_the_standard_power_table():
    # Two-sided t-test, alpha 0.05, power 0.8, effect size d (difference / SD): 64, 17, 9, 6 runs per arm.
    for effect, runs in ((0.5, 64), (1.0, 17), (1.5, 9), (2.0, 6)):
        assert stats.seeds_needed(effect, 1.0, 1.0) == runs
    assert stats.seeds_needed(0.01, 1.0, 1.0, most=100) is None  # beyond what is worth running
    assert stats.seeds_needed(0.0, 1.0, 1.0) is None


def test_detectable_difference_by_hand():
    x, y = np.array([0.0, 1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 4.0, 5.0])  # SDs sqrt(2.5)
    # Welch df = 8; (t_.975,8 + t_.8,8) * sqrt(2.5/5 + 2.5/5) = (2.306004 + 0.888890) * 1
    assert stats.detectable_difference(x, y) == pytest.approx(2.306004 + 0.888890, abs=1e-5)
    assert np.isnan(stats.detectable_difference(x[:1], y))


def test_batched_bootstrap_statistics_equal_the_scalar_ones_per_repetition():
    """The bootstrap computes IQM, mean, median, optimality gap and P(X > Y) for all repetitions at
    once; each repetition's value must be the scalar function's on that resample."""
    rng = np.random.default_rng(1)
    x = [rng.normal(0, 1, 5), rng.normal(1, 2, 7)]
    y = [rng.normal(0.5, 1, 4), np.round(rng.normal(0, 1, 6))]
    reps = 64
    rx = [t[rng.integers(0, t.size, size=(reps, t.size))] for t in x]
    ry = [t[rng.integers(0, t.size, size=(reps, t.size))] for t in y]
    for f in (stats.iqm, stats.mean, stats.median, stats.optimality_gap):
        assert np.allclose(stats._BATCHED_TASKS[f](rx), [f([t[r] for t in rx]) for r in range(reps)]), f
    poi = [stats.probability_of_improvement([t[r] for t in rx], [t[r] for t in ry]) for r in range(reps)]
    assert np.allclose(stats._BATCHED_TASKS[stats.probability_of_improvement](rx, ry), poi)
    for f in (stats.iqm, stats.mean, stats.median):
        assert np.allclose(stats._BATCHED_RUNS[f](rx[1]), [f(r) for r in rx[1]]), f
