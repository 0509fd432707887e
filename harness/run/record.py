"""``meta.json``, the record of one run: one definition that the runner writes and the report, the
plan and ``enjoy`` read, so writer and readers cannot drift apart.

A record holds what the run is (``spec``, its hash, the agent's code), where and with what it ran
(versions, commit, host, threads, matmul backend), how it went (``status``, timings, result, error,
divergence, resumes) and its cost (``timings.cpu_s``: CPU time beside wall-clock). Files written by
earlier versions load: a missing field takes its default (``cpu_s`` None: "not recorded"), and keys
this version does not know are kept as they were (``extra``) and written back unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """A run's status; a StrEnum, so it is written to JSON and compared as the plain string."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # stopped from outside (Ctrl-C, a full disk): the same command resumes it
    DIVERGED = "diverged"
    STOPPED = "stopped"  # ended early on purpose (a pruned tuning trial)
    BUSY = "busy"  # held by another process: left alone this time (never written to meta.json)
    CANCELLED = "cancelled"  # queued when a study was stopped: never started (never written)


#: Statuses a repeated command leaves alone: the run has its final answer.
FINAL = frozenset({Status.COMPLETE, Status.DIVERGED, Status.STOPPED})
#: Statuses whose runs are results of their arm and enter every statistic.
RESULTS = frozenset({Status.COMPLETE, Status.DIVERGED})


@dataclass
class Timings:
    """When the run started and finished and where its time went; seconds include earlier sessions of a
    resumed run. ``cpu_s`` is the CPU time (user + system, child processes included) of the run's work,
    None for runs recorded before it was measured."""

    started: str | None = None
    finished: str | None = None
    wall_s: float | None = None
    train_s: float | None = None
    eval_s: float | None = None
    steps_per_s: float | None = None  # env steps per second of training (evaluation excluded)
    cpu_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Timings:
        if data is not None and not isinstance(data, dict):
            raise ValueError(f"timings is a {type(data).__name__}, not a mapping")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


@dataclass
class Result:
    """What a complete run ended with (older and hand-made records may hold only some of it)."""

    env_steps: int | None = None
    updates: int | None = None
    final_return_mean: float | None = None
    model: str | None = None  # the saved model's file name in the run directory
    critic: str | None = None  # what the value diagnostics' estimate is (None: no critic)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Result | None:
        if not data:
            return None
        if not isinstance(data, dict):
            raise ValueError(f"result is a {type(data).__name__}, not a mapping")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class RunRecord:
    """One run's meta.json (see the module docstring)."""

    spec: dict[str, Any]  # study, the identity (harness.run.spec.RunSpec.identity), hp sources, learning_starts
    spec_hash: str
    status: Status
    agent: dict[str, Any] = field(default_factory=dict)  # where the agent's code came from
    versions: dict[str, Any] = field(default_factory=dict)
    git: dict[str, Any] = field(default_factory=dict)
    host: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None
    matmul_backend: str = "default"  # recorded since the backend is chosen; earlier runs used the default
    precision: str = "fp32"  # of the gradient updates; runs recorded before it was chosen ran fp32
    timings: Timings = field(default_factory=Timings)
    result: Result | None = None
    error: str | None = None
    traceback: str | None = None
    divergence: dict[str, Any] | None = None  # {step, cause}
    resumes: list[dict[str, Any]] = field(default_factory=list)
    tuning_overlap: str | None = None  # HP=tuned values selected on this run's seeds or episodes (in words)
    algorithm: dict[str, Any] | None = None  # the published algorithm it runs (harness.run.spec.RunSpec.algorithm)
    seed_group: list[str] | None = None  # the runs it started with in one seed group (an execution choice)
    extra: dict[str, Any] = field(default_factory=dict)  # keys of other versions (relabelled, restarted, ...)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    @property
    def is_result(self) -> bool:
        return self.status in RESULTS

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of meta.json; optional fields that are empty are left out, as before."""
        out: dict[str, Any] = {
            "spec": self.spec,
            "spec_hash": self.spec_hash,
            "status": str(self.status),
            "agent": self.agent,
            "versions": self.versions,
            "git": self.git,
            "host": self.host,
            "threads": self.threads,
            "matmul_backend": self.matmul_backend,
            "precision": self.precision,
            "timings": self.timings.to_dict(),
        }
        if self.result is not None:
            out["result"] = dataclasses.asdict(self.result)
        for key in ("error", "traceback", "divergence", "tuning_overlap", "algorithm", "seed_group"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.resumes:
            out["resumes"] = self.resumes
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """A record from meta.json's object; ValueError when it lacks what every version wrote."""
        if not isinstance(data, dict) or not isinstance(data.get("spec"), dict) or "status" not in data:
            raise ValueError("not a run record: no spec or status")
        try:
            status = Status(data["status"])
        except ValueError:
            raise ValueError(
                f"unknown status {data['status']!r}; accepted: {', '.join(s.value for s in Status)}"
            ) from None
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        return cls(
            spec=data["spec"],
            spec_hash=str(data.get("spec_hash", "")),
            status=status,
            agent=data.get("agent") or {},
            versions=data.get("versions") or {},
            git=data.get("git") or {},
            host=data.get("host") or {},
            threads=data.get("threads"),
            matmul_backend=str(data.get("matmul_backend", "default")),
            precision=str(data.get("precision", "fp32")),
            timings=Timings.from_dict(data.get("timings")),
            result=Result.from_dict(data.get("result")),
            error=data.get("error"),
            traceback=data.get("traceback"),
            divergence=data.get("divergence"),
            resumes=list(data.get("resumes") or []),
            tuning_overlap=data.get("tuning_overlap"),
            algorithm=data.get("algorithm"),
            seed_group=data.get("seed_group"),
            extra={k: v for k, v in data.items() if k not in known},
        )
