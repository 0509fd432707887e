"""Runs as Ray tasks: on this machine (Ray embedded) or on a cluster.

Each run is one task of one CPU, and of a share of a GPU when its device is cuda; a seed group
(``--seed-groups``) is one task for all its members, with a whole GPU when on cuda. The task
works through the runner, as a local worker does, in a scratch directory on its node; it
returns the run directory's files and the driver writes them into its own results tree, so
the nodes need no shared filesystem. Every checkpoint is copied to a store that outlives the
node: by default the driver's results tree (through an actor on the driver's node, where a
local run keeps its checkpoints), or ``--checkpoint-uri``. A task whose worker or node dies
is retried up to ``max_retries`` times and resumes from the newest checkpoint in the store.
Progress events reach the driver's display through the same actor.
"""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.execution.local import Unit
from harness.execution.progress import Display
from harness.run import checkpoint, rundir, runner
from harness.run.locks import Locked, RunLock
from harness.run.record import Status
from harness.run.spec import RunSpec

INSTALL_HINT = "pip install -e '.[ray]'"
DEFAULT_MAX_RETRIES = 3
CONNECT_TIMEOUT_S = 5.0
POLL_S = 0.25
#: Ray schedules fractional resources in steps of 1/10,000.
GPU_SHARE_STEP = 1e-4


def require_ray() -> Any:
    """The ray module, or a UsageError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError(
            f"--backend ray needs Ray, which is not installed here: {INSTALL_HINT} "
            "(the Makefile's .venv has it through the dev extra)"
        ) from None
    return ray


@dataclass(frozen=True)
class Cluster:
    """What this command's Ray session reaches: ``address`` None means Ray embedded in this process."""

    address: str | None
    nodes: int
    cpus: int
    gpus: float

    @property
    def gpu_share(self) -> float:
        """GPU requested by a cuda run: the cluster's GPUs spread over its CPUs, at most one."""
        if not self.gpus:
            return 0.0
        return max(GPU_SHARE_STEP, round(min(1.0, self.gpus / max(1, self.cpus)), 4))

    @property
    def where(self) -> str:
        return f"the Ray cluster at {self.address}" if self.address else "Ray embedded on this machine"

    def describe(self) -> str:
        return f"backend: {self.where}: {self.nodes} node(s), {self.cpus} CPU(s), {self.gpus:g} GPU(s)"


@contextmanager
def session(address: str | None, cpus: int) -> Iterator[Cluster]:
    """Ray for the length of a command: joined to the cluster at ``address``, or, without one,
    started on this machine with ``cpus`` CPUs. Ray is shut down on exit (an embedded one stops)."""
    ray = require_ray()
    if address:
        _check_reachable(address)
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:  # "local": a new instance even if a cluster runs on this machine
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise UsageError(f"cannot start or join Ray{f' at {address}' if address else ''}: {exc}") from None
    try:
        resources = ray.cluster_resources()
        nodes = sum(1 for node in ray.nodes() if node["Alive"])
        yield Cluster(address, nodes, int(resources.get("CPU", 0)), float(resources.get("GPU", 0)))
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """UsageError unless something answers at a ``host:port`` address (others are left to Ray)."""
    if "://" in address or address == "auto":
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(
            f"--ray-address {address!r}: expected host:port of the head node "
            "(ray start --head prints it; port 6379 by default)"
        )
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise UsageError(
            f"--ray-address {address}: no Ray head answers there ({exc.strerror or exc}); start one "
            "with `ray start --head --port=<port>`, or unset RAY_ADDRESS to run Ray embedded "
            "on this machine"
        ) from None


class Sink:
    """A Ray actor on the driver's node: collects progress events, keeps checkpoint snapshots in the
    driver's results tree, and writes files sent by tasks on other nodes."""

    def __init__(self, results_root: str):
        self.root = Path(results_root)
        self.store = checkpoint.RunDirStore(self.root)
        self.events: list[dict[str, Any]] = []

    def put(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def drain(self) -> list[dict[str, Any]]:
        events, self.events = self.events, []
        return events

    def save(self, spec: RunSpec, step: int, files: checkpoint.Snapshot) -> None:
        self.store.save(spec, step, files)

    def newest(self, spec: RunSpec) -> tuple[int, checkpoint.Snapshot] | None:
        return self.store.newest(spec)

    def write(self, folder: str, files: dict[str, bytes]) -> None:
        """Write files under ``<results root>/<folder>``."""
        checkpoint.write_files(self.root / folder, files)


class SinkStore:
    """The checkpoint store of the driver's results tree, as tasks on any node reach it.

    A task waits for these calls through futures only: a task blocked in ``ray.get`` or
    ``ray.wait`` lends its CPU to another task, which would then share the CPU for the rest of
    both runs. Saves are sent without waiting; a failed one fails the next save, and ``flush``
    waits for all of them.
    """

    def __init__(self, sink: Any):
        self.sink = sink
        self.sent: list[Future[None]] = []

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        return SinkStore, (self.sink,)

    def save(self, spec: RunSpec, step: int, files: checkpoint.Snapshot) -> None:
        done = [f for f in self.sent if f.done()]
        self.sent = [f for f in self.sent if not f.done()]
        for future in done:
            future.result()
        self.sent.append(self.sink.save.remote(spec, step, files).future())

    def newest(self, spec: RunSpec) -> tuple[int, checkpoint.Snapshot] | None:
        return self.sink.newest.remote(spec).future().result()

    def flush(self) -> None:
        """Wait until every checkpoint sent is written."""
        for future in self.sent:
            future.result()
        self.sent = []


def start_sink(results_root: Path) -> Any:
    """A Sink actor pinned to this (the driver's) node, taking no CPU."""
    ray = ray_module()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    return ray.remote(Sink).options(num_cpus=0, scheduling_strategy=here).remote(str(results_root))


def run_on_node(
    spec: RunSpec, threads: int, policy: runner.CheckpointPolicy, store: checkpoint.Store, sink: Any
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A Ray task: the run in a scratch directory of this node, resumed from the store's newest
    checkpoint if it has one, each new checkpoint copied to the store. Returns the runner's summary
    and the run directory's files."""

    def train(scratch: Path, mirror: runner.CheckpointHook) -> list[dict[str, Any]]:
        return [runner.execute(spec, scratch, threads, sink.put.remote, policy, on_checkpoint=mirror)]

    [result] = _in_scratch([spec], store, "harness-run-", train)
    return result


def run_group_on_node(
    specs: list[RunSpec], threads: int, policy: runner.CheckpointPolicy, store: checkpoint.Store, sink: Any
) -> list[tuple[dict[str, Any], dict[str, bytes]]]:
    """A Ray task for a seed group: ``run_on_node`` for several runs at once, trained by one
    ``runner.execute_group``; each member's checkpoints are copied to the store under its own run.
    Returns each member's summary and run-directory files, in order."""

    def train(scratch: Path, mirror: runner.CheckpointHook) -> list[dict[str, Any]]:
        return runner.execute_group(specs, scratch, threads, sink.put.remote, policy, on_checkpoint=mirror)

    return _in_scratch(specs, store, "harness-group-", train)


def _in_scratch(
    specs: list[RunSpec],
    store: checkpoint.Store,
    prefix: str,
    train: Callable[[Path, runner.CheckpointHook], list[dict[str, Any]]],
) -> list[tuple[dict[str, Any], dict[str, bytes]]]:
    """``train(scratch, mirror)`` in a scratch directory of this node, each run first given the store's
    newest checkpoint if it has one, each new checkpoint copied to the store by ``mirror``. Returns each
    run's summary and run-directory files, in the order of ``specs``."""
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        by_dir = {spec.run_dir(scratch): spec for spec in specs}
        for run_dir, spec in by_dir.items():
            saved = store.newest(spec)
            if saved is not None:
                checkpoint.write_files(run_dir, saved[1])

        def mirror(directory: Path, step: int) -> None:
            written = checkpoint.snapshot(directory)
            assert written is not None  # called right after a checkpoint is written
            store.save(by_dir[directory], step, written[1])

        summaries = train(scratch, mirror)
        if isinstance(store, SinkStore):
            store.flush()  # no checkpoint arrives after the driver cleared a complete run's
        return [(summary, read_files(spec.run_dir(scratch))) for spec, summary in zip(specs, summaries, strict=True)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def read_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` as {relative path: bytes}, without locks and checkpoints."""
    folder = Path(folder)
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != rundir.LOCK_NAME and checkpoint.DIRNAME not in path.relative_to(folder).parts
    }


def deliver(run_dir: Path, files: dict[str, bytes]) -> None:
    """Make ``run_dir`` hold the files a task returned: meta.json last, so a crash midway leaves
    the run as unfinished as before; files the run no longer has are removed (checkpoints stay)."""
    checkpoint.write_files(run_dir, {rel: data for rel, data in files.items() if rel != "meta.json"})
    if "meta.json" in files:
        checkpoint.write_files(run_dir, {"meta.json": files["meta.json"]})
    rundir.clear_run_dir(run_dir, keep={rel.split("/")[0] for rel in files} | {checkpoint.DIRNAME})


class RayExecutor:
    """Runs specs as Ray tasks, at most ``jobs`` at a time, each with ``threads`` torch threads.

    ``store`` keeps checkpoints (default: the driver's results tree through a Sink). The driver
    holds each run directory's lock while its task is out, as a local worker would.
    """

    def __init__(
        self,
        cluster: Cluster,
        jobs: int,
        threads: int,
        policy: runner.CheckpointPolicy = runner.CheckpointPolicy(),
        store: checkpoint.UriStore | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ):
        self.cluster, self.jobs, self.threads, self.policy = cluster, jobs, threads, policy
        self.store, self.max_retries = store, max_retries

    def run(self, specs: Sequence[Unit], results_root: Path, display: Display) -> list[dict[str, Any]]:
        """Execute every unit (a seed group as one task); returns one summary per run, in completion order."""
        ray = ray_module()
        root = Path(results_root).resolve()
        sink = start_sink(root)
        store = self.store or SinkStore(sink)
        queue: deque[Unit] = deque(specs)
        pending: dict[Any, tuple[RunSpec, ...]] = {}  # Ray object ref -> its run(s)
        locks: dict[str, RunLock] = {}
        summaries: list[dict[str, Any]] = []
        try:
            while queue or pending:
                while queue and len(pending) < self.jobs:
                    unit = queue.popleft()
                    members = []
                    for spec in unit if isinstance(unit, tuple) else (unit,):
                        try:
                            locks[spec.key] = RunLock(spec.run_dir(root)).__enter__()
                        except Locked as exc:
                            display.handle({"key": spec.key, "event": "busy", "reason": str(exc)})
                            summaries.append({"key": spec.key, "status": Status.BUSY, "error": str(exc)})
                            continue
                        self._prepare(spec, root)
                        members.append(spec)
                    if members:
                        pending[self._submit(members, store, sink)] = tuple(members)
                done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
                _drain(sink, display)
                for ref in done:
                    members = list(pending.pop(ref))
                    summaries.extend(self._collect(ref, members, root, display))
                    for spec in members:
                        locks.pop(spec.key).__exit__(None, None, None)
        except KeyboardInterrupt:
            display.line("interrupted: cancelling the runs in progress (each resumes from its last checkpoint)")
            for ref in pending:
                ray.cancel(ref)
            raise
        finally:
            _drain(sink, display)
            for lock in locks.values():
                lock.__exit__(None, None, None)
            ray.kill(sink)
        return summaries

    def _prepare(self, spec: RunSpec, root: Path) -> None:
        """Put what the driver's tree holds of an unfinished run where its task looks: an unfinished
        run without a checkpoint starts over (as locally); a checkpoint seeds an empty URI store."""
        run_dir = spec.run_dir(root)
        local = checkpoint.snapshot(run_dir)
        if local is None:
            rundir.clear_run_dir(run_dir)
        elif self.store is not None and self.store.newest(spec) is None:
            self.store.save(spec, *local)

    def _submit(self, members: list[RunSpec], store: checkpoint.Store, sink: Any) -> Any:
        """One task: a run, or a seed group's runs (a whole GPU when on cuda, at most the cluster's)."""
        spec = members[0]
        grouped = len(members) > 1
        gpus = (min(1.0, self.cluster.gpus) if grouped else self.cluster.gpu_share) if spec.device == "cuda" else 0
        task = (
            ray_module()
            .remote(run_group_on_node if grouped else run_on_node)
            .options(
                name=f"{'group' if grouped else 'run'} {spec.study}/{' '.join(m.key for m in members)}",
                num_cpus=1,
                max_retries=self.max_retries,
                num_gpus=gpus,
            )
        )
        return task.remote(members if grouped else spec, self.threads, self.policy, store, sink)

    def _collect(self, ref: Any, members: list[RunSpec], root: Path, display: Display) -> list[dict[str, Any]]:
        """The task's results written into the results tree; a task that failed for good is reported."""
        ray = ray_module()
        try:
            results = ray.get(ref)
        except ray.exceptions.RayError as exc:
            error = f"{type(exc).__name__} after up to {self.max_retries} retries: {str(exc).splitlines()[0]}"
            for spec in members:
                display.handle({"key": spec.key, "event": "failed", "error": error})
            return [{"key": spec.key, "status": rundir.STATUS_FAILED, "error": error} for spec in members]
        summaries = []
        for spec, (summary, files) in zip(members, results if len(members) > 1 else [results], strict=True):
            deliver(spec.run_dir(root), files)
            if summary["status"] == rundir.STATUS_COMPLETE:  # its checkpoints are of no more use, as locally
                checkpoint.RunDirStore(root).clear(spec)
                if self.store is not None:
                    self.store.clear(spec)
            summaries.append(summary)
        return summaries


def _drain(sink: Any, display: Display) -> None:
    for event in ray_module().get(sink.drain.remote()):
        display.handle(event)


def ray_module() -> Any:
    import ray

    return ray
