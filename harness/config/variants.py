"""Named variants of an arm, as data: ``hyperparams/variants.yml``.

    td3-per-n3:
      arm: td3
      description: our TD3 with prioritized replay and 3-step returns
      set: {prioritized: true, n_steps: 3}

A variant is its arm with some hyperparameters set: it resolves as the arm does (rl-zoo3's
entry, ``hyperparams/<arm>.yml``) and then takes ``set``; files and ``--hp`` still apply on top.
An ablation is then a list of names: ``ALGOS=td3,td3-per,td3-n3,td3-per-n3``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import HYPERPARAMS_DIR, yamlio
from harness.errors import ConfigError

VARIANTS_FILE = HYPERPARAMS_DIR / "variants.yml"
KEYS = ("arm", "description", "set")


@dataclass(frozen=True)
class Variant:
    name: str
    arm: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


def load_variants(path: Path | None = None) -> dict[str, Variant]:
    """Every variant in ``path`` (default hyperparams/variants.yml), checked for shape; ConfigError
    naming the file, the variant and the key otherwise. Whether ``arm`` and the settings exist is
    checked where the arm is known (harness.agents)."""
    path = path or VARIANTS_FILE
    if not path.exists():
        return {}
    data = yamlio.load_file(path) or {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping of variant names to {{arm: ..., set: {{...}}}}")
    variants = {}
    for name, entry in data.items():
        where = f"{path} [{name}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("arm"), str):
            raise ConfigError(f"{where}: expected {{arm: <arm name>, set: {{key: value}}, description: ...}}")
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; accepted: {', '.join(KEYS)}")
        settings = entry.get("set") or {}
        if not isinstance(settings, Mapping):
            raise ConfigError(f"{where} [set]: expected a mapping of hyperparameters, got {type(settings).__name__}")
        variants[str(name)] = Variant(str(name), entry["arm"], dict(settings), str(entry.get("description", "")))
    return variants
