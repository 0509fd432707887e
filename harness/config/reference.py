"""Reference scores per env: a uniform-random policy's score (the low end of normalization) and
a threshold (the high end; the score counted as solving the env).

The threshold is gymnasium's ``reward_threshold`` unless ``hyperparams/reference_scores.yml``
sets one; random-policy scores are measured with the harness's own evaluation protocol by
``python -m harness reference-scores --env <id>`` (``harness.run.evaluator.measure_random``)
and recorded in that file with provenance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym

from harness.config import HYPERPARAMS_DIR, env_name, yamlio

REFERENCE_FILE = HYPERPARAMS_DIR / "reference_scores.yml"


@dataclass(frozen=True)
class Reference:
    random: float | None
    threshold: float | None
    source: str


def lookup(env_id: str, path: Path | None = None) -> Reference:
    path = path or REFERENCE_FILE
    name = env_name(env_id)
    data = (yamlio.load_file(path) or {}) if path.exists() else {}
    entry = data.get(name) or {}
    threshold, source = entry.get("threshold"), f"{path.name}"
    if threshold is None:
        spec = gym.registry.get(name)
        threshold = spec.reward_threshold if spec is not None else None
        source = "gymnasium reward_threshold"
    return Reference(entry.get("random"), threshold, source if threshold is not None else "none")
