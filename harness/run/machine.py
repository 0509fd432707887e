"""What this machine is, and the choices made for it that must not flip with noise.

A probe (the matmul backend, the bf16 rates) measures the machine under whatever else it runs; two
studies of the same command on the same machine must still choose the same. So the first probe's
choice is kept per machine (CPU model and flags, cores, torch build, threads, layer shapes) in
``$TD3_HARNESS_CACHE/machine.json`` (default ``~/.cache/td3-harness``), and later studies reuse it,
saying when and how it was measured. Another machine, or another torch, probes again.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import torch

T = TypeVar("T")


def cache_dir() -> Path:
    return Path(os.environ.get("TD3_HARNESS_CACHE") or Path.home() / ".cache" / "td3-harness")


def _cpu() -> tuple[str, str]:
    """(model name, a hash of the flags): what decides which kernels a CPU runs."""
    model, flags = platform.processor() or platform.machine(), ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            if key.strip() in ("flags", "Features") and not flags:
                flags = value.strip()
    except OSError:
        pass
    return model, hashlib.sha256(flags.encode()).hexdigest()[:12]


def describe() -> str:
    """This machine in words: CPU model, cores, torch build."""
    model, _ = _cpu()
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__}"


def key(kind: str, detail: Any) -> str:
    """The cache key of a ``kind`` of choice for ``detail`` (threads, shapes...) on this machine."""
    model, flags = _cpu()
    blob = json.dumps(
        [kind, model, flags, os.cpu_count(), torch.__version__, torch.__config__.show(), detail], default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def kept(kind: str, detail: Any, measure: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], str | None]:
    """(the choice, None) measured now by ``measure`` and kept for this machine; or (the kept one, the date
    it was measured) when this machine already has one."""
    path = cache_dir() / "machine.json"
    try:
        store = json.loads(path.read_text())
    except (OSError, ValueError):
        store = {}
    k = key(kind, detail)
    if k in store:
        return store[k]["choice"], store[k]["measured"]
    choice = measure()
    store[k] = {
        "kind": kind,
        "machine": describe(),
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "choice": choice,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(store, indent=1))
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only means the next study probes again
    return choice, None
