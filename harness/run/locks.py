"""One process per run directory: an flock on ``<run_dir>/.lock``, whose file names the owner.

The kernel releases an flock when its process dies, however it dies, so a lock left by a
crashed or killed process is taken over by the next one atomically, with no stale-lock race.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from harness.run.rundir import LOCK_NAME


class Locked(RuntimeError):
    """The run is held by another live process."""


class RunLock:
    """``with RunLock(run_dir) as lock:`` holds the run for this process or raises Locked.

    ``lock.previous`` is the owner recorded by the last holder when it was a different,
    now-dead process (a crash or kill that this lock takes over), else None.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        self.fd: int | None = None
        self.previous: dict | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _read(fd)
            os.close(fd)
            raise Locked(
                f"{self.path.parent} is being run by pid {info.get('pid')} on {info.get('host')} "
                f"since {info.get('since')}"
            ) from None
        info = _read(fd)
        if info.get("held"):
            self.previous = info  # its holder died without releasing it
        os.ftruncate(fd, 0)
        os.pwrite(
            fd,
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "held": True,
                }
            ).encode(),
            0,
        )
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, json.dumps({"held": False}).encode(), 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def held_elsewhere(run_dir: Path) -> bool:
    """Whether another live process holds the run (a non-blocking probe)."""
    path = Path(run_dir) / LOCK_NAME
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's shared lock
    return False


def _read(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except ValueError:
        return {}
