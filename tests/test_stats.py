"""The statistics against their definitions, on small arrays with exact answers."""

import numpy as np
import pytest

from harness.report import stats
from harness.study.calibrate import makespan


def test_point_estimates_exact():
    assert stats.iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert stats.iqm([np.array([10.0, 0.0]), np.array([1.0, 2.0])]) == pytest.approx(1.5)  # tasks pooled
    assert stats.mean([np.array([1.0, 2.0]), np.array([6.0])]) == pytest.approx(3.0)
    assert stats.median(np.array([5.0, 1.0, 3.0, 100.0])) == pytest.approx(4.0)


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
    assert stats.stratified_bootstrap_ci([scores], stats.mean, reps=500) == (pytest.approx(4.2), pytest.approx(4.2))


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
