"""What check-agent's checks and probes share: a row (``Check``), a verdict (``CheckFailed``), the
summary line, an arm's config with small settings, and whether its settings let it learn at all."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.agents import Arm
from harness.config.schema import build_config, fields_of

#: Status of a row.
PASS, FAIL, SKIP = "pass", "FAIL", "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # PASS, FAIL or SKIP
    detail: str
    required: bool = True

    def row(self) -> str:
        return f"{self.status:<4}  {self.name:<48} {self.detail}"


class CheckFailed(AssertionError):
    """A check's verdict: the agent does not do what the check asks, for the reason given."""


class CheckSkipped(Exception):
    """A check that cannot ask its question of this agent, for the reason given (not a failure)."""


def describe_exception(exc: BaseException) -> str:
    """'raised <type>: <message> (at <file>:<line>)', where the innermost frame is."""
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return f"raised {type(exc).__name__}: {exc} (at {Path(frame.filename).name}:{frame.lineno})"


def settings_config(arm: Arm, settings: Mapping[str, Any], purpose: str) -> Any:
    """The arm's config: its defaults (a variant's settings included) with ``settings`` for the keys
    its Config has (``net_arch`` also for configs that spread it over several fields)."""
    names = set(fields_of(arm.config_cls)) | set(getattr(arm.config_cls, "COMPOUND", {}))
    chosen = {k: v for k, v in settings.items() if k in names}
    return build_config(arm.config_cls, {**arm.preset, **chosen}, f"{purpose} of {arm.name}")


def no_update_reason(config: Any, steps: int) -> str | None:
    """Why ``config`` allows no gradient update within ``steps`` env steps (its warm-up, or a training
    round that never comes), in words; None when its settings allow one (or say nothing about it)."""
    starts = getattr(config, "learning_starts", None)
    if isinstance(starts, int) and starts >= steps:
        return f"learning_starts {starts:,} is beyond the {steps:,} steps"
    freq, unit = getattr(config, "train_freq", None), getattr(config, "train_freq_unit", "step")
    if isinstance(freq, int) and freq >= 1 and unit == "step":
        first = ((starts if isinstance(starts, int) else 0) // freq + 1) * freq  # the first round after the warm-up
        if first > steps:
            return f"train_freq {freq:,} leaves no training round after learning_starts within the {steps:,} steps"
    if getattr(config, "gradient_steps", None) == 0:
        return "gradient_steps 0 makes no update"
    return None


def summary(checks: list[Check]) -> tuple[str, int]:
    """The last line and the exit code: 1 if a required check failed, else 0."""
    failed = [c for c in checks if c.status == FAIL and c.required]
    counts = {s: sum(c.status == s for c in checks) for s in (PASS, FAIL, SKIP)}
    line = f"{len(checks)} checks: {counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped"
    return (
        line + (f"; required checks failed: {', '.join(c.name for c in failed)}" if failed else ""),
        1 if failed else 0,
    )
