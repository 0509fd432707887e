"""Tuning workers as Ray tasks: embedded on this machine, or on a cluster whose workers share the
study through a database every node reaches."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.execution.ray import DEFAULT_MAX_RETRIES, Cluster, ray_module, read_files, start_sink
from harness.tuning import tune


def check_tune_storage(storage: str | None, address: str | None) -> None:
    """On a cluster, tuning workers share a study only through a database server they all reach."""
    if address and (storage is None or storage.startswith("sqlite")):
        raise UsageError(
            "tune --backend ray on a cluster needs --storage postgresql://... (or mysql://...) that "
            "every node reaches: the default journal file and SQLite live on this machine's disk "
            "(without --ray-address/RAY_ADDRESS, Ray runs embedded here and they work)"
        )


class TuneLauncher:
    """Launches a tuning study's workers as Ray tasks (``tune.run``'s ``launch``).

    Embedded, the workers write into the results tree in place, as local processes do. On a
    cluster, each works in a scratch directory of its node and sends every finished trial's
    run directories to the driver's results tree. A worker whose node dies is retried up to
    ``max_retries`` times; with a database storage its trial is failed by the heartbeat and
    retried as a new trial, as with local workers.
    """

    def __init__(self, cluster: Cluster, max_retries: int = DEFAULT_MAX_RETRIES):
        self.cluster, self.max_retries = cluster, max_retries

    def __call__(self, spec: tune.TuneSpec, results_root: Path, jobs: int, threads: int) -> None:
        ray = ray_module()
        root = Path(results_root).resolve()
        tune.open_study(spec, root)  # its storage answers, and the study exists before its workers race to it
        sink = start_sink(root)
        in_place = str(root) if self.cluster.address is None else None
        task = ray.remote(tune_on_node)
        refs = [
            task.options(name=f"tune {spec.study} worker {w}", num_cpus=1, max_retries=self.max_retries).remote(
                spec, in_place, threads, w, sink
            )
            for w in range(jobs)
        ]
        try:
            for worker, ref in enumerate(refs):
                try:
                    ray.get(ref)
                except ray.exceptions.RayError as exc:
                    print(
                        f"tuning worker {worker} lost after up to {self.max_retries} retries: "
                        f"{str(exc).splitlines()[0]}",
                        file=sys.stderr,
                    )
        finally:
            ray.kill(sink)


def tune_on_node(spec: tune.TuneSpec, results_root: str | None, threads: int, worker: int, sink: Any) -> None:
    """A Ray task: one tuning worker, in ``results_root`` or, when None, in a scratch directory whose
    finished trials are sent to the driver's Sink."""
    if results_root is not None:
        tune.work(spec, Path(results_root), threads, worker)
        return
    scratch = Path(tempfile.mkdtemp(prefix="harness-tune-"))

    def send(study: Any, trial: Any) -> None:
        folder = scratch / tune.trial_study(spec, trial.number)
        if folder.is_dir():
            sink.write.remote(tune.trial_study(spec, trial.number), read_files(folder)).future().result()
            shutil.rmtree(folder, ignore_errors=True)

    try:
        tune.work(spec, scratch, threads, worker, callbacks=(send,))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
