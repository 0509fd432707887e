"""Agents of a user's own, for the tests of arms by import path: a minimal one (no optional
capabilities), ones that break the contract in one way each, and a fork of SB3's TD3."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import stable_baselines3
import torch

from custom_td3 import TD3
from examples.cleanrl_td3 import TD3 as CleanTD3
from examples.cleanrl_td3 import Config as CleanConfig


class Minimal:
    """A linear policy that never learns: the required contract and nothing more."""

    @dataclass(frozen=True)
    class Config:
        learning_starts: int = 0
        scale: float = field(default=0.5, metadata={"help": "gain of the linear policy"})

    def __init__(self, env, config, seed, device):
        self.env, self.config, self.num_timesteps = env, config, 0
        rng = np.random.default_rng(seed)
        self.w = rng.normal(size=(env.action_space.shape[0], env.observation_space.shape[0])) * config.scale
        self._obs = None

    def learn(self, total_steps, callback):
        while self.num_timesteps < total_steps:
            if self._obs is None:
                self._obs, _ = self.env.reset()
            obs, _, terminated, truncated, _ = self.env.step(self.predict(self._obs))
            self._obs = None if terminated or truncated else obs
            self.num_timesteps += 1
            if not callback(self.num_timesteps):
                break

    def predict(self, obs, deterministic=True):
        space = self.env.action_space
        return np.clip(self.w @ np.ravel(obs), space.low, space.high).astype(space.dtype)

    def save(self, path):
        path = Path(path).with_suffix(".npy")
        np.save(path, self.w)
        return path

    @classmethod
    def load(cls, path, env, device):
        agent = cls(env, cls.Config(), 0, device)
        agent.w = np.load(path)
        return agent


class OutOfBounds(Minimal):
    """Acts twice the upper bound: check-agent must say so."""

    def predict(self, obs, deterministic=True):
        return 2 * self.env.action_space.high + 1


class Overrun(Minimal):
    """Trains three times its budget without ever calling the callback: a study must not call it matched."""

    def learn(self, total_steps, callback):
        while self.num_timesteps < 3 * total_steps:
            if self._obs is None:
                self._obs, _ = self.env.reset()
            obs, _, terminated, truncated, _ = self.env.step(self.predict(self._obs))
            self._obs = None if terminated or truncated else obs
            self.num_timesteps += 1


class Hangs(Minimal):
    """Never returns from learn: every call into it must be bounded by time."""

    def learn(self, total_steps, callback):
        while True:
            self.num_timesteps += 1


class NaNAction(Minimal):
    """Acts NaN: an evaluation must fail the run, not score it."""

    def predict(self, obs, deterministic=True):
        return np.full(self.env.action_space.shape, np.nan, dtype=np.float32)


class WrongShape(Minimal):
    """Acts with one value too many."""

    def predict(self, obs, deterministic=True):
        return np.zeros(self.env.action_space.shape[0] + 1, dtype=np.float32)


class SavesNothing(Minimal):
    """Says it saved a file it never wrote."""

    def save(self, path):
        return Path(path).with_suffix(".npy")


class NoSave:
    """Not an agent: no save, no load, no Config."""

    def learn(self, total_steps, callback): ...

    def predict(self, obs, deterministic=True): ...


class PlainConfig(Minimal):
    class Config:  # not a dataclass
        scale = 0.5


class MaxTarget(CleanTD3):
    """The example with a planted fault: the max of the twin target critics instead of the min."""

    def parity_update(self, batch, generator=None):
        original = torch.min
        torch.min = lambda x, *a, **k: (
            torch.max(x, *a, **k) if x.dim() == 2 and x.shape[1] == 2 else original(x, *a, **k)
        )
        try:
            super().parity_update(batch, generator)
        finally:
            torch.min = original


class CleanDefaults(CleanTD3):
    """The example under a name of its own: no hyperparameter file, so CleanRL's defaults
    (learning_starts 25,000) and no budget of its own, as a user's agent arrives."""


_HINTS = typing.get_type_hints(CleanConfig)
NoGammaConfig = dataclasses.make_dataclass(
    "NoGammaConfig",
    [
        (f.name, _HINTS[f.name], field(default=f.default, metadata=f.metadata))
        for f in dataclasses.fields(CleanConfig)
        if f.name != "gamma"
    ],
    frozen=True,
)


class FixedGammaTD3(CleanTD3):
    """The example with its discount fixed in code, as the attribute ``gamma``, not a Config field."""

    Config = NoGammaConfig
    gamma = 0.9

    def __init__(self, env, config, seed=0, device="cpu"):
        super().__init__(env, CleanConfig(**{**dataclasses.asdict(config), "gamma": self.gamma}), seed, device)


class ForkedTD3(stable_baselines3.TD3):
    """A user's fork of SB3's TD3 (unchanged here)."""

    def __init__(self, policy, env, learning_rate: float = 1e-3, extra_knob: int = 3, **kwargs):
        super().__init__(policy, env, learning_rate=learning_rate, **kwargs)
        self.extra_knob = extra_knob


not_a_class = 42


class MinimalGroup(Minimal):
    """Minimal with the optional ``group_of``: a user's own seed group, its members stepped in turn."""

    groups_made: typing.ClassVar[list[int]] = []  # the sizes of the groups made in this process

    @classmethod
    def group_of(cls, members):
        cls.groups_made.append(len(members))
        return _RoundRobin(members)


class _RoundRobin:
    def __init__(self, members):
        self.members, self.diverged = members, {}

    def learn(self, total_steps, callback):
        running = [k for k, m in enumerate(self.members) if m.num_timesteps < total_steps]
        while running:
            for k in list(running):
                m = self.members[k]
                if m._obs is None:
                    m._obs, _ = m.env.reset()
                obs, _, terminated, truncated, _ = m.env.step(m.predict(m._obs))
                m._obs = None if terminated or truncated else obs
                m.num_timesteps += 1
                go_on = callback(k, m.num_timesteps)  # every step, the last one too
                if m.num_timesteps >= total_steps or not go_on:
                    running.remove(k)


class DivergesInGroup(MinimalGroup):
    """A group whose member 1 diverges at step 150 (reported in ``diverged``) while the others go on."""

    @classmethod
    def group_of(cls, members):
        return _DivergesAt150(members)


class _DivergesAt150(_RoundRobin):
    def learn(self, total_steps, callback):
        def each(k, step):
            if k == 1 and step == 150:
                self.diverged[1] = "critic loss is nan at update 150"
                return False
            return callback(k, step)

        super().learn(total_steps, each)


class NaNCriticAtSeed1(TD3):
    """Our TD3, whose seed-1 agent has its critic's weights turned to NaN at env step 700."""

    def __init__(self, env, config=None, seed=0, device="cpu"):
        super().__init__(env, config, seed, device)
        self._poisoned = seed == 1

    def _step(self, action):
        out = super()._step(action)
        if self._poisoned and self.num_timesteps == 700:
            with torch.no_grad():
                for p in self.critic.parameters():
                    p.fill_(float("nan"))
        return out


class GroupSkipsLastStep(MinimalGroup):
    """A seed group whose callback misses each member's last step: the harness would never record it."""

    @classmethod
    def group_of(cls, members):
        group = _RoundRobin(members)
        learn = group.learn
        group.learn = lambda total, callback: learn(total, lambda k, step: step == total or callback(k, step))
        return group


class GroupSharesWeights(MinimalGroup):
    """A seed group whose members all act with member 0's policy: each is no longer its seed alone."""

    @classmethod
    def group_of(cls, members):
        for m in members[1:]:
            m.w = members[0].w
        return _RoundRobin(members)


class GroupIgnoresStop(MinimalGroup):
    """A seed group that steps every member to the budget whatever the callback says."""

    @classmethod
    def group_of(cls, members):
        group = _RoundRobin(members)
        learn = group.learn
        group.learn = lambda total, callback: learn(total, lambda k, step: callback(k, step) or True)
        return group


class OutOfBoundsAtSeed1InGroup(MinimalGroup):
    """A user's group whose seed-1 member acts outside the action bounds from step 300 on."""

    def __init__(self, env, config, seed, device):
        super().__init__(env, config, seed, device)
        self.seed = seed

    def predict(self, obs, deterministic=True):
        if self.seed == 1 and self.num_timesteps >= 300:
            return 2 * self.env.action_space.high + 1
        return super().predict(obs, deterministic)
