"""The agents every study compares: the contract (``base``), adapters for Stable-Baselines3 and
sb3-contrib (``sb3``) and the random floor (``random_policy``), and here the registry of arms.
Adding an arm is one entry here; the runner has no per-arm branches."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import sb3_contrib
import stable_baselines3

from custom_td3 import TD3, TD3Config
from harness.agents import sb3
from harness.agents.base import Agent, StepCallback
from harness.agents.random_policy import RandomConfig, build_random, load_random
from harness.config.schema import build_config
from harness.config.variants import VARIANTS_FILE, Variant, load_variants
from harness.errors import ConfigError, UsageError, suggest


@dataclass(frozen=True)
class Arm:
    """One algorithm as the harness knows it.

    ``config_cls`` is its typed hyperparameter dataclass; ``zoo_algo`` names the rl-zoo3 file
    whose tuned values seed its defaults (None: only the library defaults and hyperparams/);
    ``build(env, config, seed, device)`` returns a ready Agent; ``library`` is the distribution
    whose defaults the config mirrors (its version is recorded as a hyperparameter source).
    A variant (hyperparams/variants.yml) is another arm's everything, with ``base`` naming that arm
    (whose hyperparameter files and search space apply) and ``preset`` the values it sets.
    """

    name: str
    description: str
    config_cls: type
    zoo_algo: str | None
    build: Callable[[gym.Env, Any, int, str], Agent]
    library: str
    load: Callable[[Path, gym.Env, str], Agent]  # a saved model (run_dir/model.*) ready to act
    sets_budget: bool = True  # False: the arm takes the env's budget from the others (a baseline)
    base: str | None = None  # a variant's arm
    preset: Mapping[str, Any] = field(default_factory=dict)  # a variant's settings

    @property
    def files(self) -> str:
        """The name under which hyperparams/ holds this arm's files (a variant uses its arm's)."""
        return self.base or self.name


def build_our_td3(env: gym.Env, config: TD3Config, seed: int, device: str) -> TD3:
    """Our TD3 already speaks the Agent contract; the adapter is only this constructor call."""
    return TD3(env, config, seed=seed, device=device)


def load_our_td3(path: Path, env: gym.Env, device: str) -> TD3:
    return TD3.load(path, env, device)


ARMS: dict[str, Arm] = {
    arm.name: arm
    for arm in (
        Arm("td3", "Our TD3 (custom_td3)", TD3Config, "td3", build_our_td3, "td3-harness", load_our_td3),
        Arm(
            "sb3-td3",
            "Stable-Baselines3 TD3",
            sb3.SB3TD3Config,
            "td3",
            sb3.builder(stable_baselines3.TD3),
            "stable-baselines3",
            sb3.loader(stable_baselines3.TD3),
        ),
        Arm(
            "sb3-ddpg",
            "Stable-Baselines3 DDPG",
            sb3.SB3DDPGConfig,
            "ddpg",
            sb3.builder(stable_baselines3.DDPG),
            "stable-baselines3",
            sb3.loader(stable_baselines3.DDPG),
        ),
        Arm(
            "sb3-sac",
            "Stable-Baselines3 SAC",
            sb3.SB3SACConfig,
            "sac",
            sb3.builder(stable_baselines3.SAC),
            "stable-baselines3",
            sb3.loader(stable_baselines3.SAC),
        ),
        Arm(
            "sb3-tqc",
            "sb3-contrib TQC",
            sb3.SB3TQCConfig,
            "tqc",
            sb3.builder(sb3_contrib.TQC),
            "sb3-contrib",
            sb3.loader(sb3_contrib.TQC),
        ),
        Arm(
            "sb3-crossq",
            "sb3-contrib CrossQ",
            sb3.SB3CrossQConfig,
            "crossq",
            sb3.builder(sb3_contrib.CrossQ),
            "sb3-contrib",
            sb3.loader(sb3_contrib.CrossQ),
        ),
        Arm(
            "random",
            "Uniform random policy (the floor)",
            RandomConfig,
            None,
            build_random,
            "td3-harness",
            load_random,
            sets_budget=False,
        ),
    )
}


def variant_arm(variant: Variant) -> Arm:
    """The Arm of a variant: its arm with the variant's name, description and settings (checked)."""
    where = f"{VARIANTS_FILE} [{variant.name}]"
    base = ARMS.get(variant.arm)
    if base is None or base.base is not None:
        raise ConfigError(
            f"{where}: arm '{variant.arm}' is not a registered arm.{suggest(variant.arm, ARMS)} "
            f"Accepted: {', '.join(ARMS)}"
        )
    build_config(base.config_cls, variant.settings, f"{where} [set]")
    settings = ", ".join(f"{k}={v}" for k, v in variant.settings.items())
    return replace(
        base,
        name=variant.name,
        description=variant.description or f"{base.description}, {settings}",
        base=base.name,
        preset=dict(variant.settings),
    )


def _variants() -> dict[str, Variant]:
    """hyperparams/variants.yml, refusing a variant that takes a registered arm's name."""
    variants = load_variants()
    for name in variants:
        if name in ARMS:
            raise ConfigError(f"{VARIANTS_FILE} [{name}]: '{name}' is a registered arm; give the variant another name")
    return variants


def known_arms() -> dict[str, Arm]:
    """The registered arms and the variants of hyperparams/variants.yml, by name."""
    return {**ARMS, **{name: variant_arm(v) for name, v in _variants().items()}}


def get_arm(name: str) -> Arm:
    """The arm or variant called ``name``; UsageError listing the known ones otherwise."""
    variants = _variants()
    if name in ARMS:
        return ARMS[name]
    variant = variants.get(name)
    if variant is not None:
        return variant_arm(variant)
    known = known_arms()
    raise UsageError(f"unknown algorithm '{name}'.{suggest(name, known)} Known: {', '.join(known)}")


__all__ = ["ARMS", "Agent", "Arm", "StepCallback", "get_arm", "known_arms"]
