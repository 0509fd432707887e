"""What the harness knows of one arm: the ``Arm`` record every stage reads, whether the arm is
registered here, a variant, named by import path or installed under an entry point."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

from harness.agents.base import Agent, Capabilities


@dataclass(frozen=True)
class Arm:
    """One algorithm as the harness knows it.

    ``config_cls`` is its typed hyperparameter dataclass; ``zoo_algo`` names the rl-zoo3 file
    whose tuned values seed its defaults (None: only the config's defaults and hyperparams/);
    ``build(env, config, seed, device)`` returns a ready Agent; ``library`` is the distribution
    whose defaults the config mirrors (its version is recorded as a hyperparameter source).
    A variant (hyperparams/variants.yml) is another arm's everything, with ``base`` naming that arm
    (whose hyperparameter files and search space apply) and ``preset`` the values it sets; an
    import path naming a registered arm's class (``custom_td3:TD3``) is that arm under the path's name.

    ``target`` is the object the arm stands for (the class an import path names), ``agent_cls``
    the class ``build`` returns (its optional capabilities are read from it), ``code_module`` the
    module or package whose code is the arm's (part of each run's identity: harness.run.provenance),
    and ``origin`` says how the arm was found.
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
    target: Any = None
    agent_cls: type | None = None
    code_module: str = ""
    origin: str = "registered in harness.agents"

    @property
    def files(self) -> str:
        """The name under which hyperparams/ holds this arm's files (a variant uses its arm's)."""
        return self.base or self.name

    @property
    def algorithm(self) -> dict[str, Any]:
        """The published algorithm this arm runs, recorded with each run for the report's published
        references: rl-zoo3's name (``zoo_algo``), the library whose code runs it, and a variant's
        settings; empty for an arm without a zoo name (a user's agent, the random baseline)."""
        if self.zoo_algo is None:
            return {}
        return {
            "name": self.zoo_algo,
            "library": self.library,
            **({"settings": dict(self.preset)} if self.preset else {}),
        }

    @property
    def capabilities(self) -> Capabilities:
        """The optional parts of the contract its agents offer."""
        return Capabilities.of(self.agent_cls) if self.agent_cls is not None else Capabilities()
