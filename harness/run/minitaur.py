"""MinitaurBulletEnv-v0 in the gymnasium API: pybullet's own Minitaur environment, adapted.

No gymnasium port of the Minitaur exists (``pybullet_envs_gymnasium`` ports the locomotion
envs only), so this module wraps the class that ships inside pybullet,
``pybullet_envs.bullet.minitaur_gym_env.MinitaurBulletEnv``, which is written against gym
0.26's predecessor API (``reset() -> obs``, ``step() -> (obs, reward, done, info)``) and imports
``gym`` and ``pkg_resources``. Those stay in this project's optional ``bullet`` extra.

What the adapter changes, and nothing else:
- the API: ``reset(seed=...) -> (obs, info)``; ``step`` returns ``terminated`` (the robot fell
  or left ``distance_limit``) and never ``truncated`` (the registered TimeLimit of 1000 steps,
  the original registration's, truncates);
- spaces: gymnasium ``Box``es with float32 observations;
- randomness: the stock randomizer draws the robot's masses, battery voltage, motor damping
  and foot friction from Python's and NumPy's global RNGs at every reset; here the same
  ranges are drawn from the env's own seeded generator, so seeded episodes repeat exactly.

Importing this module registers ``MinitaurBulletEnv-v0`` (harness.run.envs imports it on demand).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
import types
import warnings
from typing import Any

import gymnasium as gym
import numpy as np

ENV_ID = "MinitaurBulletEnv-v0"


def _pybullet_module(name: str) -> types.ModuleType:
    """Import ``pybullet_envs.<...>`` without running ``pybullet_envs/__init__``.

    That ``__init__`` registers every pybullet env with gym through an attribute gym 0.26 no
    longer has (``registry.env_specs``); the env classes themselves import fine. An empty
    package object stands in for it, with the real package's search path.
    """
    if "pybullet_envs" not in sys.modules:
        spec = importlib.util.find_spec("pybullet_envs")
        if spec is None or spec.submodule_search_locations is None:
            raise ModuleNotFoundError("No module named 'pybullet_envs' (it ships with pybullet)", name="pybullet")
        package = types.ModuleType("pybullet_envs")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["pybullet_envs"] = package
    # pkg_resources' deprecation warning and a print of its own folder, on import of this old code.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", UserWarning)
        return importlib.import_module(name)


class MinitaurEnv(gym.Env):
    """pybullet's MinitaurBulletEnv behind the gymnasium API; keyword arguments go to it unchanged."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}  # noqa: RUF012 - gymnasium's attribute

    def __init__(self, render_mode: str | None = None, **kwargs: Any):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode {render_mode!r}: accepted: None, 'rgb_array'")
        self.render_mode = render_mode
        minitaur_gym_env = _pybullet_module("pybullet_envs.bullet.minitaur_gym_env")
        randomizer = _seeded_randomizer(
            _pybullet_module("pybullet_envs.bullet.minitaur_env_randomizer"), lambda: self.np_random
        )
        # It prints its data path on every construction, and gym warns about float32 space bounds.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self._env = minitaur_gym_env.MinitaurBulletEnv(render=False, env_randomizer=randomizer, **kwargs)
        old_obs, old_act = self._env.observation_space, self._env.action_space
        self.observation_space = gym.spaces.Box(
            old_obs.low.astype(np.float32), old_obs.high.astype(np.float32), dtype=np.float32
        )
        self.action_space = gym.spaces.Box(
            old_act.low.astype(np.float32), old_act.high.astype(np.float32), dtype=np.float32
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        obs = self._env.reset()
        return np.asarray(obs, dtype=np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, done, info = self._env.step(np.asarray(action, dtype=np.float64))
        return np.asarray(obs, dtype=np.float32), float(reward), bool(done), False, dict(info)

    def render(self) -> np.ndarray | None:
        return self._env.render(mode="rgb_array") if self.render_mode == "rgb_array" else None

    def close(self) -> None:
        self._env.close()


def _seeded_randomizer(module: types.ModuleType, rng: Any) -> Any:
    """The stock MinitaurEnvRandomizer's ranges, drawn from ``rng()`` (the env's generator)."""

    stock: Any = module.MinitaurEnvRandomizer

    class SeededRandomizer(stock):
        def _randomize_minitaur(self, minitaur: Any) -> None:
            g = rng()
            base_mass = minitaur.GetBaseMassFromURDF()
            low, high = self._minitaur_base_mass_err_range
            minitaur.SetBaseMass(g.uniform(base_mass * (1.0 + low), base_mass * (1.0 + high)))
            legs = np.asarray(minitaur.GetLegMassesFromURDF())
            low, high = self._minitaur_leg_mass_err_range
            minitaur.SetLegMasses(list(g.uniform(legs * (1.0 + low), legs * (1.0 + high))))
            minitaur.SetBatteryVoltage(g.uniform(*module.BATTERY_VOLTAGE_RANGE))
            minitaur.SetMotorViscousDamping(g.uniform(*module.MOTOR_VISCOUS_DAMPING_RANGE))
            minitaur.SetFootFriction(g.uniform(*module.MINITAUR_LEG_FRICTION))

    return SeededRandomizer()


if ENV_ID not in gym.registry:
    # The original registration's limit and threshold (pybullet_envs/__init__.py).
    gym.register(
        id=ENV_ID, entry_point="harness.run.minitaur:MinitaurEnv", max_episode_steps=1000, reward_threshold=15.0
    )
