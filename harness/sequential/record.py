"""``results/<study>/sequential.json``: a sequential study's record (its design, the settings its looks
share, every look's runs and scores) and its replay through the test. The study stage writes it; the
report reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import UsageError
from harness.sequential.design import NOT_DISTINGUISHED, Design, verdict
from harness.sequential.test import run_test, tost

#: The study directory's record of a sequential study.
RECORD_NAME = "sequential.json"
RECORD_FORMAT = 1


def record_path(study_dir: Path) -> Path:
    return Path(study_dir) / RECORD_NAME


def read_record(study_dir: Path) -> dict[str, Any] | None:
    """The study's sequential record, None if it has none; UsageError if it cannot be read."""
    path = record_path(study_dir)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path} cannot be read ({exc}); restore it from a copy, or choose another --study") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT or "design" not in record:
        raise UsageError(f"{path} is not a sequential record of format {RECORD_FORMAT}")
    return record


def design_from(record: dict[str, Any]) -> Design:
    d = dict(record["design"])
    d["arms"] = tuple(d["arms"])
    return Design(**d)


def scores_array(record: dict[str, Any], design: Design) -> np.ndarray:
    """The record's look scores as (1, arms, looks, n), NaN where an arm got no seeds."""
    looks = record.get("looks", [])
    out = np.full((1, len(design.arms), len(looks), design.per_look), np.nan)
    for k, look in enumerate(looks):
        for a, arm in enumerate(design.arms):
            if arm in look["scores"]:
                out[0, a, k] = look["scores"][arm]
    return out


def analyze(record: dict[str, Any]) -> dict[str, Any]:
    """The record's looks replayed through the test: per look its statistics, boundaries and decisions;
    per comparison its verdict, the look that decided it and (after the last look) the equivalence test.
    Deterministic: the same scores and design give the same numbers, so a resumed study agrees with itself."""
    design = design_from(record)
    outcome = run_test(scores_array(record, design), design, trace=True)
    looks = record.get("looks", [])
    finished = bool(outcome.finished[0]) if looks else False
    verdicts: dict[str, dict[str, Any]] = {}
    undecided = [c for c in range(len(design.pairs)) if outcome.decided_look[0, c] == 0]
    for c, name in enumerate(design.comparisons):
        look = int(outcome.decided_look[0, c])
        verdicts[name] = {
            "verdict": verdict(design, c, int(outcome.sign[0, c]))
            if look
            else (NOT_DISTINGUISHED if finished else "open"),
            "look": look or None,
        }
    normalization = record.get("normalization")
    if finished and design.equivalence_margin is not None and undecided and normalization:
        level = design.alpha / len(undecided)
        low, scale = normalization
        for c in undecided:
            i, j = design.pairs[c]
            x = (np.concatenate([lk["scores"][design.arms[i]] for lk in looks]) - low) / scale
            y = (np.concatenate([lk["scores"][design.arms[j]] for lk in looks]) - low) / scale
            test = tost(x, y, design.equivalence_margin, level)
            verdicts[design.comparisons[c]]["equivalence"] = test
            if test["equivalent"]:
                verdicts[design.comparisons[c]]["verdict"] = f"equivalent within ±{design.equivalence_margin:g}"
    seeds = {arm: int(outcome.seeds_per_arm()[0, a]) for a, arm in enumerate(design.arms)}
    next_arms = (
        []
        if finished
        else [
            design.arms[a]
            for a in range(len(design.arms))
            if any(outcome.open[0, c] and a in design.pairs[c] for c in range(len(design.pairs)))
        ]
    )
    return {
        "looks": outcome.trace,
        "verdicts": verdicts,
        "seeds_per_arm": seeds,
        "finished": finished,
        "next_look": None if finished else len(looks) + 1,
        "next_arms": next_arms,
    }


def with_analysis(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with its looks replayed: each look's statistics, boundaries and decisions stored beside
    its scores, and the verdicts, seeds per arm and whether the study is finished (what is written)."""
    analysis = analyze(record)
    for look, replay in zip(record["looks"], analysis["looks"], strict=True):
        look.update({k: v for k, v in replay.items() if k != "look"})
    record["verdicts"] = analysis["verdicts"]
    record["seeds_per_arm"] = analysis["seeds_per_arm"]
    record["finished"] = analysis["finished"]
    return record
