"""The one environment factory every arm trains and is evaluated on, and env id resolution (the
probe envs of ``probe_envs`` are registered here, so their ids work wherever an env is made)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.monitor import Monitor

from harness.errors import EnvFault, UsageError, suggest
from harness.run import probe_envs  # noqa: F401  (importing it registers the probe env ids, in every process)

if not os.environ.get("DISPLAY"):
    # MuJoCo picks its OpenGL backend when first imported: off-screen EGL unless told otherwise.
    os.environ.setdefault("MUJOCO_GL", "egl")


@dataclass(frozen=True)
class OptionalEnvs:
    """Env ids registered by an import that needs one of this project's optional extras."""

    matches: Callable[[str], bool]
    module: str  # importing it registers the ids
    extra: str  # pip install -e '.[<extra>]'
    what: str  # the dependency, in words


OPTIONAL_ENVS = (
    OptionalEnvs(
        lambda name: name == "MinitaurBulletEnv-v0",
        "harness.run.minitaur",
        "bullet",
        "pybullet (with gym 0.26 and setuptools for its Minitaur code)",
    ),
    OptionalEnvs(
        lambda name: name.endswith("BulletEnv-v0"),
        "pybullet_envs_gymnasium",
        "bullet",
        "pybullet and pybullet_envs_gymnasium",
    ),
)


def register_optional(name: str) -> None:
    """Import what registers ``name`` if it is one of ``OPTIONAL_ENVS``; UsageError naming the extra
    to install when that import fails."""
    for family in OPTIONAL_ENVS:
        if family.matches(name):
            try:
                importlib.import_module(family.module)
            except ImportError as exc:
                raise UsageError(
                    f"env '{name}' needs {family.what}, from this project's optional extra '{family.extra}' "
                    f"(missing: {exc.name or exc}). Install it with `make venv EXTRAS=dev,{family.extra}` "
                    f"or `pip install -e '.[{family.extra}]'`"
                ) from None
            return


def resolve_env_id(env_id: str) -> str:
    """Check that ``env_id`` names a registered env with a Box action space; return it unchanged.

    ``module:EnvId`` imports ``module`` first (its import registers the env), as gymnasium does.
    Raises UsageError for an unknown id (with close matches), an import failure, or a
    non-Box action space.
    """
    module, _, name = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UsageError(f"env '{env_id}': cannot import module '{module}' ({exc})") from None
    else:
        register_optional(name)
    if name not in gym.registry:
        raise UsageError(
            f"unknown env '{name}'.{suggest(name, gym.registry.keys())} "
            "Accepted: any registered gymnasium id with a Box action space, or module:EnvId"
        )
    try:
        env = gym.make(name)
    except Exception as exc:  # a missing optional dependency surfaces here
        raise UsageError(f"env '{env_id}' cannot be created: {exc}") from None
    try:
        if not isinstance(env.action_space, gym.spaces.Box):
            raise UsageError(
                f"env '{env_id}' has action space {env.action_space}; the harness compares "
                "continuous-control agents and needs a gymnasium.spaces.Box action space"
            )
    finally:
        env.close()
    return env_id


def make_env(
    env_id: str,
    monitor_dir: Path | None = None,
    append: bool = False,
    render_mode: str | None = None,
    max_episode_steps: int | None = None,
) -> gym.Env:
    """``gym.make(env_id)`` with its registered time limit, inside SB3's Monitor.

    With ``monitor_dir`` the monitor writes ``<monitor_dir>/0.monitor.csv`` (rl-zoo3's layout),
    appending to an existing file when ``append`` (a resumed run). ``render_mode="rgb_array"``
    renders off-screen (no display needed). ``max_episode_steps`` replaces the registered time limit
    (the value diagnostics' longer evaluation episodes).
    """
    module, _, name = env_id.rpartition(":")
    if module:
        importlib.import_module(module)
    else:
        register_optional(name)
    kwargs: dict[str, Any] = {}
    if render_mode is not None:  # passed only when asked: some user envs take no arguments at all
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame-based renderers, headless
        kwargs["render_mode"] = render_mode
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    env = FiniteEnv(gym.make(name, **kwargs))
    filename = str(Path(monitor_dir) / "0") if monitor_dir is not None else None
    return Monitor(env, filename=filename, override_existing=not append)


class FiniteEnv(gym.Wrapper[Any, Any, Any, Any]):
    """Raises EnvFault when the env returns a non-finite observation or reward, naming the step of its
    episode: a NaN from the env must fail the run as the env's fault, not pass to the agent (where it
    would read as divergence) nor into a score."""

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._t = 0
        self._check(obs, 0.0, "reset")
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._t = getattr(self, "_t", 0) + 1
        self._check(obs, reward, f"step {self._t} of its episode")
        return obs, reward, terminated, truncated, info

    def _check(self, obs: Any, reward: Any, when: str) -> None:
        try:
            finite = bool(np.all(np.isfinite(obs))) and bool(np.isfinite(reward))
        except TypeError:  # not numeric (a Dict observation, say): nothing this wrapper can judge
            return
        if not finite:
            what = "reward" if np.all(np.isfinite(obs)) else "observation"
            value = reward if what == "reward" else np.asarray(obs)
            raise EnvFault(
                f"env {self.spec.id if self.spec else self.env} returned a non-finite {what} at {when}: {value}"
            )
