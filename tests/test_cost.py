"""Cost a busy machine cannot fake: CPU time beside wall-clock, runs slowed by other work flagged,
"not recorded" for runs made before CPU time was."""

import numpy as np
import pandas as pd

from harness.report import cost


def _runs(cpu, wall, arm="a"):
    return pd.DataFrame(
        {
            "env": "E",
            "arm": arm,
            "seed": range(len(wall)),
            "status": "complete",
            "cpu_s": cpu,
            "wall_s": wall,
            "total_steps": 20_000,
            "steps_per_s": 100.0,
            "updates": 10_000,
        }
    )


def test_cpu_time_and_steps_per_cpu_second_are_medians_over_runs():
    runs = _runs([100.0, 200.0, 400.0], [110.0, 210.0, 2000.0])
    assert cost.cpu_text(runs) == "3m20s" and cost.steps_per_cpu_s(runs) == "100.0"
    assert cost.inflated(runs).tolist() == [False, False, True]  # 400 s of CPU in 2,000 s of wall-clock
    assert cost.wall_text(runs) == "3m30s (1 of 3 slowed by other work)"


def test_runs_without_cpu_time_say_not_recorded():
    old = _runs([np.nan, np.nan], [1700.0, 1703.0])
    assert cost.cpu_text(old) == "not recorded" and cost.steps_per_cpu_s(old) == "not recorded"
    assert not cost.inflated(old).any()  # nothing guessed
    mixed = _runs([100.0, np.nan], [100.0, 100.0])
    assert cost.cpu_text(mixed) == "1m40s (1 of 2 recorded)"
    assert "1 of 2 runs were recorded before CPU time was" in cost.caveat(mixed)


def test_the_summary_and_the_appendix_show_cpu_time_and_flag_slowed_runs():
    runs = pd.concat([_runs([100.0, 120.0], [105.0, 125.0], "a"), _runs([50.0, 60.0], [500.0, 61.0], "b")])
    summary = cost.cost_summary(runs).set_index("arm")
    assert summary.loc["a", "CPU time per run (median)"] == "1m50s"
    assert summary.loc["b", "env steps per CPU-second"] == "366.7"  # the median of 20,000 / 50 s and 20,000 / 60 s
    assert summary.loc["b", "wall-clock per run (median)"].endswith("(1 of 2 slowed by other work)")
    table = cost.cost_table(runs)
    assert table["wall-clock"].tolist()[2] == "8m20s (slowed by other work)"
    assert "1 runs used under 50% of their wall-clock in CPU time" in cost.caveat(runs)
