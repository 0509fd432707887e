"""evals.csv across a resume: a run begun before a column existed continues with every row whole."""

import numpy as np
import pandas as pd

from harness.run import rundir


def test_a_run_begun_without_value_columns_resumes_with_them(tmp_path):
    log = rundir.EvalLog(tmp_path, n_episodes=2)  # the format before value diagnostics existed
    log.append(0, 0, 1.0, 1.0, np.array([-10.0, -12.0]), np.array([200, 200]))
    log.append(100, 0, 2.0, 1.5, np.array([-9.0, -11.0]), np.array([200, 200]))
    resumed = rundir.EvalLog(tmp_path, n_episodes=2, keep_rows=2, values=True)
    resumed.append(200, 100, 3.0, 2.0, np.array([-5.0, -6.0]), np.array([200, 200]), values=[1.5, -2.0, 3.5, 10])
    table = pd.read_csv(tmp_path / "evals.csv")  # every row has every column
    assert list(table.columns) == resumed.header and len(table) == 3
    assert table["value_bias"].isna().tolist() == [True, True, False]
    assert table["return_mean"].tolist() == [-11.0, -10.0, -5.5]


def test_a_run_whose_columns_differ_otherwise_is_refused(tmp_path):
    log = rundir.EvalLog(tmp_path, n_episodes=3)
    log.append(0, 0, 1.0, 1.0, np.array([-10.0, -12.0, -1.0]), np.array([200, 200, 200]))
    try:
        rundir.EvalLog(tmp_path, n_episodes=2, keep_rows=1)
    except ValueError as err:
        assert "evals.csv has columns" in str(err)
    else:
        raise AssertionError("a different episode count must not be appended silently")


def test_the_report_reads_a_resumed_run_with_empty_value_cells(tmp_path):
    from harness.report.load import _short_row

    log = rundir.EvalLog(tmp_path, n_episodes=2)
    log.append(0, 0, 1.0, 1.0, np.array([-10.0, -12.0]), np.array([200, 200]))
    resumed = rundir.EvalLog(tmp_path, n_episodes=2, keep_rows=1, values=True)
    resumed.append(200, 100, 3.0, 2.0, np.array([-5.0, -6.0]), np.array([200, 200]), values=[1.5, -2.0, 3.5, 10])
    assert _short_row(tmp_path / "evals.csv", 2) is None
    text = (tmp_path / "evals.csv").read_text().replace("3.5,10", "3.5,")  # one value cell lost: corrupted
    (tmp_path / "evals.csv").write_text(text)
    assert _short_row(tmp_path / "evals.csv", 2) == 2
