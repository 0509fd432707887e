"""How ``compare`` runs a study, fixed or sequential: one frozen set of options handed down whole."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.execution.local import Executor
from harness.execution.progress import Display
from harness.run.runner import CheckpointPolicy


@dataclass(frozen=True)
class RunOptions:
    """Everything about running a study besides what it is (the StudySpec)."""

    jobs: int  # runs at a time
    threads: int  # torch threads per run
    display: Display  # where the plan and progress go
    dry_run: bool = False  # print the plan, run nothing
    assume_yes: bool = False  # start a long study without asking
    estimate: bool = True  # calibrate the plan's cost estimate
    report: bool = True  # write the report at the end
    policy: CheckpointPolicy = field(default_factory=CheckpointPolicy)
    executor: Executor | None = None  # None: the local process pool
    matmul_backend: str = "auto"
    precision: str = "fp32"  # of the gradient updates (harness.agents.precision)
    tensorboard: bool = True  # False: runs write no event files
    reference: str | None = None  # the report's reference arm
    seed_groups: int = 1  # at most this many runs of one kind per process (harness.study.plan.group_seeds)
