"""Ctrl-C or SIGTERM stops a study cleanly: exit 130, no traceback, runs in progress recorded as interrupted."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_ctrl_c_stops_every_process_and_records_interrupted_runs(tmp_path, how):
    """Ctrl-C reaches the whole process group; `kill <pid>` (SIGTERM) reaches the driver alone,
    which must stop its workers too rather than leave them running as orphans."""
    args = [
        sys.executable,
        *"-m harness compare --env Pendulum-v1 --steps 100000 --seeds 3 --jobs 2 --hp net_arch=[16,16] --results".split(),
        str(tmp_path),
        *"--study int --no-estimate --progress quiet".split(),
    ]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    metas = []
    while time.monotonic() < deadline and len(metas) < 2:
        time.sleep(0.5)
        metas = list(tmp_path.glob("int/*/*/meta.json"))
    assert len(metas) == 2, "two runs should have started"
    time.sleep(2)
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the whole foreground group
    else:
        proc.send_signal(signal.SIGTERM)  # what `kill <pid>` does: the driver only
    _out, err = proc.communicate(timeout=90)
    assert proc.returncode == 130
    assert "Traceback" not in err and "interrupted" in err
    statuses = [json.loads(m.read_text())["status"] for m in tmp_path.glob("int/*/*/meta.json")]
    assert statuses == ["interrupted", "interrupted"]  # queued runs never started
    assert not _group_alive(proc.pid, wait_s=10), "worker processes outlived the driver"


def _group_alive(pgid: int, wait_s: float) -> bool:
    """Whether any process of group ``pgid`` is still there after ``wait_s`` seconds."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            subprocess.run([*"ps -o pid,stat,cmd -g".split(), str(pgid)])
            return True
        time.sleep(0.2)
