"""What one run is: its budget and its frozen, hashable spec (arm, env, seed, hyperparameters).

A run's identity (``RunSpec.identity``) is what determines its results; its hash names the run
in meta.json, so a repeated command knows a finished run from a changed one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import env_name
from harness.config.schema import as_plain
from harness.config.seeds import EVAL_SEED
from harness.run.record import RunRecord


@dataclass(frozen=True)
class Budget:
    """Env steps per run and the evaluation schedule; identical for every arm on an env."""

    preset: str
    total_steps: int
    full_steps: int
    eval_freq: int
    eval_episodes: int

    @property
    def learning_starts_scale(self) -> float:
        """Factor applied to every arm's learning_starts so short budgets still train."""
        return min(1.0, self.total_steps / self.full_steps)

    def eval_steps(self) -> list[int]:
        """Env steps at which the harness evaluates: 0, E, 2E, ..., and the final step."""
        steps = list(range(0, self.total_steps, self.eval_freq))
        return [*steps, self.total_steps]


@dataclass(frozen=True)
class RunSpec:
    """One run: frozen and hashable. ``config`` is the arm's typed config exactly as used."""

    study: str
    arm: str
    env_id: str
    seed: int
    budget: Budget
    config: Any
    hp_sources: tuple[str, ...]
    learning_starts_configured: int
    device: str
    eval_seed: int = EVAL_SEED
    #: The fp32 matmul backend (harness.run.matmul): one per study, recorded, not part of the identity
    #: (like the thread count, it changes the last bits of results, not what the run is).
    matmul_backend: str = "default"
    #: Write TensorBoard event files into the run directory (harness.run.tblog); not part of the identity.
    tensorboard: bool = True
    #: Where the agent's code came from (harness.run.provenance.agent_code); its ``identity`` is part
    #: of the run's: changed agent code is a changed run.
    agent_code: Mapping[str, Any] = field(default_factory=dict, compare=False)
    #: With HP=tuned: how the seeds and evaluation episodes the tuned values were selected on overlap
    #: this run's (None: apart, or no tuned values); recorded and reported, not part of the identity.
    tuning_overlap: str | None = field(default=None, compare=False)
    #: Episodes of each evaluation the value measure records (run past the time limit, harness.run.values);
    #: 0 turns it off. It changes no score, so it is not part of the identity.
    value_episodes: int = field(default=3, compare=False)
    #: The arithmetic of the gradient updates (harness.agents.precision): one per study, recorded, not part
    #: of the identity (like the matmul backend: a study never mixes them).
    precision: str = field(default="fp32", compare=False)
    #: The published algorithm the arm runs, for the report's published references: ``{"name": rl-zoo3's
    #: name (td3), "library": the distribution whose code runs it, "settings": a variant's switches}``;
    #: empty for an arm without one. Recorded in meta.json, not part of the identity.
    algorithm: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """``<arm>/<env>_<seed>``: the run's directory inside its study."""
        return f"{self.arm}/{env_name(self.env_id)}_{self.seed}"

    def run_dir(self, results_root: Path) -> Path:
        return Path(results_root) / self.study / self.key

    def identity(self) -> dict[str, Any]:
        """Everything that determines the run's results (not the study name, not threads)."""
        return {
            "arm": self.arm,
            "env_id": self.env_id,
            "seed": self.seed,
            "budget": dataclasses.asdict(self.budget),
            "hyperparameters": as_plain(self.config),
            "device": self.device,
            "eval_seed": self.eval_seed,
            "agent_code": self.agent_code.get("identity"),
        }

    def spec_hash(self) -> str:
        return _hash(self.identity())

    def matches(self, meta: RunRecord | None) -> bool:
        """Whether ``meta`` (a run directory's record) records this same run.

        A run recorded before a hyperparameter existed ran with that hyperparameter's default
        (a new option never changes what its default does), so keys missing from the record
        take the config's defaults: adding an option to an arm keeps its finished runs valid
        and its unfinished ones resumable. Runs recorded before the agent's code was part of the
        identity are taken to have run this code.
        """
        if meta is None:
            return False
        if meta.spec_hash == self.spec_hash():
            return True
        recorded = self._recorded(meta)
        return recorded is not None and _hash(recorded) == self.spec_hash()

    def _recorded(self, meta: RunRecord) -> dict[str, Any] | None:
        """The identity ``meta`` records, completed as ``matches`` explains; None if it has none."""
        recorded = meta.spec
        if not isinstance(recorded, dict) or not isinstance(recorded.get("hyperparameters"), dict):
            return None
        identity = {key: recorded.get(key) for key in self.identity()}
        identity["hyperparameters"] = {**as_plain(type(self.config)()), **recorded["hyperparameters"]}
        if "agent_code" not in recorded:
            identity["agent_code"] = self.agent_code.get("identity")
        return identity

    def differences(self, meta: RunRecord | None) -> list[str]:
        """What differs between this run and the one ``meta`` records, in words: 'agent code
        (source 1a2b... -> 3c4d...)', 'hyperparameters (gamma)', 'budget'...; empty if it matches."""
        recorded = self._recorded(meta) if meta is not None else None
        if recorded is None:
            return ["no readable spec"] if meta is not None else []
        mine, out = self.identity(), []
        for key, value in mine.items():
            if _hash(recorded[key]) == _hash(value):
                continue
            if key == "agent_code":
                out.append(f"agent code ({recorded[key]} -> {value})")
            elif key == "hyperparameters":
                changed = sorted(k for k in {*value, *recorded[key]} if value.get(k) != recorded[key].get(k))
                out.append(f"hyperparameters ({', '.join(changed)})")
            else:
                out.append(key.replace("_", " "))
        return out


def _hash(identity: dict[str, Any]) -> str:
    blob = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
