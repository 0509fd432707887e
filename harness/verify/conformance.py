"""``check-agent``: does an agent keep the contract the runner relies on? One row per check.

Each check names what the runner needs and fails with the reason when the agent does not give it:
actions of the env's shape within its bounds (on several Box shapes and bounds, not only
[-1, 1]), a deterministic ``predict`` that repeats itself and leaves its observation alone, an
exact budget with every step seen by the callback (and a callback's False obeyed), the same
evaluation returns from the same seed and others from another, a saved and loaded agent that acts
as the original, and, where ``state_dict`` is offered, a run restored at an episode boundary that
ends as the uninterrupted one, and, where ``group_of`` is offered, a seed group whose members each
see every step and act as their seeds trained alone. Then the probe battery (``harness.verify.probes``) asks whether its
data path does what an actor-critic needs, and ``learning=True`` adds a short training run on
Pendulum-v1 that must beat the random floor (``harness.verify.learning``). The contract checks run
with small settings (``CHECK_SETTINGS``, where the agent's Config has those keys) so they take seconds.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from harness.agents import Arm
from harness.config.schema import as_plain
from harness.run import checkpoint, rundir
from harness.run.bounds import time_limit
from harness.run.runner import start_agent
from harness.verify import probes
from harness.verify.check import (
    FAIL,
    PASS,
    SKIP,
    Check,
    CheckFailed,
    CheckSkipped,
    describe_exception,
    settings_config,
    summary,
)
from harness.verify.learning import LEARNING_ENV, evaluate, learns

__all__ = ["CHECK_SETTINGS", "SHAPES", "Check", "CheckFailed", "check_config", "run_checks", "summary"]

#: Hyperparameters set for the checks, where the agent's Config has the key: short warm-up, small nets.
CHECK_SETTINGS = {"learning_starts": 100, "batch_size": 32, "buffer_size": 10_000, "net_arch": [32, 32]}
#: Env steps of each short training the checks run.
STEPS = 200
#: A check whose calls into the agent have not returned after this long fails (it ignores its callback, or hangs).
CHECK_LIMIT_S = 600.0
#: The seeds of the seed-group checks, and how far (a fraction of the action range) a member may act from
#: the same seed trained alone: a batched update rounds differently, about 1e-5 after 100 updates.
GROUP_SEEDS = (0, 1)
GROUP_ATOL = 1e-3
#: Relative tolerance of the bounds check (of the action range): rescaling [-1, 1] costs an ulp or two.
BOUNDS_RTOL = 1e-5


class BoxEnv(gym.Env[np.ndarray, np.ndarray]):
    """A tiny continuous-control env with the action bounds given: the observation drifts with the
    action and the reward is minus its distance from 0; episodes end, truncated, after 50 steps."""

    action_space: gym.spaces.Box

    def __init__(self, obs_dim: int, low: list[float], high: list[float]):
        self.observation_space = gym.spaces.Box(-10.0, 10.0, shape=(obs_dim,), dtype=np.float32)
        self.action_space = gym.spaces.Box(np.array(low, np.float32), np.array(high, np.float32))
        self.mix = np.linspace(-1.0, 1.0, obs_dim * len(low), dtype=np.float32).reshape(obs_dim, len(low))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t, self.x = 0, self.np_random.uniform(-1.0, 1.0, self.observation_space.shape).astype(np.float32)
        return self.x.copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        centred = np.asarray(action, np.float32) - 0.5 * (self.action_space.low + self.action_space.high)
        self.x = np.clip(self.x + 0.1 * self.mix @ centred, -10.0, 10.0).astype(np.float32)
        self.t += 1
        return self.x.copy(), -float(np.abs(self.x).sum()), False, self.t >= 50, {}


#: (description, obs dim, low, high): a Pendulum-like range, three wide positive bounds, asymmetric ones.
SHAPES = (
    ("1 action in [-2, 2]", 3, [-2.0], [2.0]),
    ("3 actions in [0, 5] x [0, 1] x [-10, 10]", 4, [0.0, 0.0, -10.0], [5.0, 1.0, 10.0]),
    ("2 actions in [-1, 3] x [-3, -1]", 2, [-1.0, -3.0], [3.0, -1.0]),
)


def check_config(arm: Arm) -> Any:
    """The arm's config for the checks: its defaults (a variant's settings included) with CHECK_SETTINGS
    for the keys its Config has (``net_arch`` also for configs that spread it over several fields)."""
    return settings_config(arm, CHECK_SETTINGS, "check settings")


def run_checks(
    arm: Arm,
    env_id: str = LEARNING_ENV,
    learning: bool = False,
    learning_steps: int = 10_000,
    device: str = "cpu",
    say: Callable[[Check], None] = lambda check: None,
    with_probes: bool = True,
) -> list[Check]:
    """Every check of ``arm`` on ``env_id`` (and the shapes of SHAPES), in order, then with
    ``with_probes`` the probe battery (``harness.verify.probes``); ``say`` hears each row."""
    checks: list[Check] = []
    caps = arm.capabilities
    config = check_config(arm)

    def record(check: Check) -> None:
        checks.append(check)
        say(check)

    def attempt(name: str, body: Callable[[], str], required: bool = True) -> bool:
        try:
            with time_limit(CHECK_LIMIT_S, lambda: f"{name}: the agent's calls had not returned"):
                detail = body()
        except CheckFailed as exc:
            record(Check(name, FAIL, str(exc), required))
            return False
        except CheckSkipped as exc:
            record(Check(name, SKIP, str(exc), required))
            return True
        except Exception as exc:
            record(Check(name, FAIL, describe_exception(exc), required))
            return False
        record(Check(name, PASS, detail, required))
        return True

    record(Check("contract: required methods present", PASS, f"{arm.origin}; {caps.describe()}"))

    def shapes() -> str:
        for text, obs_dim, low, high in SHAPES:
            env = gym.wrappers.TimeLimit(BoxEnv(obs_dim, low, high), 50)
            env.reset(seed=0)
            agent = arm.build(env, config, 0, device)
            before = _actions(agent, env, deterministic=True)
            agent.learn(STEPS, lambda step: True)
            for deterministic in (True, False):
                for a in [*(before if deterministic else []), *_actions(agent, env, deterministic)]:
                    _in_bounds(np.asarray(a), env.unwrapped.action_space, f"{text}, deterministic={deterministic}")
        return "; ".join(text for text, *_ in SHAPES) + f"; before and after {STEPS} steps of learning"

    if not attempt("actions have the env's shape, within its bounds", shapes):
        return checks

    with tempfile.TemporaryDirectory(prefix="check-agent-") as folder:
        tmp = Path(folder)
        env, agent = start_agent(arm, env_id, config, 0, device)
        observations = _observations(env)

        def leaves_obs() -> str:
            for deterministic in (True, False):
                for obs in observations:
                    given = obs.copy()
                    agent.predict(given, deterministic=deterministic)
                    if not np.array_equal(given, obs):
                        raise CheckFailed(f"predict(deterministic={deterministic}) changed {obs} into {given}")
            return "deterministic and not"

        seen: list[int] = []

        def budget() -> str:
            def note(step: int) -> bool:
                seen.append(step)
                return True

            for total in (STEPS, 2 * STEPS):
                start = len(seen)
                agent.learn(total, note)
                if agent.num_timesteps != total:
                    raise CheckFailed(f"learn({total}) ended with num_timesteps = {agent.num_timesteps}")
                expected = list(range(start + 1, total + 1))
                if seen[start:] != expected:
                    raise CheckFailed(
                        f"learn({total}): the callback saw steps {_span(seen[start:])}, not {_span(expected)}"
                    )
            return f"learn({STEPS}) then learn({2 * STEPS}): num_timesteps exact, the callback saw steps 1..{2 * STEPS} once each"

        def stops() -> str:
            other_env, other = start_agent(arm, env_id, config, 0, device)
            other.learn(10 * STEPS, lambda step: step < STEPS // 2)  # finite: an agent ignoring it stops there
            other_env.close()
            if other.num_timesteps != STEPS // 2:
                raise CheckFailed(
                    f"a callback returning False at step {STEPS // 2} stopped learn at {other.num_timesteps}"
                )
            return f"stopped at step {STEPS // 2}"

        def seeded() -> str:
            mine = evaluate(env_id, agent)
            again, different = (_trained_returns(arm, env_id, config, seed, device) for seed in (0, 1))
            if not np.array_equal(mine, again):
                raise CheckFailed(f"seed 0 twice: evaluation returns {mine} and {again}")
            if np.array_equal(mine, different):
                raise CheckFailed(f"seeds 0 and 1 gave the same evaluation returns {mine}")
            return f"seed 0 twice: {_fmt(mine)}; seed 1: {_fmt(different)}"

        def reloads() -> str:
            rundir.write_config(tmp, as_plain(config))  # beside the model, as in a run directory
            path = agent.save(tmp / "model")
            loaded = arm.load(Path(path), env, device)
            for obs in observations:
                a, b = agent.predict(obs, deterministic=True), loaded.predict(obs, deterministic=True)
                if not np.array_equal(a, b):
                    raise CheckFailed(f"on {obs} the agent acts {a}, the one loaded from {Path(path).name} {b}")
            return f"saved to {Path(path).name}; {len(observations)} observations, identical actions"

        # Training first: exploring predicts draw from the agent's generators and would change what follows.
        attempt("the budget is honoured and the callback sees every step", budget)
        attempt("a callback returning False stops learn", stops)
        attempt("same seed, same evaluation; another seed, another", seeded)
        attempt("deterministic predict repeats itself", lambda: predict_repeats(agent, observations))
        attempt("predict leaves its observation unchanged", leaves_obs)
        attempt("save then load acts identically", reloads)
        if caps.checkpoints:
            exact = getattr(arm.agent_cls, "resumes_exactly", True)
            name = "restored at an episode boundary, ends identical" if exact else "restored from state_dict, continues"
            attempt(name, lambda: _resume(arm, env_id, config, device, tmp, exact))
        else:
            record(Check("restored from state_dict", SKIP, "no state_dict: runs are not checkpointed"))
        if caps.groups:
            attempt(
                "a seed group: every member's steps, each member as alone",
                lambda: _grouped(arm, env_id, config, device),
            )
            attempt(
                "a seed group: a callback's False stops only its member",
                lambda: _group_stops(arm, env_id, config, device),
            )
        else:
            record(Check("a seed group", SKIP, "no group_of: one seed per process"))
        env.close()

    if with_probes:
        probes.run_probes(arm, 0, device, say=record)
    if learning:
        attempt(f"beats the random floor on {LEARNING_ENV}", lambda: learns(arm, learning_steps, device))
    else:
        record(Check(f"beats the random floor on {LEARNING_ENV}", SKIP, "run with --learning"))
    return checks


def predict_repeats(agent: Any, observations: list[np.ndarray]) -> str:
    """CheckFailed unless ``predict(obs, deterministic=True)`` gives one action twice for each observation."""
    for obs in observations:
        first, second = agent.predict(obs, deterministic=True), agent.predict(obs, deterministic=True)
        if not np.array_equal(first, second):
            raise CheckFailed(f"two calls on one observation gave {first} and {second}")
    return f"{len(observations)} observations, each predicted twice"


def _trained_returns(arm: Arm, env_id: str, config: Any, seed: int, device: str) -> np.ndarray:
    """Evaluation returns of an agent trained as the budget check trains one (each agent is trained to
    the end before the next is built: some draw from the global RNGs, which each run seeds for itself)."""
    env, agent = start_agent(arm, env_id, config, seed, device)
    for total in (STEPS, 2 * STEPS):
        agent.learn(total, lambda step: True)
    env.close()
    return evaluate(env_id, agent)


def _resume(arm: Arm, env_id: str, config: Any, device: str, tmp: Path, exact: bool) -> str:
    """An agent checkpointed at the first episode boundary after STEPS steps (through a checkpoint file, as
    the runner keeps it), restored into a fresh one on a fresh env, both trained on to 3 * STEPS steps."""
    caps = arm.capabilities
    env, agent = start_agent(arm, env_id, config, 0, device)
    agent.learn(20 * STEPS, lambda step: step < STEPS or not caps.boundary(agent))
    at = agent.num_timesteps
    checkpoint.save(tmp, at, {"agent": caps.checkpointable(agent).state_dict()})
    state = checkpoint.load(tmp / checkpoint.DIRNAME / f"step_{at:012d}.pt")["agent"]
    total = at + STEPS
    agent.learn(total, lambda step: True)
    env.close()
    a = evaluate(env_id, agent)
    resumed_env, resumed = start_agent(arm, env_id, config, 0, device)  # a new process's run, resumed
    caps.checkpointable(resumed).load_state_dict(state)
    if resumed.num_timesteps != at:
        raise CheckFailed(f"restored from step {at}, num_timesteps is {resumed.num_timesteps}")
    resumed.learn(total, lambda step: True)
    resumed_env.close()
    if resumed.num_timesteps != total:
        raise CheckFailed(f"restored at step {at}, learn({total}) ended at {resumed.num_timesteps}")
    if not exact:
        return (
            f"restored at step {at} and trained on to {total} (exactness not checked: "
            f"{arm.agent_cls.__name__ if arm.agent_cls else arm.name}.resumes_exactly is False)"
        )
    b = evaluate(env_id, resumed)
    if not np.array_equal(a, b):
        raise CheckFailed(f"restored at step {at}: at step {total} evaluation returns {b}, uninterrupted {a}")
    return f"checkpoint at step {at}, both at step {total}: evaluation returns {_fmt(a)}"


def _group(arm: Arm, env_id: str, config: Any, device: str) -> tuple[list[gym.Env], list[Any], Any]:
    """Seeds 0 and 1 built as two runs build them, then given to the arm's ``group_of``."""
    envs, agents = zip(*(start_agent(arm, env_id, config, seed, device) for seed in GROUP_SEEDS), strict=True)
    return list(envs), list(agents), arm.capabilities.grouped(list(agents))


def _grouped(arm: Arm, env_id: str, config: Any, device: str) -> str:
    """Seeds 0 and 1 trained for STEPS by one seed group: the callback sees each member's steps 1..STEPS
    once, in order, and each member then acts as its seed trained alone (to GROUP_ATOL of the action range:
    a batched update rounds differently; a member that shares data or noise with another is far off)."""
    envs, agents, group = _group(arm, env_id, config, device)
    seen: dict[int, list[int]] = {k: [] for k in range(len(agents))}

    def note(k: int, step: int) -> bool:
        if k not in seen:
            raise CheckFailed(f"the group's callback was called for member {k}; its members are 0..{len(agents) - 1}")
        seen[k].append(step)
        return True

    group.learn(STEPS, note)
    expected = list(range(1, STEPS + 1))
    for k, agent in enumerate(agents):
        if agent.num_timesteps != STEPS:
            raise CheckFailed(f"group.learn({STEPS}) left member {k} at num_timesteps = {agent.num_timesteps}")
        if seen[k] != expected:
            raise CheckFailed(
                f"group.learn({STEPS}): member {k}'s callback saw steps {_span(seen[k])}, not {_span(expected)}"
            )
    if getattr(group, "diverged", None):
        raise CheckFailed(f"members diverged in {STEPS} steps: {group.diverged}")
    observations = _observations(envs[0])
    space = envs[0].action_space
    assert isinstance(space, gym.spaces.Box)  # make_env accepts Box action spaces only
    worst = 0.0
    for seed, member in zip(GROUP_SEEDS, agents, strict=True):
        alone_env, alone = start_agent(arm, env_id, config, seed, device)
        alone.learn(STEPS, lambda step: True)
        alone_env.close()
        for obs in observations:
            a, b = (np.asarray(x.predict(obs, deterministic=True), dtype=np.float64) for x in (member, alone))
            gap = float(np.max(np.abs(a - b) / (space.high - space.low)))
            if not gap <= GROUP_ATOL:
                raise CheckFailed(
                    f"after {STEPS} steps, seed {seed} in the group acts {a} on {obs}, alone {b} "
                    f"({gap:.2g} of the action range; accepted: up to {GROUP_ATOL:g})"
                )
            worst = max(worst, gap)
    for env in envs:
        env.close()
    how = "identical actions" if worst == 0 else f"actions within {worst:.1g} of the action range"
    return f"seeds {GROUP_SEEDS} for {STEPS} steps: every step seen once per member; each member as alone, {how}"


def _group_stops(arm: Arm, env_id: str, config: Any, device: str) -> str:
    envs, agents, group = _group(arm, env_id, config, device)
    group.learn(3 * STEPS, lambda k, step: k != 0 or step < STEPS // 2)  # finite: ignoring it ends there
    for env in envs:
        env.close()
    got = [a.num_timesteps for a in agents]
    if got != [STEPS // 2, 3 * STEPS]:
        raise CheckFailed(
            f"a callback returning False for member 0 at step {STEPS // 2}: the members stopped at {got}, "
            f"not [{STEPS // 2}, {3 * STEPS}]"
        )
    return f"member 0 stopped at step {STEPS // 2}, member 1 went on to {3 * STEPS}"


def _actions(agent: Any, env: gym.Env, deterministic: bool) -> list[np.ndarray]:
    return [np.asarray(agent.predict(obs, deterministic=deterministic)) for obs in _observations(env)]


def _observations(env: gym.Env, n: int = 10) -> list[np.ndarray]:
    """``n`` observations of the env's space, drawn reproducibly (as the env would give them)."""
    space = env.observation_space
    space.seed(123)
    return [np.asarray(space.sample(), dtype=space.dtype) for _ in range(n)]


def _in_bounds(action: np.ndarray, space: Any, where: str) -> None:
    if action.shape != space.shape:
        raise CheckFailed(f"{where}: action of shape {action.shape}, the env's is {space.shape}")
    slack = BOUNDS_RTOL * (space.high - space.low)
    if not np.all(np.isfinite(action)) or np.any(action < space.low - slack) or np.any(action > space.high + slack):
        raise CheckFailed(f"{where}: action {action} outside [{space.low}, {space.high}]")


def _span(steps: list[int]) -> str:
    if not steps:
        return "none"
    return f"{steps[0]}..{steps[-1]} ({len(steps)} calls)"


def _fmt(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in values) + "]"
