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
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from harness.errors import ConfigError, suggest

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

C = TypeVar("C", bound="DataclassInstance")


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
    predicate: Callable[[Any], bool] | None = None,
    accepted_text: str = "",
    acts_when: tuple[str, Callable[[Any], bool], str] | None = None,
) -> Any:
    """A hyperparameter field: default, help text, accepted range or choices.

    ``low``/``high`` bound numbers (exclusive when ``low_open``/``high_open``); ``also``
    lists extra accepted values outside the range (SB3's ``gradient_steps=-1``);
    ``policy_kwarg`` marks fields that SB3 takes through ``policy_kwargs``; ``predicate`` and
    ``accepted_text`` describe values no range can (SAC's ``ent_coef``: "auto", "auto_0.1" or a number).

    The field's metadata holds ``help``, ``accepted`` (text) and ``check`` (a predicate on
    one value): the schema ``build_config`` reads, which other packages' dataclasses can
    also provide without importing this module. ``acts_when`` = ``(other field, predicate on its
    value, the condition in words)`` marks a field that another switches off (a search leaves it out
    while the predicate is false and the other field is not searched itself).
    """
    extra = {"acts_when": acts_when} if acts_when is not None else {}
    if isinstance(default, list):
        default = tuple(default)
    if predicate is not None:
        meta = dict(help=help, accepted=accepted_text, check=predicate, policy_kwarg=policy_kwarg, verbatim=True)
        return dataclasses.field(default=default, metadata={**meta, **extra})
    if choices is not None:
        choices = tuple(choices)
        text = "one of " + ", ".join("null" if c is None else repr(c) for c in choices)

        def check(v: Any) -> bool:
            return v in choices
    else:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        text = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        text += "".join(f" or {a!r}" for a in also)

        def ok(x: float) -> bool:
            return (
                not (isinstance(x, float) and math.isnan(x))
                and not (low is not None and (x < low or (low_open and x == low)))
                and not (high is not None and (x > high or (high_open and x == high)))
            )

        def check(v: Any) -> bool:
            return v in also or all(ok(x) for x in (v if isinstance(v, tuple) else (v,)))

    meta = dict(help=help, accepted=text, check=check, policy_kwarg=policy_kwarg, verbatim=False)
    return dataclasses.field(default=default, metadata={**meta, **extra})


def accepted(f: dataclasses.Field, tp: Any) -> str:
    """What a field of type ``tp`` accepts, e.g. 'a float in (0, 1]' or "one of 'a', 'b'"."""
    text = f.metadata.get("accepted")
    if text is None:
        return _type_name(tp)
    return text if text.startswith("one of") or f.metadata.get("verbatim") else f"{_type_name(tp)} in {text}"


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(tp)))
    if origin in (tuple, list):
        item = typing.get_args(tp)[0]
        names = {int: "integers", float: "floats", str: "strings"}
        return "a list of " + names.get(item, "lists" if typing.get_origin(item) is tuple else str(item))
    return {int: "an integer", float: "a float", str: "a string", bool: "true/false", type(None): "null"}.get(
        tp, str(tp)
    )


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
    if origin is typing.Literal:
        if value in typing.get_args(tp):
            return value
        raise TypeError
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise TypeError
        return origin(_coerce(v, typing.get_args(tp)[0]) for v in value)
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


def build_config(cls: type[C], values: Mapping[str, Any], where: str, base: C | None = None) -> C:
    """Validate ``values`` against dataclass ``cls`` and return an instance.

    Fields missing from ``values`` come from ``base`` (or the dataclass defaults).
    ``where`` names the origin in errors, e.g. "hyperparams/sb3-td3.yml, env Pendulum-v1".
    """
    known = fields_of(cls)
    data = dataclasses.asdict(base) if base is not None else {}
    for key, raw in _expand_compound(cls, values, where).items():
        if key not in known:
            raise ConfigError(
                f"{where}: unknown hyperparameter '{key}' for {cls.__qualname__}.{suggest(key, known)} "
                f"Accepted keys: {', '.join(known)}"
            )
        f, tp = known[key]
        try:
            value = _coerce(raw, tp)
        except TypeError:
            raise ConfigError(
                f"{where}: hyperparameter '{key}' is {raw!r} ({type(raw).__name__}); accepted: {accepted(f, tp)}"
            ) from None
        if not f.metadata.get("check", lambda v: True)(value):
            raise ConfigError(f"{where}: hyperparameter '{key}' = {raw!r} is out of range; accepted: {accepted(f, tp)}")
        data[key] = value
    try:
        return cls(**data)
    except ValueError as exc:  # a dataclass that validates itself in __post_init__
        raise ConfigError(f"{where}: {exc}") from None


def field_default(f: dataclasses.Field) -> Any:
    """A field's default (from its default_factory if it has one); dataclasses.MISSING if it has none."""
    if f.default is not dataclasses.MISSING:
        return f.default
    factory = f.default_factory
    return factory() if callable(factory) else dataclasses.MISSING


def check_schema(cls: type, where: str) -> None:
    """ConfigError unless every field of dataclass ``cls`` has a default that files can also write:
    a type of bool, int, float, str, None, tuples or lists of them, a Literal, or unions of these."""
    try:
        known = fields_of(cls)
    except Exception as exc:  # an annotation that does not resolve
        raise ConfigError(f"{where}: its field types cannot be resolved ({type(exc).__name__}: {exc})") from None
    for name, (f, tp) in known.items():
        default = field_default(f)
        if default is dataclasses.MISSING:
            raise ConfigError(f"{where}: field '{name}' has no default; every hyperparameter needs one")
        try:
            _coerce(default, tp)
        except TypeError:
            raise ConfigError(
                f"{where}: field '{name}: {tp}' = {default!r} is not a type hyperparameter files can write; "
                "accepted: bool, int, float, str, None, tuple[...] or list[...] of them, Literal[...], or unions of these"
            ) from None


def _expand_compound(cls: type, values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Spread compound keys over the fields they stand for.

    A dataclass may declare ``COMPOUND = {"net_arch": {"pi": "net_arch_pi", "qf": "net_arch_qf"}}``:
    then ``net_arch: {pi: [..], qf: [..]}`` (rl-zoo3's and SB3's dict form) sets each named field,
    and a plain ``net_arch: [..]`` sets all of them, as SB3 reads a shared list.
    """
    compound: Mapping[str, Mapping[str, str]] = getattr(cls, "COMPOUND", {})
    out: dict[str, Any] = {}
    for key, raw in values.items():
        parts = compound.get(key)
        if parts is None:
            out[key] = raw
        elif isinstance(raw, Mapping):
            for part, value in raw.items():
                if part not in parts:
                    raise ConfigError(
                        f"{where}: hyperparameter '{key}' has no part '{part}'; "
                        f"accepted: a list, or a mapping with keys {', '.join(parts)}"
                    )
                out[parts[part]] = value
        else:
            out.update(dict.fromkeys(parts.values(), raw))
    return out


def has_learning_starts(config: Any) -> bool:
    """Whether the config has ``learning_starts`` (steps of random actions before learning), which
    budgets scale; an arm's own config may leave it out."""
    return any(f.name == "learning_starts" for f in dataclasses.fields(config))


def learning_starts(config: Any) -> int:
    """The config's ``learning_starts``, 0 for a config without one."""
    return int(config.learning_starts) if has_learning_starts(config) else 0


def as_plain(config: Any) -> dict[str, Any]:
    """The config as plain YAML/JSON-ready data (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def describe(cls: type) -> list[tuple[str, str, Any, str]]:
    """(name, accepted, default, help) for every field: the reference table in docs and --help."""
    return [(n, accepted(f, tp), field_default(f), f.metadata.get("help", "")) for n, (f, tp) in fields_of(cls).items()]
