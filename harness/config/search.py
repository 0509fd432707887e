"""Search spaces as data: ``hyperparams/search/<arm>.yml``, one entry per tuned hyperparameter.

    learning_rate: {type: float, low: 1.0e-5, high: 3.0e-3, log: true}
    policy_delay:  {type: int, low: 1, high: 4}
    net_arch:      {type: categorical, choices: [[64, 64], [400, 300]]}

Every key must be a field of the arm's config and every value the space can produce must be
accepted by it (checked on load). ``sample`` returns plain values, never objects.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from harness.config import HYPERPARAMS_DIR, yamlio
from harness.config.resolve import ArmInfo
from harness.config.schema import build_config
from harness.errors import ConfigError

KINDS = ("float", "int", "categorical")


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def labels(self) -> dict[Any, Any]:
        """Optuna label -> value: lists (net_arch) become JSON strings, Optuna takes only primitives."""
        return {json.dumps(c) if isinstance(c, list) else c: c for c in self.choices}


def space_file(arm: ArmInfo, folder: Path = HYPERPARAMS_DIR / "search") -> Path:
    """hyperparams/search/<arm>.yml; a variant without its own file uses its arm's."""
    own = folder / f"{arm.name}.yml"
    return own if own.exists() else folder / f"{arm.files}.yml"


def load_space(arm: ArmInfo, path: Path | None = None) -> dict[str, Param]:
    """The arm's search space, validated; ConfigError naming the file and key otherwise."""
    path = path or space_file(arm)
    data = yamlio.load_file(path)
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path}: expected a mapping of hyperparameter names to ranges")
    space = {}
    for name, entry in data.items():
        where = f"{path} [{name}]"
        if not isinstance(entry, dict) or entry.get("type") not in KINDS:
            raise ConfigError(f"{where}: expected {{type: float|int|categorical, ...}}, got {entry!r}")
        kind = entry["type"]
        if kind == "categorical":
            choices = entry.get("choices")
            if not isinstance(choices, list) or not choices:
                raise ConfigError(f"{where}: categorical needs a non-empty list 'choices'")
            param = Param(name, kind, choices=tuple(choices))
            probes = list(choices)
        else:
            low, high = entry.get("low"), entry.get("high")
            if not isinstance(low, (int, float)) or not isinstance(high, (int, float)) or low >= high:
                raise ConfigError(f"{where}: needs numbers low < high, got low={low!r} high={high!r}")
            if entry.get("log") and low <= 0:
                raise ConfigError(f"{where}: a log range needs low > 0, got {low}")
            param = Param(
                name,
                kind,
                float(low) if kind == "float" else int(low),
                float(high) if kind == "float" else int(high),
                bool(entry.get("log", False)),
            )
            probes = [param.low, param.high]
        unknown = set(entry) - {"type", "low", "high", "log", "choices"}
        if unknown:
            raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; accepted: type, low, high, log, choices")
        for value in probes:  # every end of the range must be a valid hyperparameter value
            build_config(arm.config_cls, {name: value}, where)
        space[name] = param
    return space


def active(space: dict[str, Param], config: Any) -> tuple[dict[str, Param], dict[str, str]]:
    """(the dimensions of ``space`` that act on ``config``, {left-out name: why}). A field whose metadata
    has ``acts_when = (switch, predicate, text)`` is left out while the predicate is false on
    ``config``'s switch and the switch is not itself searched: the sampler would spend trials on it."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    kept, left_out = {}, {}
    for name, p in space.items():
        rule = fields[name].metadata.get("acts_when") if name in fields else None
        if rule is not None:
            switch, acts, text = rule
            if switch not in space and not acts(getattr(config, switch)):
                left_out[name] = f"acts only when {text}; here {switch} = {getattr(config, switch)!r}"
                continue
        kept[name] = p
    return kept, left_out


def sample(trial: optuna.Trial, space: dict[str, Param]) -> dict[str, Any]:
    """One plain value per parameter, drawn through the trial."""
    values: dict[str, Any] = {}
    for name, p in space.items():
        if p.kind in ("float", "int"):
            assert p.low is not None and p.high is not None  # load_space gives every numeric range both ends
            if p.kind == "float":
                values[name] = trial.suggest_float(name, p.low, p.high, log=p.log)
            else:
                values[name] = trial.suggest_int(name, int(p.low), int(p.high), log=p.log)
        else:
            labels = p.labels()
            values[name] = labels[trial.suggest_categorical(name, list(labels))]
    return values


def decode(params: dict[str, Any], space: dict[str, Param]) -> dict[str, Any]:
    """Optuna's stored params (labels) back to hyperparameter values."""
    return {k: space[k].labels()[v] if k in space and space[k].kind == "categorical" else v for k, v in params.items()}
