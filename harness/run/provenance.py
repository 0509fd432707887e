"""Where a run came from: package versions, the project's commit, the host, the agent's code.
Recorded in meta.json and in tuned values, so a result can say exactly what produced it."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("harness", "torch", "stable-baselines3", "sb3-contrib", "gymnasium", "rl-zoo3", "numpy", "box2d")


def agent_code(module: str, target: Any = None) -> dict[str, Any]:
    """Where an agent's code comes from, and its identity (part of every run's spec).

    ``module`` is the arm's code (a package: every .py file under it; a module: its file);
    ``target`` the object the arm names. Recorded: the object, its module file, the distribution
    that provides it and its version, a SHA-256 of the source files, and the git commit of the
    repository holding them. The identity is ``<distribution> <version>`` for code installed from
    a release (its files are that version's), else ``source <hash>``: editing an agent's code in a
    checkout, an editable install or a file on the path changes it.
    """
    spec = importlib.util.find_spec(module)
    if spec is None:
        return {"module": module, "identity": f"module {module}"}
    files = _source_files(spec)
    dist, editable = _providing_distribution(module.partition(".")[0], files[0])
    version = metadata.version(dist) if dist is not None else None
    digest = hashlib.sha256()
    root = files[0].parent if len(files) == 1 else Path(spec.submodule_search_locations[0])  # type: ignore[index]
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    source = digest.hexdigest()[:16]
    installed = dist is not None and not editable
    record: dict[str, Any] = {
        "object": f"{target.__module__}:{target.__qualname__}" if target is not None else None,
        "module": module,
        "module_file": _display_path(Path(inspect.getsourcefile(target) or "")) if target is not None else None,
        "distribution": dist,
        "version": version,
        "editable": editable,
        "files": len(files),
        "source_hash": source,
    }
    if not installed:
        record["git"] = git_state(root)
    record["identity"] = f"{dist} {version}" if installed else f"source {source}"
    return record


@functools.cache
def _packages() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


def _providing_distribution(top: str, file: Path) -> tuple[str | None, bool | None]:
    """(distribution, editable) that provides ``file`` of top-level package ``top``: one whose
    installed files include it, or an editable install of the folder holding it; (None, None) when
    the file comes from elsewhere (a checkout on the path, a script's folder)."""
    for name in _packages().get(top, []):
        dist = metadata.distribution(name)
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
        if direct.get("dir_info", {}).get("editable"):
            url = direct.get("url", "")
            folder = Path(url.removeprefix("file://")) if url.startswith("file://") else None
            if folder is not None and file.resolve().is_relative_to(folder.resolve()):
                return name, True
        elif _in_site_packages(file) and any(
            Path(str(dist.locate_file(f))).resolve() == file.resolve() for f in dist.files or ()
        ):
            return name, False
    return None, None


def _in_site_packages(file: Path) -> bool:
    """Installed from a release: under site-packages (a checkout's own egg-info lists its files too)."""
    return any(part in ("site-packages", "dist-packages") for part in file.resolve().parts)


def _source_files(spec: Any) -> list[Path]:
    if spec.submodule_search_locations:  # a package: all its Python files
        return sorted(p for folder in spec.submodule_search_locations for p in Path(folder).rglob("*.py"))
    return [Path(spec.origin)]


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        dist = "td3-harness" if name == "harness" else name
        try:
            versions[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_state(cwd: Path | None = None) -> dict[str, Any]:
    """The commit of the project checkout (or of the repository holding ``cwd``) and whether it had
    uncommitted changes; None for both outside a repository."""
    cwd = cwd or Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        if not commit:
            return {"commit": None, "dirty": None}
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        )
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": dirty if commit else None}


def host_info() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
