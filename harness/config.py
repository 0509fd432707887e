"""Typed hyperparameter configuration: dataclasses whose fields carry their accepted range.

Each arm declares one frozen dataclass; ``build_config`` turns plain data (from YAML, the
rl-zoo3 conversion or the command line) into it, and every wrong key, type or value is a
ConfigError that names where it came from, the key and what is accepted.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from harness.errors import ConfigError, suggest

C = TypeVar("C")


def hp(
    default: Any,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    choices: Sequence[Any] | None = None,
    also: Sequence[Any] = (),
    policy_kwarg: bool = False,
) -> Any:
    """A hyperparameter field: default, help text, accepted range or choices.

    ``low``/``high`` bound numbers (exclusive when ``low_open``/``high_open``); ``also``
    lists extra accepted values outside the range (SB3's ``gradient_steps=-1``);
    ``policy_kwarg`` marks fields that SB3 takes through ``policy_kwargs``.
    """
    meta = dict(help=help, low=low, high=high, low_open=low_open, high_open=high_open,
                choices=tuple(choices) if choices is not None else None, also=tuple(also),
                policy_kwarg=policy_kwarg)
    if isinstance(default, list):
        default = tuple(default)
    return dataclasses.field(default=default, metadata=meta)


def accepted(f: dataclasses.Field, tp: Any) -> str:
    """Human description of what a field of type ``tp`` accepts, e.g. 'a float in (0, 1]'."""
    m = f.metadata
    if m.get("choices") is not None:
        return "one of " + ", ".join("null" if c is None else repr(c) for c in m["choices"])
    kind = _type_name(tp)
    if m.get("low") is None and m.get("high") is None:
        return kind
    lo = "-inf" if m["low"] is None else f"{m['low']:g}"
    hi = "inf" if m["high"] is None else f"{m['high']:g}"
    text = f"{kind} in {'(' if m['low_open'] or m['low'] is None else '['}{lo}, {hi}{')' if m['high_open'] or m['high'] is None else ']'}"
    if m.get("also"):
        text += " or " + ", ".join(repr(a) for a in m["also"])
    return text


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return "a list of " + {int: "integers", float: "floats", str: "strings"}[typing.get_args(tp)[0]]
    return {int: "an integer", float: "a float", str: "a string", bool: "true/false",
            type(None): "null"}.get(tp, str(tp))


def fields_of(cls: type) -> dict[str, tuple[dataclasses.Field, Any]]:
    """Name -> (field, resolved type) for every field of dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    return {f.name: (f, hints[f.name]) for f in dataclasses.fields(cls)}


def _coerce(value: Any, tp: Any) -> Any:
    """``value`` as type ``tp``, or raise TypeError. Integral floats pass as ints (1e6)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return _coerce(value, arg)
            except TypeError:
                continue
        raise TypeError
    if tp is type(None):
        if value is None:
            return None
        raise TypeError
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError
        return tuple(_coerce(v, typing.get_args(tp)[0]) for v in value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise TypeError
    if tp is int:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise TypeError
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError
        return float(value)
    if tp is str:
        if isinstance(value, str):
            return value
        raise TypeError
    raise TypeError


def _in_range(value: Any, m: Mapping[str, Any]) -> bool:
    if m.get("choices") is not None:
        return value in m["choices"]
    if value in m.get("also", ()):
        return True
    items = value if isinstance(value, tuple) else (value,)
    for v in items:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if isinstance(v, float) and math.isnan(v):
            return False
        lo, hi = m.get("low"), m.get("high")
        if lo is not None and (v < lo or (m["low_open"] and v == lo)):
            return False
        if hi is not None and (v > hi or (m["high_open"] and v == hi)):
            return False
    return True


def build_config(cls: type[C], values: Mapping[str, Any], where: str, base: C | None = None) -> C:
    """Validate ``values`` against dataclass ``cls`` and return an instance.

    Fields missing from ``values`` come from ``base`` (or the dataclass defaults).
    ``where`` names the origin in errors, e.g. "hyperparams/sb3-td3.yml, env Pendulum-v1".
    """
    known = fields_of(cls)
    data = dataclasses.asdict(base) if base is not None else {}
    for key, raw in values.items():
        if key not in known:
            raise ConfigError(
                f"{where}: unknown hyperparameter '{key}' for {cls.__name__}.{suggest(key, known)} "
                f"Accepted keys: {', '.join(known)}"
            )
        f, tp = known[key]
        try:
            value = _coerce(raw, tp)
        except TypeError:
            raise ConfigError(
                f"{where}: hyperparameter '{key}' is {raw!r} ({type(raw).__name__}); "
                f"accepted: {accepted(f, tp)}"
            ) from None
        if not _in_range(value, f.metadata):
            raise ConfigError(
                f"{where}: hyperparameter '{key}' = {raw!r} is out of range; accepted: {accepted(f, tp)}"
            )
        data[key] = value
    return cls(**data)


def as_plain(config: Any) -> dict[str, Any]:
    """The config as plain YAML/JSON-ready data (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def describe(cls: type) -> list[tuple[str, str, Any, str]]:
    """(name, accepted, default, help) for every field: the reference table in docs and --help."""
    return [(n, accepted(f, tp), f.default, f.metadata.get("help", "")) for n, (f, tp) in fields_of(cls).items()]
