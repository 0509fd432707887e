"""Checkpoints of a run's whole training state: atomic, fsynced, pruned.

``<run_dir>/checkpoints/step_<N>.pt`` holds the agent's ``state_dict()`` and the runner's own
state (evaluation rows, monitor rows, clocks). A write goes to a temporary file that is
fsynced and renamed over, so a kill or a full disk mid-write leaves the previous checkpoint
as it was.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

DIRNAME = "checkpoints"
KEEP = 2
_NAME = re.compile(r"^step_(\d+)\.pt$")


class CheckpointError(RuntimeError):
    """A checkpoint could not be written; the message says which one survives."""


def checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every complete checkpoint, oldest first."""
    folder = Path(run_dir) / DIRNAME
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def latest(run_dir: Path) -> tuple[int, Path] | None:
    found = checkpoints(run_dir)
    return found[-1] if found else None


def save(run_dir: Path, step: int, state: dict[str, Any], keep: int = KEEP) -> Path:
    """Write ``state`` as the checkpoint of ``step`` and prune all but the newest ``keep``."""
    folder = Path(run_dir) / DIRNAME
    folder.mkdir(exist_ok=True)
    path = folder / f"step_{step:012d}.pt"
    tmp = folder / f".step_{step:012d}.pt.tmp"
    try:
        with open(tmp, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(folder)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        previous = latest(run_dir)
        survivor = f"the checkpoint of step {previous[0]} is intact" if previous else "there is no earlier checkpoint"
        raise CheckpointError(f"checkpoint of step {step} not written to {folder} "
                              f"({exc.strerror or exc}); {survivor}") from exc
    for _, old in checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=False)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
