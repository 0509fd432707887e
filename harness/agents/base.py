"""The agent contract: what the runner needs from every arm, and nothing else.

Required of every agent: ``learn``, ``predict``, ``num_timesteps``, ``save`` and, on its class, a
``load(path, env, device)``. Optional capabilities are detected on the class (a method, a
property, an attribute or a class-level annotation such as ``num_updates: int``) and stated in
the plan; the runner asks ``Capabilities`` what an agent offers, never which arm it is:

- ``num_updates``: gradient updates so far (evals.csv and the report show them; else blank),
- ``state_dict``/``load_state_dict``: checkpoints, so a crashed run resumes (else it restarts from zero),
- ``at_episode_boundary``: when a checkpoint resumes exactly (else any step is taken as one),
- ``diagnose``: the cause of a divergence (else only a FloatingPointError from ``learn`` counts),
- ``set_precision(precision)``: run its gradient updates at ``"fp32"`` or ``"bf16"`` (harness.agents.precision:
  bf16 matrix products under autocast, fp32 weights, optimizer state and losses; acting stays fp32),
- ``group_of(agents)`` (a class- or staticmethod): several seeds' agents trained by one process (``SeedGroup``;
  ``SEED_GROUPS=K``); each member keeps its own run directory, evaluations and checkpoints.

An agent whose restored state does not continue bit for bit (SB3's: it saves no env state) says so
with a class attribute ``resumes_exactly = False``; check-agent then checks that it continues. An
agent whose deterministic policy never changes as it trains (the random floor) says so with
``learns = False``: it is evaluated once, and that evaluation is recorded at every step of the schedule.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np

#: Called after every environment step with the agent's total env steps so far;
#: returning False stops training.
StepCallback = Callable[[int], bool]

#: What every agent must have: methods (``load`` a class- or static method) and the step counter.
REQUIRED_METHODS = ("learn", "predict", "save", "load")
REQUIRED_ATTRIBUTES = ("num_timesteps",)
#: The optional capabilities, with what their absence means for a run (stated in the plan).
OPTIONAL = {
    "num_updates": "gradient updates are not counted",
    "state_dict": "not checkpointed: a crashed run restarts from zero",
    "at_episode_boundary": "checkpoints are taken at any step",
    "diagnose": "divergence is seen only when learn() raises FloatingPointError",
    "set_precision": "its updates run in fp32 only (it cannot join a PRECISION=bf16 study)",
    "group_of": "one seed per process (SEED_GROUPS does not group its runs)",
}


class Agent(Protocol):
    """One arm's learner, as the harness drives it (the required part of the contract)."""

    @property
    def num_timesteps(self) -> int:
        """Environment steps taken so far."""

    def learn(self, total_steps: int, callback: StepCallback) -> object:
        """Train until ``num_timesteps == total_steps`` (or the callback returns False); what it
        returns is ignored (SB3 and our TD3 return the agent). A later call with a larger total
        continues where this one stopped.

        An agent that detects divergence itself raises FloatingPointError (custom_td3's
        TrainingDiverged is one): the run is then recorded as diverged, with the message as its cause.
        """

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Action for one unbatched observation, within the env's action bounds; ``obs`` is left unchanged."""

    def save(self, path: Path) -> Path:
        """Write the policy (enough to act) under ``path`` (suffix chosen by the arm); return the file."""


class Checkpointable(Protocol):
    """The optional capabilities (see the module docstring)."""

    @property
    def num_updates(self) -> int:
        """Gradient updates (critic steps) taken so far."""

    @property
    def at_episode_boundary(self) -> bool:
        """Whether a checkpoint taken now resumes exactly (the runner waits for it when it can)."""

    def diagnose(self) -> str | None:
        """None while losses and parameters are finite; otherwise the cause, for status 'diverged'."""

    def state_dict(self) -> dict[str, Any]:
        """The whole training state, loadable with ``torch.load(weights_only=True)``: tensors, numpy
        arrays, plain Python data (networks, optimizers, replay buffer, RNGs, counters)."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a ``state_dict()``; the next ``learn`` picks up where it stopped."""


class SeedGroup(Protocol):
    """What ``AgentClass.group_of(agents)`` returns: the agents (each an ordinary Agent, built and seeded
    exactly as when it runs alone) trained together, e.g. by one batched update (custom_td3's TD3Group)."""

    def learn(self, total_steps: int, callback: Callable[[int, int], bool]) -> object:
        """Train every member until its ``num_timesteps == total_steps``. ``callback(k, num_timesteps)``
        runs after each env step of member k (its position in ``agents``), every step once and in order;
        returning False stops member k for this call while the others go on. A member may end early only
        by diverging: then ``diverged`` (optional, {position: cause}) names it."""


def _offers(cls: type, name: str) -> bool:
    """Whether instances of ``cls`` have ``name``: a class attribute, method or property, or a
    class-level annotation (``num_updates: int``) for a counter set in ``__init__``."""
    return hasattr(cls, name) or any(name in getattr(k, "__annotations__", {}) for k in cls.__mro__)


def missing_methods(cls: type) -> list[str]:
    """The required methods ``cls`` lacks (empty for an agent class). ``num_timesteps``, often set in
    ``__init__``, is checked on an instance (check-agent)."""
    return [n for n in REQUIRED_METHODS if not _offers(cls, n)]


def load_is_classmethod(cls: type) -> bool:
    """``load`` can be called on the class (a classmethod or staticmethod), as enjoy/record do."""
    return isinstance(inspect.getattr_static(cls, "load", None), (classmethod, staticmethod))


@dataclass(frozen=True)
class Capabilities:
    """The optional capabilities one agent class offers."""

    num_updates: bool = True
    checkpoints: bool = True  # state_dict and load_state_dict
    at_episode_boundary: bool = True
    diagnose: bool = True
    learns: bool = True  # False: the deterministic policy never changes (evaluated once)
    precision: bool = True  # set_precision: its updates can run in bf16
    groups: bool = False  # group_of: several seeds trained by one process (SEED_GROUPS)

    @classmethod
    def of(cls, agent_cls: type) -> Capabilities:
        return cls(
            num_updates=_offers(agent_cls, "num_updates"),
            checkpoints=_offers(agent_cls, "state_dict") and _offers(agent_cls, "load_state_dict"),
            at_episode_boundary=_offers(agent_cls, "at_episode_boundary"),
            diagnose=_offers(agent_cls, "diagnose"),
            learns=bool(getattr(agent_cls, "learns", True)),
            precision=_offers(agent_cls, "set_precision"),
            groups=_offers(agent_cls, "group_of"),
        )

    def lacking(self) -> list[str]:
        """'name (what that means)' for every capability missing."""
        flags = {
            "num_updates": self.num_updates,
            "state_dict": self.checkpoints,
            "at_episode_boundary": self.at_episode_boundary,
            "diagnose": self.diagnose,
            "set_precision": self.precision,
        }
        return [f"{name} ({OPTIONAL[name]})" for name, offered in flags.items() if not offered]

    def describe(self) -> str:
        lacking = self.lacking()
        text = "all optional capabilities" if not lacking else "lacks " + "; ".join(lacking)
        return text + ("; does not learn (learns = False): evaluated once" if not self.learns else "")

    # What the runner asks of an agent, whatever its arm.
    def updates(self, agent: Any) -> int | None:
        return int(agent.num_updates) if self.num_updates else None

    def boundary(self, agent: Any) -> bool:
        return bool(agent.at_episode_boundary) if self.at_episode_boundary else True

    def diagnosis(self, agent: Any) -> str | None:
        return agent.diagnose() if self.diagnose else None

    def grouped(self, agents: list[Any]) -> SeedGroup:
        """The seed group of ``agents`` (each built as alone): their class's ``group_of(agents)``."""
        if not self.groups:
            raise TypeError(f"{type(agents[0]).__name__} has no group_of")
        return cast(SeedGroup, type(agents[0]).group_of(agents))

    def checkpointable(self, agent: Any) -> Checkpointable:
        """``agent`` as one with ``state_dict``/``load_state_dict`` (asked of agents that offer them)."""
        if not self.checkpoints:
            raise TypeError(f"{type(agent).__name__} has no state_dict/load_state_dict")
        return cast(Checkpointable, agent)


# Optional capabilities beyond the Protocol, detected with getattr (an arm without them still runs):
#   q_value(observations (N, obs_dim), actions (N, act_dim), env units) -> (N,) np.ndarray
#       the critic's estimate Q(s, a): the harness compares it with observed returns at every
#       evaluation (harness.run.values); ``critic_estimate``, a string, says what it estimates.
#   set_logger(logger) -> None
#       training scalars go to ``logger.record(tag, value, env_step)`` once every ``logger.every``
#       gradient updates, under the tags of harness.run.tblog.TAGS.
