"""How each probe measures what an agent learned: its critic's values (``q_value``) or its
deterministic actions (``predict``) at chosen observations, against the env's closed-form answer
(``harness.run.probe_envs``), as an ``Outcome`` with the expected and measured values in words and
the likely cause of a failure."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

#: A value passes within TOLERANCE * max(1, |expected|) of its answer; an action within
#: ACTION_TOLERANCE of the width of its bounds.
TOLERANCE = 0.2
ACTION_TOLERANCE = 0.1


@dataclass(frozen=True)
class Outcome:
    """What a probe measured: ``expected`` and ``measured`` in words, and the likely cause if it failed."""

    passed: bool
    expected: str
    measured: str
    cause: str = ""


#: (agent, the probe's env, the gamma the agent learns with) -> Outcome
Measure = Callable[[Any, Any, float], Outcome]


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def _close(measured: float, expected: float) -> bool:
    return abs(measured - expected) <= TOLERANCE * max(1.0, abs(expected))


def _values(agent: Any, observations: Sequence[np.ndarray], space: gym.spaces.Box) -> list[float]:
    """The critic's value at each observation, averaged over five actions spread across the bounds
    (the value probes' rewards do not depend on the action)."""
    grid = np.linspace(0.1, 0.9, 5)[:, None] * (space.high - space.low) + space.low
    out = []
    for obs in observations:
        q = agent.q_value(np.repeat(obs[None, :], len(grid), axis=0), grid.astype(np.float32))
        out.append(float(np.mean(np.asarray(q, dtype=np.float64))))
    return out


def value_measure(cause: str) -> Measure:
    """Q at each of the env's observations against ``env.value(obs, gamma)``."""

    def measure(agent: Any, env: Any, gamma: float) -> Outcome:
        observations = getattr(env, "OBSERVATIONS", None) or (env.OBS,)
        expected = [env.value(obs, gamma) for obs in observations]
        measured = _values(agent, observations, env.action_space)
        where = [f"s = {float(obs[0]):g}" for obs in observations]
        ok = all(_close(m, e) for m, e in zip(measured, expected, strict=True))
        return Outcome(
            ok,
            "Q " + ", ".join(f"{_fmt(e)} at {w}" for e, w in zip(expected, where, strict=True)),
            ", ".join(_fmt(m) for m in measured),
            cause,
        )

    return measure


def discount_measure(agent: Any, env: Any, gamma: float) -> Outcome:
    """Q at the first and the last (terminal) step; the cause names the part that is off."""
    outcome = value_measure("")(agent, env, gamma)
    last = _values(agent, [env.SECOND], env.action_space)[0]
    if not _close(last, env.value(env.SECOND, gamma)):
        cause = "the last, terminal step's value should be its reward alone: is the terminated flag stored and applied?"
    else:
        cause = (
            "the first step's value should be gamma times the last step's: is the configured gamma used in the target?"
        )
    return dataclasses.replace(outcome, cause=cause)


def time_limit_measure(agent: Any, env: Any, gamma: float) -> Outcome:
    """Q at every phase, the last before the limit included, against REWARD / (1 - gamma)."""
    expected = env.value(env.OBSERVATIONS[0], gamma)
    measured = _values(agent, env.OBSERVATIONS, env.action_space)
    ok = all(_close(m, expected) for m in measured)
    last = measured[-1]
    if not _close(last, expected) and last < expected:
        cause = (
            f"the value at the time limit is {_fmt(last)}, expected {_fmt(expected)}: "
            "is a truncated episode stored as terminal?"
        )
    else:
        cause = "an episode that never terminates has the wrong values: does the target bootstrap with gamma?"
    return Outcome(
        ok, f"Q {_fmt(expected)} at each of {len(measured)} phases", "by phase " + ", ".join(map(_fmt, measured)), cause
    )


def action_measure(
    observations: Callable[[Any], Sequence[np.ndarray]], cause: str, tolerance: float = ACTION_TOLERANCE
) -> Measure:
    """The deterministic action at each observation against ``env.best_action(obs, gamma)``, within
    ``tolerance`` of the bounds' width."""

    def measure(agent: Any, env: Any, gamma: float) -> Outcome:
        space = env.action_space
        width = (space.high - space.low).astype(np.float64)
        points = observations(env)
        expected = [env.best_action(obs, gamma) for obs in points]
        measured = [
            np.asarray(agent.predict(obs, deterministic=True), dtype=np.float64).reshape(space.shape) for obs in points
        ]
        error = max(float(np.max(np.abs(m - e) / width)) for m, e in zip(measured, expected, strict=True))
        same = all(np.array_equal(e, expected[0]) for e in expected)
        at = "s = " + ", ".join(_vec(p, "g") for p in points)
        return Outcome(
            error <= tolerance,
            f"action {_vec(expected[0])} at {at}" if same else f"actions {_list(expected)} at {at}",
            f"{_list(measured)} (largest error {error:.0%} of the bounds' width, tolerance {tolerance:.0%})",
            cause,
        )

    return measure


def _vec(a: np.ndarray, spec: str = ".2f") -> str:
    text = [format(float(v), spec) for v in np.ravel(a)]
    return text[0] if len(text) == 1 else "(" + ", ".join(text) + ")"


def _list(actions: Sequence[np.ndarray]) -> str:
    return ", ".join(_vec(a) for a in actions)


def invests_measure(agent: Any, env: Any, gamma: float) -> Outcome:
    """The deterministic action at the last phase before the limit (after three earlier investments)
    against the best one and the one of an agent whose returns end at the limit: nearer the best passes."""
    points = [np.array([env.PHASES[-1], y], np.float32) for y in (-0.5, 0.0, 0.5)]
    best, cut = float(env.best_action(points[0], gamma)[0]), env.cut_action()
    measured = [float(np.ravel(agent.predict(obs, deterministic=True))[0]) for obs in points]
    return Outcome(
        all(a > (best + cut) / 2 for a in measured),
        f"action {best:.2f} at the last phase, s = {', '.join(_vec(p, 'g') for p in points)} "
        f"(returns cut at the limit: {cut:.2f}; passes above {(best + cut) / 2:.2f})",
        ", ".join(map(_fmt, measured)),
        "it invests as if nothing came after the time limit: is a truncated episode stored as terminal?",
    )
