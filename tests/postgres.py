"""A throwaway PostgreSQL cluster on 127.0.0.1 for the distributed tuning tests.

Uses Debian's ``postgresql`` package (.ci/run installs it where missing). initdb refuses to run
as root, so as root the cluster runs as the ``postgres`` system user the package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster in a fresh temporary directory; yields a SQLAlchemy URL of an empty
    database; stops the server and removes the directory."""
    bins = bindir()
    if bins is None:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # Directly under /tmp: the postgres user must be able to reach it (pytest's tmp_path is root-only).
    workdir = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    data, sockets = workdir / "pgdata", workdir / "sockets"
    sockets.mkdir()
    if as_user:
        shutil.chown(workdir, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    run = lambda *cmd: subprocess.run([*as_user, *map(str, cmd)], check=True, capture_output=True, text=True)  # noqa: E731
    run(bins / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
    run(
        bins / "pg_ctl",
        "-D",
        data,
        "-w",
        "-l",
        workdir / "server.log",
        "-o",
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1",
        "start",
    )
    try:
        run(bins / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "optuna")
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/optuna"
    finally:
        run(bins / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(workdir, ignore_errors=True)
