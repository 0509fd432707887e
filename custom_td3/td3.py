"""TD3 (Fujimoto, van Hoof and Meger, 2018) with prioritized replay and n-step returns as switches.

Read top to bottom: the agent acts (random warm-up, then the actor plus Gaussian noise whose
std may decay with ``noise_schedule``, or the actor under NoisyNets weight noise),
stores transitions through an n-step accumulator into a replay buffer, and after every
``train_freq`` steps runs ``gradient_steps`` updates of ``train()``: the critic step on the
clipped double-Q target with target-policy smoothing, then every ``policy_delay`` updates the
actor step and the Polyak averaging of both target networks.

The buffer always returns the same Batch (weights and per-sample discounts included), so the
update has no branches for PER or n-step: uniform replay gives weights of 1, one-step
transitions carry gamma, and priority updates are a no-op for uniform replay.

Exploration options (all off by default):

* ``noisy_nets``: the actor's linear layers are factorized NoisyLinear layers (``noisy.py``).
  A fresh noise draw perturbs the actor for every exploring action and for every actor update
  (one draw per minibatch, as the paper draws one per step and per batch). Deterministic
  ``predict`` and the target actor use the mean weights, so TD3's target-policy smoothing stays
  the only noise in the critic's target. The noise comes from ``noise_gen``, which checkpoints save.
* ``noise_schedule``: the Gaussian action-noise std at env step t is
  ``schedules.SCHEDULES[noise_schedule](noise_std, noise_std_final, noise_decay_steps, t)``.
* ``episode_length_schedule``: training episodes end, truncated, after the curriculum's cap of
  steps for their episode number; the environment's own time limit still applies. The cap lives
  in ``learn``'s loop only, so evaluation, which runs ``predict`` on its own environment, is unaffected.

Precision: ``set_precision("bf16")`` runs the updates' matrix products with bf16 operands
(``torch.autocast``) while weights, Adam's state and the losses stay fp32; acting stays fp32.
The default, ``"fp32"``, runs the update exactly as written.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import gymnasium as gym
import numpy as np
import torch

from custom_td3.config import TD3Config
from custom_td3.networks import Actor, Critic
from custom_td3.noisy import NoisyLinear, perturbed
from custom_td3.nstep import NStepAccumulator
from custom_td3.replay import Batch, PrioritizedReplayBuffer, ReplayBuffer
from custom_td3.schedules import SCHEDULES, episode_step_cap
from custom_td3.serialization import compact, safe_load

if TYPE_CHECKING:
    from custom_td3.group import TD3Group

PRECISIONS = ("fp32", "bf16")


class TrainingDiverged(FloatingPointError):
    """A loss became NaN or infinite; the update was not applied."""


class ScalarLogger(Protocol):
    """Where ``set_logger`` sends training scalars: ``record(tag, value, env_step)`` every ``every`` updates."""

    every: int

    def record(self, tag: str, value: float, step: int) -> None: ...


class TD3:
    """The agent. ``env`` has a Box action space; actions are learned in [-1, 1] and rescaled."""

    #: Its hyperparameters: ``TD3(env, TD3.Config(...), seed, device)``, the form any agent may take.
    Config = TD3Config
    num_timesteps: int
    num_updates: int

    def __init__(
        self, env: gym.Env, config: TD3Config | None = None, seed: int = 0, device: str | torch.device = "cpu"
    ):
        self.env, self.config, self.device = env, config or TD3Config(), torch.device(device)
        c = self.config
        action_space, obs_shape = env.action_space, env.observation_space.shape
        if not isinstance(action_space, gym.spaces.Box) or obs_shape is None:
            raise TypeError(
                f"TD3 needs a Box action space and an observation space with a shape; got "
                f"{action_space} and {env.observation_space}"
            )
        obs_dim = int(np.prod(obs_shape))
        act_dim = int(np.prod(action_space.shape))
        self.action_low, self.action_high = action_space.low, action_space.high

        torch.manual_seed(seed)  # network initialisation
        self.rng = np.random.default_rng(seed)  # warm-up actions, exploration noise, replay sampling
        # Target smoothing noise and NoisyNets weight noise.
        self.noise_gen = torch.Generator(device=self.device).manual_seed(seed)

        linear = partial(NoisyLinear, sigma0=c.noisy_sigma0) if c.noisy_nets else torch.nn.Linear
        self.actor = Actor(obs_dim, act_dim, c.net_arch, c.activation_fn, linear).to(self.device)
        self.critic = Critic(obs_dim, act_dim, c.net_arch, c.activation_fn).to(self.device)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        # One fused kernel per step instead of a dozen elementwise passes per parameter.
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=c.learning_rate, fused=True)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=c.learning_rate, fused=True)

        buffer_cls = PrioritizedReplayBuffer if c.prioritized else ReplayBuffer
        per = {"alpha": c.per_alpha, "eps": c.per_eps} if c.prioritized else {}
        self.buffer = buffer_cls(c.buffer_size, obs_dim, act_dim, self.rng, self.device, **per)
        self.nstep = NStepAccumulator(c.n_steps, c.gamma)

        self.num_timesteps = 0
        self.num_updates = 0
        self.num_episodes = 0
        self.episode_steps = 0  # steps of the current training episode, for episode_length_schedule
        self.rollout_steps = 0  # env steps of the current rollout (SB3's unit: train_freq steps or episodes)
        self._obs: np.ndarray | None = None  # None: the next step starts a new episode
        self.last_losses: dict[str, torch.Tensor] = {}
        self._total_steps = 1  # of the current learn() call: drives PER's beta and the lr schedule
        self._beta = c.per_beta0  # PER's importance-sampling exponent of the current round
        self.logger: ScalarLogger | None = None
        self.precision = "fp32"  # of the gradient updates (set_precision); not saved
        self._precision_hooks: list[Any] = []

    @classmethod
    def group(
        cls,
        envs: Sequence[gym.Env],
        config: TD3Config | None,
        seeds: Sequence[int],
        device: str | torch.device = "cpu",
        products: str = "batched",
    ) -> TD3Group:
        """K agents, member k ``TD3(envs[k], config, seeds[k], device)``, trained in lockstep by one batched
        update (``group.py``); ``products="loop"`` runs each member's own ``train()`` instead."""
        from custom_td3.group import TD3Group

        return TD3Group.create(envs, config, seeds, device, products)

    @classmethod
    def group_of(cls, members: Sequence[TD3], products: str = "batched") -> TD3Group:
        """A seed group of agents already built, each exactly as alone (the harness's SEED_GROUPS builds
        every member with its own seeding, env and run directory, then groups them here)."""
        from custom_td3.group import TD3Group

        return TD3Group(members, products)

    # ------------------------------------------------------------------ the update
    def train(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One gradient step on ``batch``; returns the losses (detached tensors). Priorities are
        updated from the twin critics' absolute TD errors (the larger of the two per sample)."""
        c = self.config
        with self._update_precision():  # bf16 products under set_precision("bf16"); fp32 as written
            with torch.no_grad():
                # Target policy smoothing: clipped Gaussian noise on the target action.
                noise = torch.empty_like(batch.actions).normal_(0.0, c.target_policy_noise, generator=self.noise_gen)
                noise = noise.clamp(-c.target_noise_clip, c.target_noise_clip)
                next_actions = (self.actor_target(batch.next_observations) + noise).clamp(-1.0, 1.0)
                # Clipped double-Q: the smaller of the two target critics.
                next_q = torch.min(*self.critic_target(batch.next_observations, next_actions))
                target_q = batch.rewards + (1.0 - batch.dones) * batch.discounts * next_q

            q1, q2 = self.critic(batch.observations, batch.actions)
            critic_loss = _weighted_mse(q1, target_q, batch.weights) + _weighted_mse(q2, target_q, batch.weights)
            _require_finite(critic_loss, "critic loss", self.num_updates + 1)
            self.critic_optimizer.zero_grad()
            critic_loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
            self.critic_optimizer.step()
            self.num_updates += 1
            with torch.no_grad():
                td_errors = torch.maximum((q1 - target_q).abs(), (q2 - target_q).abs())
            self.buffer.update_priorities(batch.indices, td_errors.squeeze(1).cpu().numpy())

            info = {"critic_loss": critic_loss.detach()}
            # Delayed policy updates: the actor and both targets move every policy_delay critic steps.
            if self.num_updates % c.policy_delay == 0:
                self.critic.requires_grad_(False)  # the actor step needs dQ/da, not the critic's weight gradients
                try:
                    with self._actor_noise(c.noisy_nets):
                        actions = self.actor(batch.observations)
                    actor_loss = -self.critic.q1(batch.observations, actions).float().mean()
                    _require_finite(actor_loss, "actor loss", self.num_updates)
                    self.actor_optimizer.zero_grad()
                    actor_loss.backward()  # type: ignore[no-untyped-call]
                    self.actor_optimizer.step()
                finally:
                    self.critic.requires_grad_(True)
                _polyak(self.critic, self.critic_target, c.tau)
                _polyak(self.actor, self.actor_target, c.tau)
                info["actor_loss"] = actor_loss.detach()
            self.last_losses.update(info)
            if self.logger is not None and self.num_updates % self.logger.every == 0:
                self._log(q1)
            return info

    def set_precision(self, precision: str) -> None:
        """Run the gradient updates at ``"fp32"`` or ``"bf16"`` (bf16 matrix products, fp32 weights,
        optimizer state and losses: automatic mixed precision); acting and evaluation stay fp32."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}; accepted: {', '.join(PRECISIONS)}")
        self.precision = precision
        for handle in self._precision_hooks:
            handle.remove()
        self._precision_hooks = []
        if precision == "bf16":
            # Only the products in bf16: every layer's output goes on in fp32. A tanh computed in bf16
            # rounds to exactly +-1 once saturated and passes back a zero gradient, so an actor that
            # reached an action bound could never leave it.
            nets = (self.actor, self.critic, self.actor_target, self.critic_target)
            self._precision_hooks = [
                m.register_forward_hook(_upcast)
                for net in nets
                for m in net.modules()
                if isinstance(m, (torch.nn.Linear, NoisyLinear))
            ]

    def _update_precision(self) -> contextlib.AbstractContextManager[Any]:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def set_logger(self, logger: ScalarLogger | None) -> None:
        """Send training scalars to ``logger`` (TensorBoard, say) every ``logger.every`` updates; None stops."""
        self.logger = logger

    def _log(self, q1: torch.Tensor) -> None:
        """The training scalars, under Stable-Baselines3's tag names where SB3 has the concept."""
        assert self.logger is not None
        c, step = self.config, self.num_timesteps
        scalars = {
            "train/critic_loss": self.last_losses["critic_loss"].item(),
            "train/q_mean": q1.detach().mean().item(),
            "train/learning_rate": self.critic_optimizer.param_groups[0]["lr"],
            "train/n_updates": self.num_updates,
            "train/n_steps": c.n_steps,
        }
        if "actor_loss" in self.last_losses:
            scalars["train/actor_loss"] = self.last_losses["actor_loss"].item()
        if c.noise_type == "normal":
            scalars["rollout/noise_std"] = self.exploration_std()
        if isinstance(self.buffer, PrioritizedReplayBuffer):
            scalars["per/beta"] = self._beta
            scalars["per/priority_mean"] = self.buffer.tree.total / max(1, len(self.buffer))
            scalars["per/priority_max"] = self.buffer.max_priority**self.buffer.alpha
        for tag, value in scalars.items():
            self.logger.record(tag, float(value), step)

    def q_value(self, observations: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Q1(s, a) for a batch: observations (N, obs_dim), env-scaled actions (N, act_dim) -> (N,).

        Q1 is the critic the actor ascends (the clipped double-Q minimum enters only the target)."""
        obs = torch.as_tensor(np.asarray(observations), dtype=torch.float32, device=self.device)
        scaled = 2.0 * (np.asarray(actions) - self.action_low) / (self.action_high - self.action_low) - 1.0
        act = torch.as_tensor(scaled, dtype=torch.float32, device=self.device)
        with torch.no_grad():
            q: np.ndarray = self.critic.q1(obs.reshape(len(obs), -1), act.reshape(len(act), -1))[:, 0].cpu().numpy()
        return q

    #: What ``q_value`` estimates, in words (recorded beside the value diagnostics).
    critic_estimate = "Q: the first of the twin critics, the one the actor ascends"

    # ------------------------------------------------------------------ acting
    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Env-scaled action for one observation; with ``deterministic=False`` it explores as training does."""
        return self._scale(self._normalized_action(obs, explore=not deterministic))

    def _normalized_action(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        with torch.no_grad(), self._actor_noise(explore and self.config.noisy_nets):
            x = torch.as_tensor(obs, dtype=torch.float32, device=self.device).reshape(1, -1)
            action: np.ndarray = self.actor(x)[0].cpu().numpy()
        return self._with_action_noise(action) if explore else action

    def _with_action_noise(self, action: np.ndarray) -> np.ndarray:
        """The actor's normalized ``action`` plus the Gaussian exploration noise, if it is on, clipped to [-1, 1]."""
        if self.config.noise_type == "normal":
            action = np.clip(action + self.rng.normal(0.0, self.exploration_std(), action.shape), -1.0, 1.0)
        return action

    def exploration_std(self) -> float:
        """Std of the Gaussian action noise at the current env step, as ``noise_schedule`` sets it."""
        c = self.config
        return SCHEDULES[c.noise_schedule](c.noise_std, c.noise_std_final, c.noise_decay_steps, self.num_timesteps)

    def _actor_noise(self, noisy: bool) -> contextlib.AbstractContextManager[None]:
        """NoisyNets: a fresh weight-noise draw on the actor for the block when ``noisy``; else its mean weights."""
        return perturbed(self.actor, self.noise_gen) if noisy else contextlib.nullcontext()

    def _scale(self, action: np.ndarray) -> np.ndarray:
        """[-1, 1] -> [low, high]."""
        scaled: np.ndarray = self.action_low + 0.5 * (action + 1.0) * (self.action_high - self.action_low)
        return scaled

    # ------------------------------------------------------------------ the loop
    def learn(self, total_steps: int, callback: Callable[[int], bool] | None = None) -> TD3:
        """Act and train until ``num_timesteps == total_steps``; resumable (call again with a larger total).

        ``callback(num_timesteps)`` runs after every env step; returning False stops here.
        """
        self._total_steps = max(total_steps, 1)
        while self.num_timesteps < total_steps:
            self._begin_step()
            assert self._obs is not None
            action = self._random_action() if self.in_warmup else self._normalized_action(self._obs, explore=True)
            gradient_steps = self._gradient_steps_due(self._step(action))
            if gradient_steps:
                self._train_round(gradient_steps)
            # Last in the step, so a stop here leaves nothing of this step undone.
            if callback is not None and not callback(self.num_timesteps):
                break
        return self

    # The steps of ``learn``, one env step at a time; a seed group (``group.py``) runs them per member.
    def _begin_step(self) -> None:
        """Start a new episode if the last one is over."""
        if self._obs is None:
            self._obs, _ = self.env.reset()

    @property
    def in_warmup(self) -> bool:
        """The next action is a uniform random one (``learning_starts`` not reached)."""
        return self.num_timesteps < self.config.learning_starts

    def _random_action(self) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, self.action_low.shape).astype(np.float32)

    def _step(self, action: np.ndarray) -> bool:
        """Step the env with the normalized ``action`` and store the transitions; True if the episode ended."""
        next_obs, reward, terminated, truncated, _ = self.env.step(self._scale(action))
        self.num_timesteps += 1
        self.rollout_steps += 1
        self.episode_steps += 1
        truncated = truncated or self._episode_cap_reached()
        assert self._obs is not None
        for t in self.nstep.push(self._obs, action, float(reward), next_obs, terminated, truncated):
            self.buffer.add(*t)
        episode_over = bool(terminated or truncated)
        self._obs = None if episode_over else next_obs
        if episode_over:
            self.num_episodes += 1
            self.episode_steps = 0
        return episode_over

    def _gradient_steps_due(self, episode_over: bool) -> int:
        """Gradient steps to run after this env step: 0 unless a rollout ends here (then the rollout restarts)."""
        c = self.config
        due = (
            self.num_timesteps % c.train_freq == 0
            if c.train_freq_unit == "step"
            else episode_over and self.num_episodes % c.train_freq == 0
        )
        if not due:
            return 0
        # A rollout ends: train as SB3 does, gradient_steps -1 meaning one per step of this rollout.
        steps = self.rollout_steps if c.gradient_steps == -1 else c.gradient_steps
        self.rollout_steps = 0
        # n-step windows reach the buffer n-1 steps late: never train on an empty buffer.
        return steps if self.num_timesteps > c.learning_starts and len(self.buffer) > 0 else 0

    def _episode_cap_reached(self) -> bool:
        """The curriculum ends this episode here: a truncation, so its last transition is bootstrapped."""
        schedule = self.config.episode_length_schedule
        return schedule is not None and self.episode_steps >= episode_step_cap(schedule, self.num_episodes)

    def _train_round(self, gradient_steps: int) -> None:
        beta = self._start_round()
        for _ in range(gradient_steps):
            self.train(self.buffer.sample(self.config.batch_size, beta))

    def _start_round(self) -> float:
        """Set this round's learning rate (``lr_schedule``) and return PER's beta, both from the run's progress."""
        c = self.config
        progress = min(1.0, self.num_timesteps / self._total_steps)
        if c.lr_schedule == "linear":
            for opt in (self.actor_optimizer, self.critic_optimizer):
                for group in opt.param_groups:
                    group["lr"] = c.learning_rate * (1.0 - progress)
        beta = c.per_beta0 + (1.0 - c.per_beta0) * progress  # annealed to 1 by the end of the run
        self._beta = beta
        return beta

    # ------------------------------------------------------------------ health
    @property
    def at_episode_boundary(self) -> bool:
        """True between episodes: a checkpoint taken now resumes exactly."""
        return self._obs is None

    def diagnose(self) -> str | None:
        """None if the last losses and every parameter are finite, else what is not."""
        for name, loss in self.last_losses.items():
            if not torch.isfinite(loss):
                return f"{name} is {loss.item()} at update {self.num_updates}"
        for net in ("actor", "critic"):
            for pname, param in getattr(self, net).named_parameters():
                if not torch.isfinite(param).all():
                    return f"parameter {net}.{pname} is not finite at update {self.num_updates}"
        return None

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write what acting needs (config, actor, action bounds) to ``path`` with suffix .pt."""
        path = Path(path).with_suffix(".pt")
        torch.save(
            {
                "config": dataclasses.asdict(self.config),
                "actor": compact(self.actor.state_dict()),
                "action_low": self.action_low,
                "action_high": self.action_high,
            },
            path,
        )
        return path

    @classmethod
    def load(cls, path: str | Path, env: gym.Env, device: str | torch.device = "cpu") -> TD3:
        """An agent whose actor is the saved one (for predict; training state is in checkpoints)."""
        data = safe_load(Path(path), map_location=device)
        agent = cls(env, TD3Config(**data["config"]), device=device)
        agent.actor.load_state_dict(data["actor"])
        agent.actor_target.load_state_dict(data["actor"])
        return agent

    def state_dict(self) -> dict[str, Any]:
        """The whole training state: networks, optimizers, buffer with priorities, RNGs, counters.

        Restoring it and continuing reproduces an uninterrupted run exactly when it was taken at an
        episode boundary (the environment's own RNG is saved; its physics state cannot be).
        """
        env_rng = getattr(self.env.unwrapped, "np_random", None)
        # compact: a member of a seed group holds views into its group's stacked tensors (group.py).
        return {
            "config": dataclasses.asdict(self.config),
            "actor": compact(self.actor.state_dict()),
            "critic": compact(self.critic.state_dict()),
            "actor_target": compact(self.actor_target.state_dict()),
            "critic_target": compact(self.critic_target.state_dict()),
            "actor_optimizer": compact(self.actor_optimizer.state_dict()),
            "critic_optimizer": compact(self.critic_optimizer.state_dict()),
            "buffer": self.buffer.state_dict(),
            "nstep": self.nstep.state_dict(),
            "rng": self.rng.bit_generator.state,
            "noise_gen": self.noise_gen.get_state(),
            "env_rng": env_rng.bit_generator.state if env_rng is not None else None,
            "counters": {
                "num_timesteps": self.num_timesteps,
                "num_updates": self.num_updates,
                "num_episodes": self.num_episodes,
                "episode_steps": self.episode_steps,
                "rollout_steps": self.rollout_steps,
            },
            "mid_episode": self._obs is not None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("actor", "critic", "actor_target", "critic_target", "actor_optimizer", "critic_optimizer"):
            getattr(self, name).load_state_dict(state[name])
        self.buffer.load_state_dict(state["buffer"])
        self.nstep.load_state_dict(state["nstep"])
        self.rng.bit_generator.state = state["rng"]
        self.noise_gen.set_state(state["noise_gen"])
        if state["env_rng"] is not None:
            self.env.unwrapped.np_random.bit_generator.state = state["env_rng"]
        counters = dict(state["counters"])
        if "steps_since_train" in counters:  # checkpoints written before the counter was renamed
            counters["rollout_steps"] = counters.pop("steps_since_train")
        for key, value in counters.items():
            setattr(self, key, value)
        self._obs = None
        if state["mid_episode"]:
            # The env cannot be put back mid-episode: the next step starts a fresh episode, and the
            # pending n-step window of the cut one is dropped rather than joined to it.
            self.nstep = NStepAccumulator(self.config.n_steps, self.config.gamma)
            self.episode_steps = 0

    # ------------------------------------------------------------------ the parity kit's adapter
    # (`python -m harness parity`: this update against SB3's TD3 on identical minibatches)
    def _parity_networks(self) -> dict[str, torch.nn.Module]:
        return {
            "actor": self.actor.mu,
            "actor_target": self.actor_target.mu,
            "qf0": self.critic.qf0,
            "qf0_target": self.critic_target.qf0,
            "qf1": self.critic.qf1,
            "qf1_target": self.critic_target.qf1,
        }

    def parity_load(self, weights: dict[str, list[torch.Tensor]]) -> None:
        """Take every network's parameters, in order, from ``weights`` (SB3's layout)."""
        with torch.no_grad():
            for name, net in self._parity_networks().items():
                for param, value in zip(net.parameters(), weights[name], strict=True):
                    param.copy_(value)

    def parity_update(self, batch: Any, generator: torch.Generator | None = None) -> None:
        """One ``train`` step on the kit's batch (one-step transitions, uniform weights), its target noise
        drawn from ``generator`` when one is given."""
        own = self.noise_gen
        self.noise_gen = generator or own
        try:
            self.train(
                Batch(
                    observations=batch.observations,
                    actions=batch.actions,
                    rewards=batch.rewards,
                    next_observations=batch.next_observations,
                    dones=batch.dones,
                    discounts=torch.full_like(batch.rewards, self.config.gamma),
                    weights=torch.ones_like(batch.rewards),
                    indices=np.arange(len(batch.rewards)),
                )
            )
        finally:
            self.noise_gen = own

    def parity_weights(self) -> dict[str, list[torch.Tensor]]:
        return {name: [p.detach().clone() for p in net.parameters()] for name, net in self._parity_networks().items()}


def _require_finite(loss: torch.Tensor, name: str, update: int) -> None:
    if not torch.isfinite(loss):
        raise TrainingDiverged(f"{name} is {loss.item()} at update {update}")


def _upcast(module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
    """A layer's output in fp32 (under bf16 autocast, where the product gave bf16)."""
    return output.float() if output.dtype == torch.bfloat16 else output


def _weighted_mse(q: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """mean(w * (q - target)^2): importance-weighted for PER; F.mse_loss exactly when w = 1."""
    return (weights * (q - target).square()).mean()


def _polyak(net: torch.nn.Module, target: torch.nn.Module, tau: float) -> None:
    """target <- (1 - tau) * target + tau * net, parameter by parameter, in place."""
    with torch.no_grad():
        for param, target_param in zip(net.parameters(), target.parameters(), strict=True):
            target_param.mul_(1.0 - tau).add_(param, alpha=tau)
