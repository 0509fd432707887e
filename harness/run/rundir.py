"""The files of one run directory: rl-zoo3's layout plus evals.csv and meta.json.

``evaluations.npz``  timesteps (n,), results (n, K) episode returns, ep_lengths (n, K)
``0.monitor.csv``    SB3's Monitor log of the training env (written by the env factory)
``config.yml``       the hyperparameters used, plain YAML
``evals.csv``        one row per evaluation: step, updates, wall_s, eval_s, return_mean, return_0..K-1,
                     then for an arm with a critic ``VALUE_COLUMNS`` (harness.run.values), then cpu_s
``meta.json``        spec, status, versions, commit, host, timings
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.config import yamlio
from harness.run.record import RunRecord, Status

# The statuses by their old names (harness.run.record.Status is the one definition).
STATUS_RUNNING, STATUS_COMPLETE, STATUS_FAILED = Status.RUNNING, Status.COMPLETE, Status.FAILED
STATUS_INTERRUPTED, STATUS_DIVERGED, STATUS_STOPPED = Status.INTERRUPTED, Status.DIVERGED, Status.STOPPED
#: The lock file a run holds while it works (harness.run.locks); clearing a run keeps it.
LOCK_NAME = ".lock"
#: evals.csv's last columns for an arm with a critic: mean Q(s_t, a_t) over the evaluation states, the
#: mean discounted return observed from them, their difference, and how many states (harness.run.values).
VALUE_COLUMNS = ("value_estimate", "value_true", "value_bias", "value_states")
#: evals.csv's last column: the run's CPU seconds so far (user + system); empty in rows of older versions.
CPU_COLUMN = "cpu_s"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``path`` through a temporary file and a rename, so readers never see half a file.

    The file gets the permissions an ordinary write would (0644 under the usual umask 022), not
    the temporary file's private 0600: reports and results are for others to read.
    """
    path = Path(path)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, mode) as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def read_record(run_dir: Path) -> RunRecord | None:
    """meta.json as a RunRecord; None when missing, unreadable or not a run's record."""
    try:
        return RunRecord.from_dict(json.loads((Path(run_dir) / "meta.json").read_text()))
    except (OSError, ValueError):
        return None


def write_record(run_dir: Path, record: RunRecord) -> None:
    """meta.json, written atomically."""
    write_json(Path(run_dir) / "meta.json", record.to_dict())


def write_config(run_dir: Path, hyperparameters: dict[str, Any]) -> None:
    atomic_write(Path(run_dir) / "config.yml", yamlio.dump(hyperparameters))


def clear_run_dir(run_dir: Path, keep: Iterable[str] = ()) -> None:
    """Remove everything in ``run_dir`` but its lock and the top-level names in ``keep``."""
    spared = {LOCK_NAME, *keep}
    for path in Path(run_dir).iterdir():
        if path.name not in spared:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


class EvalLog:
    """Appends evaluations to evals.csv and keeps evaluations.npz in step with it.

    ``keep_rows`` > 0 continues an interrupted run: the first ``keep_rows`` evaluations already
    on disk are kept and any later ones (made after the checkpoint being resumed) are dropped.
    ``kept_lines`` (evals.csv's lines as the checkpoint saw them, header first) rewrite the file
    from the checkpoint's copy, so a file cut mid-line by a crash is repaired rather than glued onto;
    without them (checkpoints that predate the copy) the file's own lines are kept if they are whole.
    """

    def __init__(
        self,
        run_dir: Path,
        n_episodes: int,
        keep_rows: int = 0,
        values: bool = False,
        kept_lines: Sequence[str] | None = None,
    ):
        self.run_dir = Path(run_dir)
        self.n_episodes = n_episodes
        self.header = ["step", "updates", "wall_s", "eval_s", "return_mean"] + [
            f"return_{i}" for i in range(n_episodes)
        ]
        if values:  # the arm has a critic: value diagnostics follow the returns
            self.header += VALUE_COLUMNS
        self.header.append(CPU_COLUMN)
        self.timesteps: list[int] = []
        self.results: list[np.ndarray] = []
        self.lengths: list[np.ndarray] = []
        lines = [",".join(self.header) + "\n"]
        if keep_rows:
            with np.load(self.run_dir / "evaluations.npz") as npz:
                self.timesteps = [int(t) for t in npz["timesteps"][:keep_rows]]
                self.results = list(npz["results"][:keep_rows])
                self.lengths = list(npz["ep_lengths"][:keep_rows])
            if kept_lines is None:
                kept_lines = _whole_lines(self.run_dir / "evals.csv", keep_rows)
            lines = _with_header(list(kept_lines[: keep_rows + 1]), self.header)
        self.lines = lines
        atomic_write(self.run_dir / "evals.csv", "".join(lines))
        if keep_rows:
            self._write_npz()

    def __len__(self) -> int:
        return len(self.timesteps)

    @property
    def last_return(self) -> float | None:
        return float(np.mean(self.results[-1])) if self.results else None

    def append(
        self,
        step: int,
        updates: int | None,
        wall_s: float,
        eval_s: float,
        returns: np.ndarray,
        lengths: np.ndarray,
        values: Sequence[float] = (),
        cpu_s: float | None = None,
    ) -> None:
        """One evaluation; ``values`` are the ``VALUE_COLUMNS`` when the log has them, ``cpu_s`` the run's
        CPU seconds so far (empty when not recorded)."""
        row = [
            step,
            "" if updates is None else updates,
            f"{wall_s:.3f}",
            f"{eval_s:.3f}",
            f"{float(np.mean(returns)):.6g}",
        ]
        row += [f"{r:.6g}" for r in returns]
        row += [f"{v:.6g}" for v in values]
        row.append("" if cpu_s is None else f"{cpu_s:.3f}")
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerow(row)
        with open(self.run_dir / "evals.csv", "a", newline="") as fh:
            fh.write(text.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        self.lines.append(text.getvalue())
        self.timesteps.append(step)
        self.results.append(np.asarray(returns, dtype=np.float64))
        self.lengths.append(np.asarray(lengths, dtype=np.int64))
        self._write_npz()

    def _write_npz(self) -> None:
        tmp = self.run_dir / ".evaluations.tmp.npz"
        try:
            np.savez(
                tmp,
                timesteps=np.asarray(self.timesteps),
                results=np.stack(self.results),
                ep_lengths=np.stack(self.lengths),
            )
            os.replace(tmp, self.run_dir / "evaluations.npz")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def _whole_lines(path: Path, rows: int) -> list[str]:
    """The header and first ``rows`` lines of ``path``, each ending in a newline; ValueError naming the
    file when a crash cut them short (the checkpoint that says they were written has no copy of them)."""
    with open(path) as fh:
        lines = fh.readlines()[: rows + 1]
    if len(lines) < rows + 1 or not all(line.endswith("\n") for line in lines):
        whole = sum(line.endswith("\n") for line in lines) - 1
        raise ValueError(
            f"{path} holds {max(whole, 0)} whole rows, but the checkpoint being resumed saw {rows}, and it is "
            "from a version that kept no copy of them: delete the run's checkpoints/ folder to run it again"
        )
    return lines


def _with_header(lines: list[str], header: list[str]) -> list[str]:
    """evals.csv's kept lines under ``header``: a run begun before columns were added (the value
    diagnostics, cpu_s) continues with them, its earlier rows left empty there, so every row has every
    column. ValueError when the old file has a column this run does not write (another episode count)."""
    old = next(csv.reader(lines[:1])) if lines else []
    if old == header:
        return lines
    missing = [c for c in old if c not in header]
    if missing or [c for c in header if c in old] != old:
        raise ValueError(f"evals.csv has columns {old}; this run writes {header}")
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for cells in csv.reader(lines[1:]):
        by_name = dict(zip(old, cells, strict=False))
        writer.writerow([by_name.get(c, "") for c in header])
    return text.getvalue().splitlines(keepends=True)


MONITOR = "0.monitor.csv"
_MONITOR_HEADER_LINES = 2  # SB3's JSON comment line and the CSV header


def monitor_rows(run_dir: Path) -> int:
    """Training episodes logged so far in 0.monitor.csv."""
    try:
        with open(Path(run_dir) / MONITOR) as fh:
            return max(0, sum(1 for _ in fh) - _MONITOR_HEADER_LINES)
    except OSError:
        return 0


def monitor_text(run_dir: Path) -> str:
    """0.monitor.csv's whole lines as they are now (a checkpoint keeps them, to repair the file on resume)."""
    try:
        text = (Path(run_dir) / MONITOR).read_text()
    except OSError:
        return ""
    return text[: text.rfind("\n") + 1]


def truncate_monitor(run_dir: Path, rows: int, kept: str | None = None) -> None:
    """Keep the header and the first ``rows`` episodes of 0.monitor.csv (episodes after a checkpoint
    are replayed by the resumed run and would otherwise appear twice). ``kept``, the file's lines as
    the checkpoint saw them, replaces a file that a crash cut short; without it the file's own whole
    lines are kept (a partial last line is dropped, never written onto)."""
    path = Path(run_dir) / MONITOR
    if kept is not None:
        atomic_write(path, kept)
        return
    if not path.exists():
        return
    with open(path) as fh:
        lines = [line for line in fh.readlines() if line.endswith("\n")]
    atomic_write(path, "".join(lines[: _MONITOR_HEADER_LINES + rows]))
