"""A crash can cut evals.csv or 0.monitor.csv mid-line; resuming repairs both to what the checkpoint
saw, at whatever byte the cut fell, so no row is lost, duplicated or glued onto another."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from harness.agents import get_arm
from harness.run import checkpoint, rundir, runner
from harness.run.spec import Budget, RunSpec


def _rows(n: int) -> list[tuple[int, np.ndarray]]:
    return [(100 * i, np.array([-10.0 - i, -20.5 + 0.25 * i])) for i in range(n)]


def _log_with(folder, rows) -> rundir.EvalLog:
    log = rundir.EvalLog(folder, n_episodes=2)
    for step, returns in rows:
        log.append(step, step // 2, 1.0 + step, 0.5, returns, np.array([200, 200]))
    return log


def test_evals_csv_cut_at_every_byte_is_repaired_from_the_checkpoints_copy(tmp_path):
    rows = _rows(4)
    log = _log_with(tmp_path, rows[:2])  # the checkpoint is taken here, after 2 evaluations
    kept = list(log.lines)
    for step, returns in rows[2:]:  # evaluations after the checkpoint, then the crash
        log.append(step, step // 2, 1.0 + step, 0.5, returns, np.array([200, 200]))
    whole = (tmp_path / "evals.csv").read_bytes()
    expected = "".join(kept)
    header_end = whole.index(b"\n") + 1
    for cut in range(header_end, len(whole)):  # every byte of every row, kept or not
        (tmp_path / "evals.csv").write_bytes(whole[:cut])
        resumed = rundir.EvalLog(tmp_path, n_episodes=2, keep_rows=2, kept_lines=kept)
        assert (tmp_path / "evals.csv").read_text() == expected, f"cut at byte {cut}"
        resumed.append(400, 200, 9.0, 1.0, np.array([-1.0, -2.0]), np.array([200, 200]))
        table = pd.read_csv(tmp_path / "evals.csv")
        assert table["step"].tolist() == [0, 100, 400], f"cut at byte {cut}"
        assert table["return_1"].tolist() == [-20.5, -20.25, -2.0]


def test_an_older_checkpoint_without_the_copy_refuses_a_cut_it_cannot_repair(tmp_path):
    _log_with(tmp_path, _rows(3))
    whole = (tmp_path / "evals.csv").read_bytes()
    second_row_end = whole.index(b"\n", whole.index(b"\n", whole.index(b"\n") + 1) + 1) + 1
    (tmp_path / "evals.csv").write_bytes(whole[: second_row_end - 3])  # the 2nd kept row cut short
    with pytest.raises(ValueError, match="holds 1 whole rows, but the checkpoint being resumed saw 2"):
        rundir.EvalLog(tmp_path, n_episodes=2, keep_rows=2)
    (tmp_path / "evals.csv").write_bytes(whole[: second_row_end + 5])  # cut after the kept rows: fine
    rundir.EvalLog(tmp_path, n_episodes=2, keep_rows=2)
    assert len(pd.read_csv(tmp_path / "evals.csv")) == 2


def test_monitor_cut_mid_line_is_repaired_and_never_written_onto(tmp_path):
    path = tmp_path / rundir.MONITOR
    text = '#{"t_start": 0}\nr,l,t\n-1.5,200,0.1\n-2.5,200,0.2\n'
    path.write_text(text + "-3.")
    rundir.truncate_monitor(tmp_path, 2, kept=rundir.monitor_text(tmp_path))
    assert path.read_text() == text
    path.write_text(text[:-4])  # a kept row cut short, no copy: the partial line is dropped
    rundir.truncate_monitor(tmp_path, 2)
    assert path.read_text() == text[: text.index("-2.5")]


STEPS, EVAL = 1200, 200


def _spec(tmp_path) -> RunSpec:
    arm = get_arm("td3")
    config = dataclasses.replace(
        arm.config_cls(), learning_starts=100, batch_size=32, net_arch=[16, 16], buffer_size=5000
    )
    budget = Budget("full", STEPS, STEPS, EVAL, 2)
    return RunSpec("repair", "td3", "Pendulum-v1", 0, budget, config, ("test",), 100, "cpu")


class _Crash(KeyboardInterrupt):
    pass


def test_a_resumed_run_with_cut_files_ends_as_the_uninterrupted_one(tmp_path):
    spec = _spec(tmp_path)
    straight = runner.execute(spec, tmp_path / "straight", policy=runner.CheckpointPolicy(steps=400))
    assert straight["status"] == "complete"

    def crash_after(step, mean, updates):
        if step == 1000:  # checkpoints at 400 and 800 exist; the evaluation at 1000 came after them
            raise _Crash

    root = tmp_path / "crashed"
    with pytest.raises(_Crash):
        runner.execute(spec, root, policy=runner.CheckpointPolicy(steps=400), on_eval=crash_after)
    run_dir = spec.run_dir(root)
    assert checkpoint.latest(run_dir)[0] == 800
    evals = (run_dir / "evals.csv").read_bytes()
    kept_end = evals.index(b"\n800,")  # cut inside the row of step 600, which the checkpoint kept
    (run_dir / "evals.csv").write_bytes(evals[: kept_end - 4])
    monitor = (run_dir / rundir.MONITOR).read_bytes()
    (run_dir / rundir.MONITOR).write_bytes(monitor[: monitor.rindex(b"\n", 0, len(monitor) - 1) - 3])

    again = runner.execute(spec, root, policy=runner.CheckpointPolicy(steps=400))
    assert again["status"] == "complete"
    cols = ["step", "updates", "return_0", "return_1"]
    mine = pd.read_csv(run_dir / "evals.csv")
    ref = pd.read_csv(spec.run_dir(tmp_path / "straight") / "evals.csv")
    assert mine["step"].tolist() == list(range(0, STEPS + 1, EVAL))
    pd.testing.assert_frame_equal(mine[cols], ref[cols])
    monitor_rows = pd.read_csv(run_dir / rundir.MONITOR, skiprows=1)
    assert monitor_rows["l"].tolist() == [200] * (STEPS // 200)
