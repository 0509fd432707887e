"""Checkpoints of a run's whole training state: atomic, fsynced, pruned.

``<run_dir>/checkpoints/step_<N>.pt`` holds the agent's ``state_dict()`` and the runner's own
state (evaluation rows, monitor rows, clocks). A write goes to a temporary file that is
fsynced and renamed over, so a kill or a full disk mid-write leaves the previous checkpoint
as it was.

A checkpoint can also outlive the machine it was written on: ``snapshot`` packs the newest
one with the run's files as ``{relative path: bytes}``, and a store keeps such snapshots
where another machine finds them (``RunDirStore``: a results tree, as a local run keeps
them; ``UriStore``: any path or URI that pyarrow.fs or fsspec can open). Writing a
snapshot's files into an empty run directory makes it one the runner resumes.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import torch

from custom_td3.serialization import safe_load
from harness.errors import UsageError
from harness.run import rundir

DIRNAME = "checkpoints"
KEEP = 2
_NAME = re.compile(r"^step_(\d+)\.pt$")
_ARCHIVE = re.compile(r"^step_(\d+)\.tar$")
#: The files of a run directory that resuming from a checkpoint reads besides the checkpoint.
RUN_FILES = ("meta.json", "config.yml", "evals.csv", "evaluations.npz", rundir.MONITOR)
#: A checkpoint and the run's files at that moment, as {path relative to the run directory: bytes}.
Snapshot = dict[str, bytes]


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
    return _write(run_dir, step, lambda fh: torch.save(state, fh), keep)


def save_bytes(run_dir: Path, step: int, data: bytes, keep: int = KEEP) -> Path:
    """Write a checkpoint serialized elsewhere (by a run on another machine) as the one of ``step``."""
    return _write(run_dir, step, lambda fh: fh.write(data), keep)


def _write(run_dir: Path, step: int, dump: Callable[[IO[bytes]], Any], keep: int) -> Path:
    folder = Path(run_dir) / DIRNAME
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step_{step:012d}.pt"
    tmp = folder / f".step_{step:012d}.pt.tmp"
    try:
        with open(tmp, "wb") as fh:
            dump(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(folder)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        previous = latest(run_dir)
        survivor = f"the checkpoint of step {previous[0]} is intact" if previous else "there is no earlier checkpoint"
        raise CheckpointError(
            f"checkpoint of step {step} not written to {folder} ({exc.strerror or exc}); {survivor}"
        ) from exc
    for _, old in checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


class CheckpointUnreadable(RuntimeError):
    """A checkpoint file that does not load (cut short, garbage, or holding objects other than
    tensors and plain data); the message names the file and why, in one line."""


def load(path: Path) -> dict[str, Any]:
    """A checkpoint's state. Checkpoints may come from a shared store, so only tensors, plain Python
    data and numpy arrays are accepted (``torch.load(weights_only=True)`` with numpy allowed); any
    other file is CheckpointUnreadable, never loaded with fewer restrictions."""
    try:
        state = safe_load(path, map_location="cpu")
    except Exception as exc:
        raise CheckpointUnreadable(f"{path}: {unreadable_cause(exc)}") from None
    if not isinstance(state, dict):
        raise CheckpointUnreadable(f"{path}: holds a {type(state).__name__}, not a checkpoint's state")
    return state


def unreadable_cause(exc: BaseException) -> str:
    """Why a restricted torch.load refused a file, in one line: the unpickler's own reason when it names
    one (a global outside the allowed types), else the error's first line; never torch's advice to
    load with ``weights_only=False``, which would run whatever code the file carries."""
    advice = ("weights_only", "Weights only load failed", "Check the documentation", "Please file an issue")
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reasons = [
        line.removeprefix("WeightsUnpickler error:").strip() for line in lines if not any(a in line for a in advice)
    ]
    return f"{type(exc).__name__}: {reasons[0] if reasons else 'not a file of tensors and plain data'}"


@dataclass(frozen=True)
class Newest:
    """The newest checkpoint that loads (``step`` and ``state``; both None when none does) and the
    newer ones passed over, each as 'file: why'."""

    step: int | None
    state: dict[str, Any] | None
    skipped: tuple[str, ...] = ()


def newest_loadable(run_dir: Path) -> Newest:
    """The newest checkpoint of ``run_dir`` that loads, falling back past any that do not."""
    skipped: list[str] = []
    for step, path in reversed(checkpoints(run_dir)):
        try:
            return Newest(step, load(path), tuple(skipped))
        except CheckpointUnreadable as exc:
            skipped.append(str(exc))
    return Newest(None, None, tuple(skipped))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def snapshot(run_dir: Path) -> tuple[int, Snapshot] | None:
    """(step, files) of the newest checkpoint with the run's files as they are now, or None."""
    newest = latest(run_dir)
    if newest is None:
        return None
    step, path = newest
    files = {name: (Path(run_dir) / name).read_bytes() for name in RUN_FILES if (Path(run_dir) / name).is_file()}
    files[f"{DIRNAME}/{path.name}"] = path.read_bytes()
    return step, files


def write_files(folder: Path, files: Mapping[str, bytes]) -> None:
    """Write ``{relative path: bytes}`` under ``folder``, each file atomically."""
    for rel, data in files.items():
        path = Path(folder) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        rundir.atomic_write(path, data)


class Store(Protocol):
    """Where a run's checkpoint snapshots are kept for the run to resume on another machine."""

    def save(self, spec: Any, step: int, files: Snapshot) -> None: ...

    def newest(self, spec: Any) -> tuple[int, Snapshot] | None: ...


class RunDirStore:
    """Snapshots kept where a local run keeps its checkpoints: in the run directory under a results
    root, so that any backend resumes what another one left."""

    def __init__(self, results_root: Path):
        self.root = Path(results_root)

    def save(self, spec: Any, step: int, files: Snapshot) -> None:
        run_dir = spec.run_dir(self.root)
        is_checkpoint = {rel: rel.startswith(f"{DIRNAME}/") for rel in files}
        # The logs first: they may run ahead of the newest checkpoint (a resume cuts them back), never behind.
        write_files(run_dir, {rel: data for rel, data in files.items() if not is_checkpoint[rel]})
        for rel, data in files.items():
            if is_checkpoint[rel]:
                save_bytes(run_dir, step, data)

    def newest(self, spec: Any) -> tuple[int, Snapshot] | None:
        return snapshot(spec.run_dir(self.root))

    def clear(self, spec: Any) -> None:
        shutil.rmtree(spec.run_dir(self.root) / DIRNAME, ignore_errors=True)


class UriStore:
    """Snapshots under a path or URI that every node reaches (a shared filesystem, s3://, gs://, ...):
    ``<uri>/<study>/<arm>/<env>_<seed>/<spec hash>/step_<N>.tar``, one archive per checkpoint, so
    a snapshot is a single object; the newest ``KEEP`` are kept."""

    def __init__(self, uri: str):
        self.uri = uri
        self.fs, self.base = filesystem(uri)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return UriStore, (self.uri,)  # the filesystem is opened again where the store is unpickled

    def check(self) -> None:
        """UsageError unless a file can be written and removed under the URI."""
        probe = f"{self.base}/.write-test-{os.getpid()}"
        try:
            self.fs.create_dir(self.base, recursive=True)
            with self.fs.open_output_stream(probe) as out:
                out.write(b"ok")
            self.fs.delete_file(probe)
        except (OSError, ValueError) as exc:
            raise UsageError(f"--checkpoint-uri {self.uri}: cannot write there ({exc})") from None

    def save(self, spec: Any, step: int, files: Snapshot) -> None:
        folder = self._folder(spec)
        self.fs.create_dir(folder, recursive=True)
        tmp, final = f"{folder}/.step_{step:012d}.tar.tmp", f"{folder}/step_{step:012d}.tar"
        with self.fs.open_output_stream(tmp) as out:
            out.write(_pack(files))
        self.fs.move(tmp, final)
        for _, old in self._archives(folder)[:-KEEP]:
            self.fs.delete_file(old)

    def newest(self, spec: Any) -> tuple[int, Snapshot] | None:
        """The newest readable snapshot: one cut short by a crash mid-write is passed over."""
        for step, path in reversed(self._archives(self._folder(spec))):
            try:
                with self.fs.open_input_stream(path) as fh:
                    return step, _unpack(fh.read())
            except (tarfile.TarError, OSError):
                continue
        return None

    def clear(self, spec: Any) -> None:
        """Remove the run's snapshots of every spec."""
        from pyarrow.fs import FileType

        folder = f"{self.base}/{spec.study}/{spec.key}"
        if self.fs.get_file_info(folder).type == FileType.Directory:
            self.fs.delete_dir(folder)

    def _folder(self, spec: Any) -> str:
        return f"{self.base}/{spec.study}/{spec.key}/{spec.spec_hash()}"

    def _archives(self, folder: str) -> list[tuple[int, str]]:
        from pyarrow.fs import FileSelector

        infos = self.fs.get_file_info(FileSelector(folder, allow_not_found=True))
        return sorted((int(m.group(1)), info.path) for info in infos if (m := _ARCHIVE.match(info.base_name)))


def filesystem(uri: str) -> tuple[Any, str]:
    """A pyarrow filesystem and the base path in it for a local path or a URI: pyarrow's own schemes
    (file, s3, gs, hdfs, abfs), else any protocol fsspec has installed. UsageError for others."""
    import pyarrow.fs as pafs

    if "://" not in uri:
        return pafs.LocalFileSystem(), str(Path(uri).expanduser().resolve())
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
        return fs, path.rstrip("/")
    except ValueError:
        pass  # not a pyarrow scheme: perhaps an fsspec one
    try:
        import fsspec

        fs, path = fsspec.core.url_to_fs(uri)
    except (ImportError, ValueError) as exc:
        raise UsageError(
            f"--checkpoint-uri {uri!r}: {uri.split('://')[0]}:// is not a filesystem pyarrow or "
            f"fsspec knows here ({exc}); accepted: a path, file://, s3://, gs://, hdfs://, abfs://, "
            "or a protocol of an installed fsspec implementation"
        ) from None
    return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path.rstrip("/")


def _pack(files: Snapshot) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for rel, data in files.items():
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _unpack(blob: bytes) -> Snapshot:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r") as tar:
        return {m.name: _read_member(tar, m) for m in tar.getmembers() if m.isfile()}


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    if handle is None:
        raise tarfile.TarError(f"{member.name} has no data")
    return handle.read()
