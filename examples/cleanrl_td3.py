"""TD3 (Fujimoto et al. 2018) in one file, in the style of CleanRL's td3_continuous_action.py: one
config dataclass, the networks, one update function, and a short loop.

Written for td3-harness as the example of an agent that is not the harness's own: it imports
nothing from harness/ or custom_td3/, and joins every command by its import path:

    make check-agent AGENT=examples.cleanrl_td3:TD3
    python -m harness parity --agent examples.cleanrl_td3:TD3 --reference sb3-td3
    make compare ENV=Pendulum-v1 ALGOS=examples.cleanrl_td3:TD3,td3,sb3-td3

Hyperparameters keep Stable-Baselines3's names, so one configuration reads the same on every arm.
With ``n_critics=1, policy_delay=1, target_policy_noise=0`` it is DDPG, as SB3's DDPG is TD3.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def arg(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Config:
    learning_rate: float = arg(3e-4, "Adam step size of actor and critics")
    buffer_size: int = arg(1_000_000, "replay memory size, in transitions")
    gamma: float = arg(0.99, "discount factor")
    tau: float = arg(0.005, "target smoothing coefficient")
    batch_size: int = arg(256, "minibatch size of each update")
    learning_starts: int = arg(25_000, "env steps of uniform random actions before learning")
    policy_delay: int = arg(2, "critic updates per actor (and target) update")
    target_policy_noise: float = arg(0.2, "std of the noise added to target actions")
    target_noise_clip: float = arg(0.5, "clip of the target-action noise")
    exploration_noise: float = arg(0.1, "std of the Gaussian exploration noise, in units of the [-1, 1] action")
    net_arch: tuple[int, ...] = arg((256, 256), "hidden layer sizes of actor and critics")
    n_critics: int = arg(2, "critics whose minimum is the target (1 with no delay and no noise: DDPG)")


def mlp(sizes: list[int], out_act: type[nn.Module] | None = None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers += [nn.Linear(sizes[i], sizes[i + 1]), nn.ReLU()]
    layers[-1:] = [out_act()] if out_act else []  # no ReLU after the output layer
    return nn.Sequential(*layers)


class Nets(nn.Module):
    """Actor (tanh-squashed, in [-1, 1]), critics Q_i(s, a), and their targets."""

    def __init__(self, obs_dim: int, act_dim: int, c: Config):
        super().__init__()
        hidden = list(c.net_arch)
        self.actor = mlp([obs_dim, *hidden, act_dim], nn.Tanh)
        self.qfs = nn.ModuleList(mlp([obs_dim + act_dim, *hidden, 1]) for _ in range(c.n_critics))
        self.actor_target = mlp([obs_dim, *hidden, act_dim], nn.Tanh).requires_grad_(False)
        self.qfs_target = nn.ModuleList(mlp([obs_dim + act_dim, *hidden, 1]) for _ in range(c.n_critics))
        self.qfs_target.requires_grad_(False)
        self.actor_target.load_state_dict(self.actor.state_dict())
        self.qfs_target.load_state_dict(self.qfs.state_dict())


def update(
    nets: Nets,
    opts: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    batch: dict[str, torch.Tensor],
    c: Config,
    n_update: int,
    gen: torch.Generator,
) -> dict[str, float]:
    """One TD3 update on ``batch`` (obs, actions, rewards, next_obs, dones; shapes (B, .)); ``n_update``
    counts from 1. The noise is drawn as SB3 draws it, so its generator can be shared in parity checks."""
    q_opt, actor_opt = opts
    with torch.no_grad():
        noise = torch.empty_like(batch["actions"]).normal_(0.0, c.target_policy_noise, generator=gen)
        noise = noise.clamp(-c.target_noise_clip, c.target_noise_clip)
        next_a = (nets.actor_target(batch["next_obs"]) + noise).clamp(-1.0, 1.0)
        next_sa = torch.cat([batch["next_obs"], next_a], 1)
        next_q = torch.min(torch.cat([q(next_sa) for q in nets.qfs_target], 1), 1, keepdim=True).values
        target = batch["rewards"] + (1.0 - batch["dones"]) * c.gamma * next_q
    sa = torch.cat([batch["obs"], batch["actions"]], 1)
    q_loss = sum(F.mse_loss(q(sa), target) for q in nets.qfs)
    assert isinstance(q_loss, torch.Tensor)
    q_opt.zero_grad()
    q_loss.backward()
    q_opt.step()
    info = {"q_loss": q_loss.item()}
    if n_update % c.policy_delay == 0:
        actor_loss = -nets.qfs[0](torch.cat([batch["obs"], nets.actor(batch["obs"])], 1)).mean()
        actor_opt.zero_grad()
        actor_loss.backward()
        actor_opt.step()
        with torch.no_grad():  # Polyak averaging of both targets
            for net, tgt in ((nets.qfs, nets.qfs_target), (nets.actor, nets.actor_target)):
                for p, tp in zip(net.parameters(), tgt.parameters(), strict=True):
                    tp.mul_(1.0 - c.tau).add_(p, alpha=c.tau)
        info["actor_loss"] = actor_loss.item()
    return info


class TD3:
    """CleanRL-style TD3 (examples/cleanrl_td3.py)"""

    Config = Config
    num_timesteps: int
    num_updates: int

    def __init__(self, env: gym.Env, config: Config, seed: int = 0, device: str = "cpu"):
        self.env, self.c, self.device = env, config, torch.device(device)
        obs_dim = int(np.prod(env.observation_space.shape))
        act_dim = int(np.prod(env.action_space.shape))
        self.low, self.high = env.action_space.low, env.action_space.high
        torch.manual_seed(seed)
        self.nets = Nets(obs_dim, act_dim, config).to(self.device)
        self.opts = (
            torch.optim.Adam(self.nets.qfs.parameters(), lr=config.learning_rate),
            torch.optim.Adam(self.nets.actor.parameters(), lr=config.learning_rate),
        )
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        size = config.buffer_size
        self.rb = {
            k: np.zeros((size, d), np.float32)
            for k, d in (("obs", obs_dim), ("actions", act_dim), ("rewards", 1), ("next_obs", obs_dim), ("dones", 1))
        }
        self.rb_pos = self.rb_len = 0
        self.num_timesteps = self.num_updates = 0
        self.losses: dict[str, float] = {}
        self._obs: np.ndarray | None = None  # None between episodes

    def _actor(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.as_tensor(obs, dtype=torch.float32, device=self.device).reshape(1, -1)
            return self.nets.actor(x)[0].cpu().numpy()

    def _scale(self, a: np.ndarray) -> np.ndarray:
        return self.low + 0.5 * (a + 1.0) * (self.high - self.low)

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        a = self._actor(obs)
        if not deterministic:
            a = np.clip(a + self.rng.normal(0.0, self.c.exploration_noise, a.shape), -1.0, 1.0)
        return self._scale(a)

    def q_value(self, observations: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Q_1(s, a) for a batch: observations (N, obs_dim), actions in the env's units (N, act_dim) -> (N,)."""
        n = len(observations)
        obs = torch.as_tensor(np.asarray(observations, np.float32).reshape(n, -1), device=self.device)
        a = 2.0 * (np.asarray(actions, np.float32).reshape(n, -1) - self.low) / (self.high - self.low) - 1.0
        sa = torch.cat([obs, torch.as_tensor(a, dtype=torch.float32, device=self.device)], 1)
        with torch.no_grad():
            q: np.ndarray = self.nets.qfs[0](sa)[:, 0].cpu().numpy()
        return q

    #: What ``q_value`` estimates (recorded beside the harness's value diagnostics).
    critic_estimate = "Q: the first critic, the one the actor ascends"

    def learn(self, total_steps: int, callback: Any = None) -> TD3:
        c = self.c
        while self.num_timesteps < total_steps:
            if self._obs is None:
                self._obs, _ = self.env.reset()
            if self.num_timesteps < c.learning_starts:
                a = self.rng.uniform(-1.0, 1.0, self.low.shape)
            else:
                a = np.clip(self._actor(self._obs) + self.rng.normal(0.0, c.exploration_noise, self.low.shape), -1, 1)
            next_obs, reward, terminated, truncated, _ = self.env.step(self._scale(a).astype(np.float32))
            # A truncated episode is not terminal: its last transition still bootstraps from next_obs.
            for k, v in zip(self.rb, (self._obs, a, reward, next_obs, terminated), strict=True):
                self.rb[k][self.rb_pos] = np.ravel(v)
            self.rb_pos, self.rb_len = (self.rb_pos + 1) % c.buffer_size, min(self.rb_len + 1, c.buffer_size)
            self._obs = None if terminated or truncated else next_obs
            self.num_timesteps += 1
            if self.num_timesteps > c.learning_starts:
                idx = self.rng.integers(0, self.rb_len, c.batch_size)
                batch = {k: torch.as_tensor(v[idx], device=self.device) for k, v in self.rb.items()}
                self.num_updates += 1
                self.losses.update(update(self.nets, self.opts, batch, c, self.num_updates, self.gen))
            if callback is not None and not callback(self.num_timesteps):
                break
        return self

    # The optional parts of the harness's contract: divergence, checkpoints, exact resume.
    @property
    def at_episode_boundary(self) -> bool:
        return self._obs is None

    def diagnose(self) -> str | None:
        bad = [k for k, v in self.losses.items() if not np.isfinite(v)]
        return f"{bad[0]} is {self.losses[bad[0]]} at update {self.num_updates}" if bad else None

    def state_dict(self) -> dict[str, Any]:
        env_rng = self.env.unwrapped.np_random.bit_generator.state
        return {
            "nets": self.nets.state_dict(),
            "opts": [o.state_dict() for o in self.opts],
            "rb": {k: v[: self.rb_len].copy() for k, v in self.rb.items()},
            "rb_pos": self.rb_pos,
            "rng": self.rng.bit_generator.state,
            "gen": self.gen.get_state(),
            "env_rng": env_rng,
            "counters": [self.num_timesteps, self.num_updates],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.nets.load_state_dict(state["nets"])
        for opt, s in zip(self.opts, state["opts"], strict=True):
            opt.load_state_dict(s)
        for k, v in state["rb"].items():
            self.rb[k][: len(v)] = v
        self.rb_len, self.rb_pos = len(state["rb"]["obs"]), state["rb_pos"]
        self.rng.bit_generator.state, self.env.unwrapped.np_random.bit_generator.state = state["rng"], state["env_rng"]
        self.gen.set_state(state["gen"])
        self.num_timesteps, self.num_updates = state["counters"]
        self._obs = None

    def save(self, path: str | Path) -> Path:
        path = Path(path).with_suffix(".pt")
        torch.save({"config": dataclasses.asdict(self.c), "actor": self.nets.actor.state_dict()}, path)
        return path

    @classmethod
    def load(cls, path: str | Path, env: gym.Env, device: str = "cpu") -> TD3:
        data = torch.load(path, map_location=device, weights_only=True)
        agent = cls(env, Config(**{**data["config"], "net_arch": tuple(data["config"]["net_arch"])}), 0, device)
        agent.nets.actor.load_state_dict(data["actor"])
        return agent

    # The parity kit's adapter (docs/agents.md): SB3's weights in, one update on a given batch, weights out.
    def _layers(self) -> dict[str, nn.Module]:
        n = self.nets
        named = {"actor": n.actor, "actor_target": n.actor_target}
        for i in range(self.c.n_critics):
            named |= {f"qf{i}": n.qfs[i], f"qf{i}_target": n.qfs_target[i]}
        return named

    def parity_load(self, weights: dict[str, list[torch.Tensor]]) -> None:
        with torch.no_grad():
            for name, net in self._layers().items():
                for p, w in zip(net.parameters(), weights[name], strict=True):
                    p.copy_(w)

    def parity_update(self, batch: Any, generator: torch.Generator | None = None) -> None:
        data = {
            "obs": batch.observations,
            "actions": batch.actions,
            "rewards": batch.rewards,
            "next_obs": batch.next_observations,
            "dones": batch.dones,
        }
        self.num_updates += 1
        update(self.nets, self.opts, data, self.c, self.num_updates, generator or self.gen)

    def parity_weights(self) -> dict[str, list[torch.Tensor]]:
        return {name: [p.detach().clone() for p in net.parameters()] for name, net in self._layers().items()}
