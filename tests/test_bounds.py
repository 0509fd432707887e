"""Bounds on calls into an agent: a slow agent that keeps making progress is left alone; one that stalls,
or ignores its callback's stop, is stopped with what it did."""

import time

import pytest

from harness.run.bounds import TimeLimitExceeded, stall_limit, time_limit


def test_a_slow_agent_that_keeps_ticking_outlasts_the_stall_limit():
    start = time.monotonic()
    with stall_limit(0.5, lambda: "slow") as progress:
        while time.monotonic() - start < 1.5:  # three times the limit, ticking every 0.1 s
            time.sleep(0.1)
            progress.tick()


def test_an_agent_that_stops_ticking_is_stopped():
    expected = r"hung at step 3 \(stopped after 0.3 s without progress\)"
    with pytest.raises(TimeLimitExceeded, match=expected), stall_limit(0.3, lambda: "hung at step 3") as progress:
        progress.tick()
        time.sleep(5)


def test_an_agent_that_goes_on_after_its_callback_said_stop_is_stopped_though_it_ticks():
    expected = r"after its callback returned False"
    with pytest.raises(TimeLimitExceeded, match=expected), stall_limit(0.3, lambda: "ignores stop") as progress:
        progress.stopping()
        for _ in range(50):
            time.sleep(0.05)
            progress.tick()


def test_an_enclosing_time_limit_still_holds_after_a_stall_limit():
    with pytest.raises(TimeLimitExceeded, match="outer"), time_limit(0.6, lambda: "outer"):
        with stall_limit(10, lambda: "inner") as progress:
            progress.tick()
            time.sleep(0.2)
        time.sleep(5)
