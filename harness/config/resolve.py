"""Resolve the hyperparameters of one arm on one env, from layered sources.

Layers, later ones winning:
1. the arm's library defaults (its config dataclass),
2. rl-zoo3's tuned entry for the env, read from the installed package; for envs the zoo does
   not list, the ``defaults`` section of ``hyperparams/<arm>.yml``,
3. ``hyperparams/<arm>.yml``: its ``all`` section (every env), then the env's own entry
   (project overrides, plain YAML data); a variant reads its arm's file, then takes its ``set``
   from ``hyperparams/variants.yml``,
4. with ``tuned=True``, the best values of a tuning study, ``<tuned_dir>/<arm>/<env>.yml``
   (``hyperparams/tuned/`` unless told another; ``harness.config.tuned``),
5. user files (``--hp-file``), each ``{arm or "all": {env id or "all": {key: value}}}`` (a
   variant takes its arm's sections, then its own),
6. ``--hp key=value`` on the command line (every arm).

``n_timesteps`` (the env's full budget) may be set at any layer but the first; everything else must
be a field of the arm's config. An arm without rl-zoo3 values (one named by import path) starts from
its config's defaults alone and may leave ``n_timesteps`` unset: it then takes the env's budget from
the other arms of its study (``harness.study.spec``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from harness.config import HYPERPARAMS_DIR, env_name, yamlio, zoo
from harness.config import tuned as tuned_file
from harness.config.schema import build_config
from harness.errors import ConfigError


class ArmInfo(Protocol):
    """What resolving needs to know of an arm (``harness.agents.Arm`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def config_cls(self) -> type: ...

    @property
    def zoo_algo(self) -> str | None: ...

    @property
    def library(self) -> str: ...

    @property
    def files(self) -> str: ...

    @property
    def preset(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Resolved:
    """An arm's configuration for one env, with where each layer came from."""

    config: Any
    n_timesteps: int | None  # None: no source sets the env's full budget (an arm without rl-zoo3 values or a file)
    sources: tuple[str, ...]
    tuned: tuned_file.Tuned | None = None  # the tuned values applied (layer 4), with their provenance


def _section(data: Any, key: str, where: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, Mapping) else None
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} [{key}]: expected a mapping of hyperparameters, got {type(value).__name__}")
    return dict(value)


def _apply(
    arm: ArmInfo, config: Any, values: dict[str, Any], where: str, n_timesteps: int | None
) -> tuple[Any, int | None]:
    values = dict(values)
    if "n_timesteps" in values:
        n = values.pop("n_timesteps")
        if isinstance(n, bool) or not isinstance(n, (int, float)) or n < 1 or not float(n).is_integer():
            raise ConfigError(f"{where}: n_timesteps = {n!r}; accepted: a positive integer")
        n_timesteps = int(n)
    return build_config(arm.config_cls, values, where, base=config), n_timesteps


def project_file(arm: ArmInfo, hp_dir: Path = HYPERPARAMS_DIR) -> Path:
    return hp_dir / f"{arm.files}.yml"


def resolve(
    arm: ArmInfo,
    env_id: str,
    hp_files: Sequence[Path] = (),
    overrides: Mapping[str, Any] | None = None,
    hp_dir: Path = HYPERPARAMS_DIR,
    tuned: bool = False,
    tuned_dir: Path | None = None,
) -> Resolved:
    """The arm's typed config for ``env_id`` and its full budget ``n_timesteps``; with ``tuned``, the
    values in ``tuned_dir`` (default ``<hp_dir>/tuned``) apply at layer 4."""
    name = env_name(env_id)
    sources = [f"{arm.description} defaults ({_library_version(arm)})"]
    config, n_timesteps = arm.config_cls(), None
    applied: tuned_file.Tuned | None = None

    path = project_file(arm, hp_dir)
    project = yamlio.load_file(path) if path.exists() else {}
    if project is not None and not isinstance(project, Mapping):
        raise ConfigError(f"{path}: expected a mapping of env ids to hyperparameters")
    project = project or {}

    entry = zoo.lookup(arm.zoo_algo, env_id) if arm.zoo_algo else None
    if entry is not None:
        where = f"{entry.source} [{entry.label or name}]"
        config, n_timesteps = _apply(arm, config, entry.values, where, entry.n_timesteps)
        sources.append(where)
    else:
        defaults = _section(project, "defaults", str(path))
        if defaults:
            where = f"{_rel(path)} [defaults]"
            config, n_timesteps = _apply(arm, config, defaults, where, None)
            sources.append(where)
        elif arm.zoo_algo:
            raise ConfigError(f"{path}: env {name} is not in rl-zoo3 and the file has no 'defaults' section")

    for key in ("all", name):
        own = _section(project, key, str(path))
        if own:
            where = f"{_rel(path)} [{key}]"
            config, n_timesteps = _apply(arm, config, own, where, n_timesteps)
            sources.append(where)

    if arm.preset:
        where = f"hyperparams/variants.yml [{arm.name}]"
        config, n_timesteps = _apply(arm, config, dict(arm.preset), where, n_timesteps)
        sources.append(where)

    if tuned:
        path = tuned_file.path_for(tuned_dir or hp_dir / "tuned", arm.name, env_id)
        if not path.exists():
            raise ConfigError(
                f"no tuned hyperparameters for {arm.name} on {name} (expected {_rel(path)}); "
                f"run `make tune ENV={name} ALGO={arm.name} PROMOTE=1` first, or point at another "
                "tuned directory with --tuned-dir (make ... TUNED=dir)"
            )
        found = tuned_file.load(path, HYPERPARAMS_DIR.parent / "results")
        applied = found
        config, n_timesteps = _apply(arm, config, found.hyperparameters, f"{_rel(path)} [hyperparameters]", n_timesteps)
        sources.append(f"{_rel(path)} (tuned: {found.describe()})")

    for file in hp_files:
        data = yamlio.load_file(file)
        if not isinstance(data, Mapping):
            raise ConfigError(f"{file}: expected {{arm or 'all': {{env id or 'all': {{key: value}}}}}}")
        for arm_key in dict.fromkeys(("all", arm.files, arm.name)):
            per_arm = _section(data, arm_key, str(file))
            for env_key in ("all", name):
                values = _section(per_arm, env_key, f"{file} [{arm_key}]")
                if values:
                    where = f"{file} [{arm_key}][{env_key}]"
                    config, n_timesteps = _apply(arm, config, values, where, n_timesteps)
                    sources.append(where)

    if overrides:
        config, n_timesteps = _apply(arm, config, dict(overrides), "--hp", n_timesteps)
        sources.append("--hp " + " ".join(f"{k}={v}" for k, v in overrides.items()))

    if n_timesteps is None and arm.zoo_algo:
        raise ConfigError(f"{path}: no n_timesteps for env {name} in any source")
    return Resolved(config, n_timesteps, tuple(sources), applied)


def parse_override(text: str) -> tuple[str, Any]:
    """``'net_arch=[64, 64]'`` -> ``('net_arch', [64, 64])`` (the value is read as YAML)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--hp {text!r}: expected KEY=VALUE, e.g. --hp net_arch=[64,64]")
    return key.strip(), yamlio.loads(raw, f"--hp {key}")


def _library_version(arm: ArmInfo) -> str:
    try:
        return f"{arm.library} {metadata.version(arm.library)}"
    except metadata.PackageNotFoundError:
        return arm.library


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(HYPERPARAMS_DIR.parent))
    except ValueError:
        return str(path)
