"""Arms the registry does not list: named by import path (``my_pkg.agents:MyTD3``, the convention
gymnasium uses for ``module:EnvId``) or installed under the entry-point group ``td3_harness.arms``.

The object named can be
- a class with a dataclass ``Config`` (nested or attached) whose fields are its hyperparameters,
  built as ``Cls(env, config, seed, device)``, with ``learn``, ``predict``, ``num_timesteps``,
  ``save`` and a classmethod ``load(path, env, device)`` (docs/agents.md);
- a Stable-Baselines3 ``BaseAlgorithm`` subclass: the SB3 adapter wraps it, and its constructor's
  keyword arguments become its typed config (``sb3.derived_config``);
- an ``Arm`` (an entry point may register one whole);
- the class of a registered arm (``custom_td3:TD3``): that arm, under the name given.

Anything else is a UsageError that says what is wrong: the import's own error, close matches
for a missing attribute, the methods an object lacks, a Config that is not a dataclass.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import replace
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3.common.base_class import BaseAlgorithm

from harness.agents import sb3
from harness.agents.arm import Arm
from harness.agents.base import REQUIRED_ATTRIBUTES, REQUIRED_METHODS, load_is_classmethod, missing_methods
from harness.config.schema import check_schema
from harness.errors import UsageError, suggest

ENTRY_POINT_GROUP = "td3_harness.arms"
CONTRACT = (
    "an agent is a class with a dataclass Config, a constructor Cls(env, config, seed, device), "
    f"{', '.join(m + '()' for m in REQUIRED_METHODS[:-1])}, {', '.join(REQUIRED_ATTRIBUTES)} and a classmethod "
    "load(path, env, device) (docs/agents.md), or a Stable-Baselines3 algorithm class"
)


def is_import_path(name: str) -> bool:
    return ":" in name


def entry_points() -> dict[str, metadata.EntryPoint]:
    """The arms installed packages declare under ``td3_harness.arms``, by name (not loaded)."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def import_object(path: str) -> Any:
    """The object ``module:attr.attr`` names; UsageError showing the import's error or close matches."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise UsageError(f"algorithm '{path}': expected module:Name, e.g. my_pkg.agents:MyTD3")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # its own error, whatever it is, is what the user needs to see
        raise UsageError(f"algorithm '{path}': cannot import module '{module_name}': {describe_error(exc)}") from None
    obj: Any = module
    for i, part in enumerate(attr.split(".")):
        if not hasattr(obj, part):
            where = ".".join([module_name, *attr.split(".")[:i]])
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise UsageError(f"algorithm '{path}': '{where}' has no attribute '{part}'.{suggest(part, names)}")
        obj = getattr(obj, part)
    return obj


def describe_error(exc: BaseException) -> str:
    """An exception as one line, with the innermost place in the user's code it came from."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip().replace("\n", " ")
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "importlib" not in f.filename]
    return f"{text} (at {frames[-1].filename}:{frames[-1].lineno})" if frames else text


def arm_from_object(name: str, obj: Any, origin: str, registered: Iterable[Arm]) -> Arm:
    """The Arm for ``obj`` (see the module docstring), called ``name``."""
    if isinstance(obj, Arm):
        return replace(obj, name=name, origin=origin)
    for arm in registered:
        if arm.target is not None and arm.target is obj:
            return replace(arm, name=name, base=arm.files, origin=f"{origin}: the registered arm {arm.name}")
    if not inspect.isclass(obj):
        raise UsageError(f"algorithm '{name}' ({origin}) is {_kind(obj)}, not an agent: {CONTRACT}")
    if issubclass(obj, BaseAlgorithm):
        return sb3_arm(name, obj, origin)
    return contract_arm(name, obj, origin)


def _kind(obj: Any) -> str:
    if inspect.isfunction(obj):
        return f"a function ({obj.__qualname__})"
    if inspect.ismodule(obj):
        return f"a module ({obj.__name__})"
    return f"a {type(obj).__name__} object"


def contract_arm(name: str, cls: type, origin: str) -> Arm:
    """An Arm for a class with the agent contract and a dataclass Config; UsageError naming what is off."""
    missing = missing_methods(cls)
    config = getattr(cls, "Config", None)
    if config is None:
        missing.insert(0, "Config")
    if missing:
        raise UsageError(
            f"algorithm '{name}' ({origin}): {cls.__qualname__} is not an agent: it has no "
            f"{', '.join(missing)}; {CONTRACT}"
        )
    if not (inspect.isclass(config) and dataclasses.is_dataclass(config)):
        raise UsageError(
            f"algorithm '{name}': {cls.__qualname__}.Config is not a dataclass ({config!r}); its fields are the "
            "hyperparameters: decorate it with @dataclasses.dataclass and give every field a default"
        )
    if not load_is_classmethod(cls):
        raise UsageError(
            f"algorithm '{name}': {cls.__qualname__}.load must be a classmethod load(path, env, device) "
            "(enjoy and record call it on the class)"
        )
    check_schema(config, f"algorithm '{name}': {cls.__qualname__}.Config")
    try:
        inspect.signature(cls).bind(None, None, None, None)
    except TypeError as exc:
        raise UsageError(
            f"algorithm '{name}': {cls.__qualname__}{inspect.signature(cls)} cannot be called as "
            f"Cls(env, config, seed, device) ({exc})"
        ) from None

    def build(env: gym.Env, config: Any, seed: int, device: str) -> Any:
        return cls(env, config, seed, device)

    def load(path: Path, env: gym.Env, device: str) -> Any:
        return cls.load(path, env, device)  # type: ignore[attr-defined]  # checked above

    return Arm(
        name,
        _summary(cls),
        config,
        None,
        build,
        distribution_of(cls.__module__),
        load,
        target=cls,
        agent_cls=cls,
        code_module=code_module_of(cls.__module__),
        origin=origin,
    )


def sb3_arm(name: str, algo_cls: type[BaseAlgorithm], origin: str) -> Arm:
    """An Arm for any SB3 algorithm class, through the SB3 adapter, its constructor's keywords as config."""
    return Arm(
        name,
        f"{_summary(algo_cls)} (SB3 algorithm {algo_cls.__module__}:{algo_cls.__qualname__})",
        sb3.derived_config(algo_cls),
        None,
        sb3.builder(algo_cls, sb3.derived_kwargs),
        distribution_of(algo_cls.__module__),
        sb3.loader(algo_cls, sb3.derived_config(algo_cls), sb3.derived_kwargs),
        target=algo_cls,
        agent_cls=sb3.SB3Agent,
        code_module=code_module_of(algo_cls.__module__),
        origin=origin,
    )


def _summary(cls: type) -> str:
    """The first line of the class's docstring, or its qualified name."""
    doc = inspect.getdoc(cls)
    line = doc.strip().splitlines()[0].rstrip(".") if doc and doc.strip() else ""
    return line or cls.__qualname__


@cache
def _distributions() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


def distribution_of(module: str) -> str:
    """The installed distribution that provides ``module`` (its top-level package), else the module's name."""
    names = _distributions().get(module.partition(".")[0])
    return names[0] if names else module


def code_module_of(module: str) -> str:
    """What counts as an agent's code: its top-level package when it is one (all its modules),
    else its module alone (a single file such as examples/cleanrl_td3.py)."""
    top = module.partition(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return module
    if spec is None or spec.submodule_search_locations is None or spec.origin in (None, "namespace"):
        return module
    return top
