"""The agents every study compares: the contract (``base``), adapters for Stable-Baselines3 and
sb3-contrib (``sb3``) and the random floor (``random_policy``), and here the registry of arms.
Adding a built-in arm is one entry here; any other agent joins by import path or entry point
(``external``) through the same ``Arm`` record. The runner has no per-arm branches."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import gymnasium as gym
import sb3_contrib
import stable_baselines3

from custom_td3 import TD3, TD3Config
from harness.agents import external, sb3
from harness.agents.arm import Arm
from harness.agents.base import Agent, Capabilities, StepCallback
from harness.agents.random_policy import RandomAgent, RandomConfig, build_random, load_random
from harness.config.schema import build_config
from harness.config.variants import VARIANTS_FILE, Variant, load_variants
from harness.errors import ConfigError, UsageError, suggest


def build_our_td3(env: gym.Env, config: TD3Config, seed: int, device: str) -> TD3:
    """Our TD3 already speaks the Agent contract; the adapter is only this constructor call."""
    return TD3(env, config, seed=seed, device=device)


def load_our_td3(path: Path, env: gym.Env, device: str) -> TD3:
    return TD3.load(path, env, device)


ARMS: dict[str, Arm] = {
    arm.name: arm
    for arm in (
        Arm(
            "td3",
            "Our TD3 (custom_td3)",
            TD3Config,
            "td3",
            build_our_td3,
            "td3-harness",
            load_our_td3,
            target=TD3,
            agent_cls=TD3,
            code_module="custom_td3",
        ),
        Arm(
            "sb3-td3",
            "Stable-Baselines3 TD3",
            sb3.SB3TD3Config,
            "td3",
            sb3.builder(stable_baselines3.TD3),
            "stable-baselines3",
            sb3.loader(stable_baselines3.TD3, sb3.SB3TD3Config),
            target=stable_baselines3.TD3,
            agent_cls=sb3.SB3Agent,
            code_module="stable_baselines3",
        ),
        Arm(
            "sb3-ddpg",
            "Stable-Baselines3 DDPG",
            sb3.SB3DDPGConfig,
            "ddpg",
            sb3.builder(stable_baselines3.DDPG),
            "stable-baselines3",
            sb3.loader(stable_baselines3.DDPG, sb3.SB3DDPGConfig),
            target=stable_baselines3.DDPG,
            agent_cls=sb3.SB3Agent,
            code_module="stable_baselines3",
        ),
        Arm(
            "sb3-sac",
            "Stable-Baselines3 SAC",
            sb3.SB3SACConfig,
            "sac",
            sb3.builder(stable_baselines3.SAC),
            "stable-baselines3",
            sb3.loader(stable_baselines3.SAC, sb3.SB3SACConfig),
            target=stable_baselines3.SAC,
            agent_cls=sb3.SB3Agent,
            code_module="stable_baselines3",
        ),
        Arm(
            "sb3-tqc",
            "sb3-contrib TQC",
            sb3.SB3TQCConfig,
            "tqc",
            sb3.builder(sb3_contrib.TQC),
            "sb3-contrib",
            sb3.loader(sb3_contrib.TQC, sb3.SB3TQCConfig),
            target=sb3_contrib.TQC,
            agent_cls=sb3.SB3Agent,
            code_module="sb3_contrib",
        ),
        Arm(
            "sb3-crossq",
            "sb3-contrib CrossQ",
            sb3.SB3CrossQConfig,
            "crossq",
            sb3.builder(sb3_contrib.CrossQ),
            "sb3-contrib",
            sb3.loader(sb3_contrib.CrossQ, sb3.SB3CrossQConfig),
            target=sb3_contrib.CrossQ,
            agent_cls=sb3.SB3Agent,
            code_module="sb3_contrib",
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
            target=RandomAgent,
            agent_cls=RandomAgent,
            code_module="harness.agents.random_policy",
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


_EXTERNAL: dict[str, Arm] = {}


def get_arm(name: str) -> Arm:
    """The arm called ``name``: registered, a variant, an installed entry point (``td3_harness.arms``)
    or an import path ``module:Name``; UsageError listing the known ones otherwise."""
    variants = _variants()
    if name in ARMS:
        return ARMS[name]
    variant = variants.get(name)
    if variant is not None:
        return variant_arm(variant)
    if name not in _EXTERNAL:
        _EXTERNAL[name] = _external_arm(name)
    return _EXTERNAL[name]


def _external_arm(name: str) -> Arm:
    entry = external.entry_points().get(name)
    if entry is not None:
        origin = f"entry point {external.ENTRY_POINT_GROUP} {entry.name} = {entry.value}"
        try:
            obj = entry.load()
        except Exception as exc:
            raise UsageError(f"algorithm '{name}' ({origin}): cannot load it: {external.describe_error(exc)}") from None
        return external.arm_from_object(name, obj, origin, ARMS.values())
    if external.is_import_path(name):
        return external.arm_from_object(name, external.import_object(name), f"import path {name}", ARMS.values())
    known = {**known_arms(), **external.entry_points()}
    raise UsageError(
        f"unknown algorithm '{name}'.{suggest(name, known)} Known: {', '.join(known)}; "
        "or name any agent by import path, module:Class (docs/agents.md)"
    )


__all__ = ["ARMS", "Agent", "Arm", "Capabilities", "StepCallback", "get_arm", "known_arms"]
