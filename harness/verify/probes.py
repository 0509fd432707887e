"""The probe battery: does an agent's data path do what an off-policy actor-critic needs?

Each probe trains a fresh agent for 800 to 2,000 steps on one probe env (``harness.run.probe_envs``,
where each env states its answer) and compares what it learned with the closed-form answer: the
critic's value through ``q_value(observations, actions)`` for the value probes, the deterministic
action through ``predict`` for the policy probes. A failing row says the likely cause.

The probes set small settings (``PROBE_SETTINGS`` and each probe's gamma) through the keys the
agent's Config has; where it has no ``gamma`` the probe reads the agent's own and computes its
answer with it, or says why that gamma leaves nothing to check. Where the settings the probe could
not change allow no gradient update within its steps, the row says so and is skipped, not failed.

Soft-value agents (SAC, TQC, CrossQ) learn an entropy-augmented value: Q plus the discounted
entropy bonuses alpha * H of the steps after (s, a), with alpha their entropy coefficient (1 at the
start for SB3's 'auto', falling slowly) and H their policy's entropy (at most log 2 = 0.69 per action
dimension on [-1, 1]). The answers here are the plain Q's, and the probes are built so the bonus
stays inside the tolerances: where a transition is terminal or gamma is 0 there is no later step and
the answer is exact for every agent; the two probes that bootstrap (discount, time limit) pay a
reward of 10, so a bonus of up to alpha * H <= 0.69 per step moves their answers (5 and 20) by at
most 7% and 3.5%, well inside TOLERANCE (20%; measured on three seeds: +0.1 to +0.5 for SAC, TQC
and CrossQ). The policy probes read the deterministic action (the mean), which an entropy bonus
pulls towards the middle of the bounds: their rewards are steep around the best action (curvature
4 to 8 per unit of the [-1, 1] action) so the pull stays within their tolerances.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.agents import Arm
from harness.config.schema import fields_of
from harness.run import probe_envs
from harness.run.bounds import time_limit
from harness.run.runner import start_agent
from harness.verify import probe_measures as measures
from harness.verify.check import FAIL, PASS, SKIP, Check, describe_exception, no_update_reason, settings_config

#: A probe's training that has not returned after this long fails (an agent that ignores its budget, or hangs).
PROBE_LIMIT_S = 300.0

#: Set where the agent's Config has the key: a short warm-up, small nets, one update per step, and
#: fast target networks (tau) so a bootstrapped value settles within the probes' steps.
PROBE_SETTINGS: dict[str, Any] = {
    "learning_starts": 100,
    "batch_size": 64,
    "buffer_size": 10_000,
    "net_arch": [64, 64],
    "learning_rate": 1e-3,
    "tau": 0.05,
    "train_freq": 1,
    "train_freq_unit": "step",
    "gradient_steps": 1,
}


@dataclass(frozen=True)
class Probe:
    """One probe: its env, what it reads (``q_value`` or ``predict``), the gamma it sets where it can,
    its steps and how it measures. A probe whose answer depends on gamma has ``usable(gamma)``: why an
    agent's own gamma (one the probe could not set) leaves nothing to check, or None; the others
    have ``usable=None`` and run whatever the agent's gamma."""

    name: str
    env_id: str
    reads: str
    gamma: float
    steps: int
    measure: measures.Measure
    usable: Callable[[float], str | None] | None = None
    #: Said with the skip of a value probe for an agent without q_value.
    without_q_value: str = ""


def _bootstraps(gamma: float) -> str | None:
    return f"gamma {gamma:g}: a bootstrap would add almost nothing to the target" if gamma < 0.3 else None


def _short_horizon(gamma: float) -> str | None:
    if gamma > 0.8:
        value = probe_envs.TimeLimitEnv.REWARD / (1 - gamma)
        return f"gamma {gamma:g}: a value of {value:.0f} is not learned in the probe's steps"
    return _bootstraps(gamma)


def _invests(gamma: float) -> str | None:
    env = probe_envs.TimeLimitActionEnv()
    best, cut = float(env.best_action(np.zeros(env.OBS_DIM, np.float32), gamma)[0]), env.cut_action()
    if best - cut < 0.5:
        return (
            f"gamma {gamma:g}: its best action {best:.2f} is too close to {cut:.2f}, that of returns cut at the limit"
        )
    return None


PROBES: tuple[Probe, ...] = (
    Probe(
        name="probe: value of a constant reward",
        env_id="ProbeConstant-v0",
        reads="q_value",
        gamma=0.0,
        steps=800,
        measure=measures.value_measure(
            "the critic does not learn a constant target: check the value loss and that the optimizer steps the critic"
        ),
    ),
    Probe(
        name="probe: value from the observation",
        env_id="ProbeObsValue-v0",
        reads="q_value",
        gamma=0.0,
        steps=800,
        measure=measures.value_measure(
            "the critic's value does not follow its observation: is the observation fed to the critic, with its reward?"
        ),
    ),
    Probe(
        name="probe: discount over two steps",
        env_id="ProbeDiscount-v0",
        reads="q_value",
        gamma=0.5,
        steps=800,
        measure=measures.discount_measure,
        usable=_bootstraps,
    ),
    Probe(
        name="probe: bootstrap at the time limit",
        env_id="ProbeTimeLimit-v0",
        reads="q_value",
        gamma=0.5,
        steps=1000,
        measure=measures.time_limit_measure,
        usable=_short_horizon,
        without_q_value="; 'time limit, by behaviour' checks it through predict",
    ),
    Probe(
        name="probe: no bootstrap after termination",
        env_id="ProbeConstant-v0",
        reads="q_value",
        gamma=0.5,
        steps=800,
        measure=measures.value_measure(
            "a terminal transition bootstraps: is the terminated flag stored and its target r + gamma (1 - done) Q'?"
        ),
        usable=_bootstraps,
    ),
    Probe(
        name="probe: action in the env's units",
        env_id="ProbeActionScale-v0",
        reads="predict",
        gamma=0.0,
        steps=2000,
        measure=measures.action_measure(
            lambda env: [np.array([x], np.float32) for x in (-0.5, 0.0, 0.5)],
            "is the [-1, 1] action mapped to the bounds, low + (a + 1) (high - low) / 2, "
            "before env.step and in predict?",
        ),
    ),
    Probe(
        name="probe: credit on the right step",
        env_id="ProbeCredit-v0",
        reads="predict",
        gamma=0.0,
        steps=2000,
        measure=measures.action_measure(
            lambda env: [np.array([x], np.float32) for x in np.linspace(-1.0, 1.0, 9)],
            "the best action follows the step's observation: "
            "is each reward stored with the observation and action that earned it?",
            0.15,  # measured: within 9% for every built-in arm, 40% or more away with a reward on the wrong step
        ),
    ),
    Probe(
        name="probe: time limit, by behaviour",
        env_id="ProbeTimeLimitAction-v0",
        reads="predict",
        gamma=0.5,
        steps=2000,
        measure=measures.invests_measure,
        usable=_invests,
    ),
)


def probe_config(arm: Arm, probe: Probe) -> Any:
    """The arm's config for ``probe``: PROBE_SETTINGS and the probe's gamma, where its Config has them."""
    return settings_config(arm, {**PROBE_SETTINGS, "gamma": probe.gamma}, f"probe settings ({probe.env_id})")


def agent_gamma(config: Any, agent: Any) -> float | None:
    """The discount the agent learns with: its Config's ``gamma``, else an attribute ``gamma`` of the
    agent; None when neither says."""
    for holder in (config, agent):
        gamma = getattr(holder, "gamma", None)
        if isinstance(gamma, (int, float)) and not isinstance(gamma, bool):
            return float(gamma)
    return None


def run_probe(arm: Arm, probe: Probe, seed: int = 0, device: str = "cpu") -> Check:
    """Train a fresh agent on the probe's env for its steps and measure; one row."""
    config = probe_config(arm, probe)
    blocked = no_update_reason(config, probe.steps)
    if blocked is not None:
        return Check(probe.name, SKIP, f"{blocked} of the probe: no update within the probe's steps")
    env, agent = start_agent(arm, probe.env_id, config, seed, device)
    try:
        if probe.reads == "q_value" and not callable(getattr(agent, "q_value", None)):
            return Check(probe.name, SKIP, f"no q_value: the agent's values cannot be read{probe.without_q_value}")
        gamma = agent_gamma(config, agent)
        if probe.usable is not None:
            if gamma is None:
                return Check(
                    probe.name, SKIP, "gamma unknown: the Config has no gamma and the agent no attribute gamma"
                )
            reason = probe.usable(gamma) if "gamma" not in fields_of(type(config)) else None
            if reason is not None:
                return Check(probe.name, SKIP, f"{reason} (its own: the Config has no gamma)")
        with time_limit(PROBE_LIMIT_S, lambda: f"learn({probe.steps:,}) on the probe had not returned"):
            agent.learn(probe.steps, lambda step: True)
        if agent.num_timesteps != probe.steps:
            return Check(probe.name, FAIL, f"learn({probe.steps:,}) ended at num_timesteps = {agent.num_timesteps:,}")
        updates = arm.capabilities.updates(agent)
        if updates == 0 and not hasattr(config, "learning_starts"):
            return Check(
                probe.name,
                SKIP,
                f"no update within the probe's {probe.steps:,} steps (the Config has no learning_starts)",
            )
        outcome = probe.measure(agent, env.unwrapped, probe.gamma if gamma is None else gamma)
    finally:
        env.close()
    detail = f"expected {outcome.expected}; measured {outcome.measured}"
    if outcome.passed:
        return Check(probe.name, PASS, detail)
    no_updates = f"; it made no gradient update in {probe.steps:,} steps" if updates == 0 else ""
    return Check(probe.name, FAIL, f"{detail}{no_updates}: {outcome.cause}")


def run_probes(
    arm: Arm, seed: int = 0, device: str = "cpu", say: Callable[[Check], None] = lambda check: None
) -> list[Check]:
    """Every probe of PROBES on ``arm``, in order; ``say`` hears each row."""
    checks = []
    for probe in PROBES:
        try:
            check = run_probe(arm, probe, seed, device)
        except Exception as exc:  # the agent failed on the probe's env: a finding, not the battery's end
            check = Check(probe.name, FAIL, describe_exception(exc))
        say(check)
        checks.append(check)
    return checks
