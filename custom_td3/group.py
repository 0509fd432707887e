"""A seed group: K members of our TD3, each an ordinary agent with its own seed, env, replay buffer,
n-step window, generators, networks and Adam state, trained in lockstep by one batched update.

``TD3.group(envs, config, seeds).learn(total_steps, callback)`` steps every member's env once per
step, acts for all members with one stacked forward pass of their actors, and runs one update for
all of them at once: the update below is ``TD3.train`` line by line with a leading member axis on
every tensor (the members' weights stacked as (K, out, in), ``stacked.py``). Per member it is the
single agent's mathematics: its own minibatch from its own buffer (PER: its own sum tree, weights and
priority updates), its own target-smoothing and NoisyNets noise from its own generator, n-step
discounts, clipped double Q, policy delay, Polyak averaging, its learning rate and PER beta from its
own progress. Member k of a group learns what ``TD3(env_k, config, seed_k)`` alone learns, to fp32
rounding (products summed in another order); ``products="loop"`` runs each member's own ``train()``
instead and is bit-identical to the single agent.

What runs per member, not batched: env steps, n-step windows, replay storage and sampling (numpy),
exploration noise, the noise draws (one generator per member), priority updates, TensorBoard scalars.
An update whose members are not all due together (``train_freq`` in episodes, ``gradient_steps: -1``,
members at different steps or policy-delay phases) runs through each due member's own ``train()``.

A member whose loss turns non-finite is recorded in ``diverged`` (the message ``TrainingDiverged``
would carry) and leaves the group, its update not applied, while the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import gymnasium as gym
import numpy as np
import torch

from custom_td3.config import TD3Config
from custom_td3.noisy import NoisyLinear
from custom_td3.replay import Batch, PrioritizedReplayBuffer, stack_batches
from custom_td3.stacked import Noise, Stack
from custom_td3.td3 import TD3, TrainingDiverged

PRODUCTS = ("batched", "loop")


class _Diverged(Exception):
    """Members (positions in the stack) whose loss is not finite, with the single agent's messages."""

    def __init__(self, positions: list[int], messages: list[str]):
        super().__init__(messages)
        self.positions, self.messages = positions, messages


@dataclass
class _Inputs:
    """What one batched update draws before it computes, one row per member of the stack."""

    batch: Batch
    target_noise: torch.Tensor  # (K, B, act_dim), clipped
    actor_noise: Noise | None = None  # NoisyNets, drawn once the critic step is through
    q1: torch.Tensor | None = None  # (K, B, 1) of the critic step, for the members' scalars

    def select(self, rows: list[int]) -> _Inputs:
        """These inputs for the members at positions ``rows`` only."""
        b = self.batch
        fields = {f: getattr(b, f)[rows] for f in b._fields if f != "indices"}
        return _Inputs(
            Batch(**fields, indices=b.indices[rows]),
            self.target_noise[rows],
            [(e_in[rows], e_out[rows]) for e_in, e_out in self.actor_noise] if self.actor_noise else None,
            self.q1[rows] if self.q1 is not None else None,
        )


class TD3Group:
    """K TD3 agents of one config trained together; ``members[k]`` is an ordinary ``TD3`` at all times."""

    def __init__(self, members: Sequence[TD3], products: str = "batched"):
        if products not in PRODUCTS:
            raise ValueError(f"products = {products!r}; accepted: {', '.join(map(repr, PRODUCTS))}")
        if not members:
            raise ValueError("a seed group needs at least one member")
        if len({m.config for m in members}) > 1 or len({m.device for m in members}) > 1:
            raise ValueError("a seed group's members need one config and one device")
        self.members = list(members)
        self.products = products
        self.active = list(range(len(members)))  # members not removed, in order
        self.diverged: dict[int, str] = {}
        self._running: list[int] = []  # members stepping in the current learn call, in the stack's order
        self._stack: Stack | None = None

    @classmethod
    def create(
        cls,
        envs: Sequence[gym.Env],
        config: TD3Config | None,
        seeds: Sequence[int],
        device: str | torch.device = "cpu",
        products: str = "batched",
    ) -> TD3Group:
        """Member k is ``TD3(envs[k], config, seeds[k], device)``, built exactly as alone."""
        if len(envs) != len(seeds):
            raise ValueError(f"{len(envs)} envs for {len(seeds)} seeds; accepted: one env per seed")
        return cls([TD3(env, config, seed, device) for env, seed in zip(envs, seeds, strict=True)], products)

    def remove(self, k: int) -> None:
        """Member k leaves the group: it is no longer stepped or trained (its agent stays in ``members``)."""
        if k not in self.active:
            raise ValueError(f"member {k} is not in the group; its members are {self.active}")
        self.active.remove(k)
        if k in self._running:
            self._set_running([j for j in self._running if j != k])

    # ------------------------------------------------------------------ the loop
    def learn(self, total_steps: int, callback: Callable[[int, int], bool] | None = None) -> TD3Group:
        """Step every active member until its ``num_timesteps == total_steps``, all in lockstep.

        ``callback(k, num_timesteps)`` runs for member k after each of its env steps; returning False
        stops member k for this call (a later call continues it), while the others go on.
        """
        for k in self.active:
            self.members[k]._total_steps = max(total_steps, 1)
        try:
            self._set_running([k for k in self.active if self.members[k].num_timesteps < total_steps])
            while self._running:
                stepping = list(self._running)
                rounds = {}
                for k, action in zip(stepping, self._actions(stepping), strict=True):
                    member = self.members[k]
                    gradient_steps = member._gradient_steps_due(member._step(action))
                    if gradient_steps:
                        rounds[k] = gradient_steps
                self._train_rounds(rounds)
                done = []
                for k in stepping:
                    if k not in self._running:  # diverged in this step: no callback, as the single agent raises
                        continue
                    step = self.members[k].num_timesteps
                    go_on = callback is None or callback(k, step)  # the last step too, as the single agent
                    if step >= total_steps or not go_on:
                        done.append(k)
                if done:
                    self._set_running([k for k in self._running if k not in done])
        finally:
            self._set_running([])
        return self

    def _set_running(self, running: list[int]) -> None:
        """Restack when the stepping members change; members that leave get their own storage back."""
        if self._stack is not None:
            if running == self._running:
                return
            self._stack.release()
            self._stack = None
        self._running = running
        if running and self.products == "batched":
            self._stack = Stack([self.members[k] for k in running])

    def _actions(self, stepping: list[int]) -> list[np.ndarray]:
        """Normalized actions of the stepping members: random in the warm-up, else each actor's (with its
        NoisyNets draw) from one stacked forward pass, then each member's own exploration noise."""
        members = [self.members[k] for k in stepping]
        for m in members:
            m._begin_step()
        acting = [i for i, m in enumerate(members) if not m.in_warmup]
        if self._stack is None or not acting:  # products="loop": each member acts as it does alone
            return [
                m._normalized_action(m._obs, explore=True) if i in acting and m._obs is not None else m._random_action()
                for i, m in enumerate(members)
            ]
        noise = _actor_noise(members, acting) if self._stack.noisy else None
        obs = np.stack([np.asarray(m._obs, dtype=np.float32).reshape(-1) for m in members])
        with torch.no_grad():
            x = torch.as_tensor(obs, device=members[0].device).unsqueeze(1)
            means = self._stack.actor(x, noise)[:, 0].cpu().numpy()
        return [m._with_action_noise(means[i]) if i in acting else m._random_action() for i, m in enumerate(members)]

    # ------------------------------------------------------------------ the updates
    def _train_rounds(self, rounds: dict[int, int]) -> None:
        """Each member k in ``rounds`` runs ``rounds[k]`` gradient steps, batched where all run together."""
        betas = {k: self.members[k]._start_round() for k in rounds}
        for g in range(max(rounds.values(), default=0)):
            due = [k for k in rounds if rounds[k] > g and k in self._running]
            if self._stack is not None and due == self._running and self._in_phase(due):
                self._batched_update([betas[k] for k in due])
            else:
                for k in due:
                    self._member_update(k, betas[k])

    def _in_phase(self, ks: list[int]) -> bool:
        """All members at one point of the policy delay and at one precision: one update fits all."""
        delay = self.members[ks[0]].config.policy_delay
        return len({self.members[k].num_updates % delay for k in ks}) == 1 and (
            len({self.members[k].precision for k in ks}) == 1
        )

    def _member_update(self, k: int, beta: float) -> None:
        """Member k's own ``train()`` on its own minibatch (its weights are the stack's slices, if any)."""
        member = self.members[k]
        try:
            member.train(member.buffer.sample(member.config.batch_size, beta))
        except TrainingDiverged as error:
            self._diverge([k], [str(error)])

    def _diverge(self, ks: list[int], messages: list[str]) -> None:
        for k, message in zip(ks, messages, strict=True):
            self.diverged[k] = message
            self.active.remove(k)
        self._set_running([k for k in self._running if k not in ks])

    def _batched_update(self, betas: list[float]) -> None:
        """``TD3.train`` for every running member at once: the critic step, then every ``policy_delay``
        updates the actor step and Polyak averaging; a member whose loss is not finite leaves first."""
        assert self._stack is not None
        members = self._stack.members
        c = members[0].config
        draws = [m.buffer.draw(c.batch_size, beta) for m, beta in zip(members, betas, strict=True)]
        batch = stack_batches([m.buffer for m in members], draws)
        # Target policy smoothing noise, drawn as the single agent draws it: (B, act_dim) from each generator.
        noise = torch.stack(
            [
                torch.empty_like(batch.actions[0]).normal_(0.0, c.target_policy_noise, generator=m.noise_gen)
                for m in members
            ]
        )
        inputs = self._until_finite(
            self._critic_step, _Inputs(batch, noise.clamp(-c.target_noise_clip, c.target_noise_clip))
        )
        if inputs is not None and self._stack is not None and self._stack.members[0].num_updates % c.policy_delay == 0:
            if self._stack.noisy:
                inputs = replace(inputs, actor_noise=_actor_noise(self._stack.members, range(len(self._stack))))
            inputs = self._until_finite(self._actor_step, inputs)
        if inputs is None or self._stack is None:
            return
        for i, m in enumerate(self._stack.members):
            if m.logger is not None and m.num_updates % m.logger.every == 0:
                assert inputs.q1 is not None
                m._log(inputs.q1[i])

    def _until_finite(self, step: Callable[[_Inputs], None], inputs: _Inputs) -> _Inputs | None:
        """Run ``step``; while members' losses are not finite, record them, drop them and rerun it for the
        others on their same inputs. The inputs of the members left; None when none is."""
        while True:
            try:
                step(inputs)
                return inputs
            except _Diverged as d:
                keep = [i for i in range(len(self._running)) if i not in d.positions]
                self._diverge([self._running[i] for i in d.positions], d.messages)
                if not keep:
                    return None
                inputs = inputs.select(keep)

    def _critic_step(self, x: _Inputs) -> None:
        assert self._stack is not None
        stack, b = self._stack, x.batch
        members = stack.members
        with members[0]._update_precision():
            with torch.no_grad():
                next_actions = (stack.actor(b.next_observations, target=True) + x.target_noise).clamp(-1.0, 1.0)
                next_q = torch.min(*stack.critic(b.next_observations, next_actions, target=True))
                target_q = b.rewards + (1.0 - b.dones) * b.discounts * next_q
            q1, q2 = stack.critic(b.observations, b.actions)
            critic_loss = _weighted_mse(q1, target_q, b.weights) + _weighted_mse(q2, target_q, b.weights)
            _require_finite(critic_loss, "critic loss", [m.num_updates + 1 for m in members])
            grads = torch.autograd.grad(critic_loss.sum(), list(stack.params["critic"].values()))
            stack.critic_adam.step(grads, _learning_rate([m.critic_optimizer for m in members]))
            for i, m in enumerate(members):
                m.num_updates += 1
                m.last_losses["critic_loss"] = critic_loss[i].detach()
            if isinstance(members[0].buffer, PrioritizedReplayBuffer):  # uniform replay: no sync for a no-op
                with torch.no_grad():
                    td_errors = torch.maximum((q1 - target_q).abs(), (q2 - target_q).abs()).squeeze(2).cpu().numpy()
                for i, m in enumerate(members):
                    m.buffer.update_priorities(b.indices[i], td_errors[i])
        x.q1 = q1.detach()

    def _actor_step(self, x: _Inputs) -> None:
        assert self._stack is not None
        stack, b = self._stack, x.batch
        members = stack.members
        with members[0]._update_precision():
            actions = stack.actor(b.observations, x.actor_noise)
            actor_loss = -stack.q1(b.observations, actions).float().mean(dim=(1, 2))
            _require_finite(actor_loss, "actor loss", [m.num_updates for m in members])
            grads = torch.autograd.grad(actor_loss.sum(), list(stack.params["actor"].values()))
            stack.actor_adam.step(grads, _learning_rate([m.actor_optimizer for m in members]))
        stack.polyak(members[0].config.tau)
        for i, m in enumerate(members):
            m.last_losses["actor_loss"] = actor_loss[i].detach()


def _actor_noise(members: Sequence[TD3], drawing: Sequence[int]) -> Noise:
    """NoisyNets: one weight-noise draw per member in ``drawing`` from its own generator, in the order
    ``noisy.perturbed`` draws them; zeros (the mean weights) for the others. Per layer (K, in), (K, out)."""
    per_member = []
    for i, m in enumerate(members):
        draws = []
        for layer in (mod for mod in m.actor.modules() if isinstance(mod, NoisyLinear)):
            if i in drawing:
                layer.sample_noise(m.noise_gen)
                assert layer.noise is not None
                draws.append(layer.noise)
                layer.noise = None
            else:
                zeros = layer.weight_mu.new_zeros
                draws.append((zeros(layer.in_features), zeros(layer.out_features)))
        per_member.append(draws)
    return [
        (torch.stack([d[j][0] for d in per_member]), torch.stack([d[j][1] for d in per_member]))
        for j in range(len(per_member[0]))
    ]


def _require_finite(losses: torch.Tensor, name: str, updates: list[int]) -> None:
    """One check (one sync) for all members' losses (K,); the single agent's message for each bad one."""
    if not bool(torch.isfinite(losses).all()):
        bad = [i for i, finite in enumerate(torch.isfinite(losses).tolist()) if not finite]
        raise _Diverged(bad, [f"{name} is {losses[i].item()} at update {updates[i]}" for i in bad])


def _weighted_mse(q: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """mean(w * (q - target)^2) per member: (K, B, 1) -> (K,)."""
    return (weights * (q - target).square()).mean(dim=(1, 2))


def _learning_rate(optimizers: list[torch.optim.Optimizer]) -> float | torch.Tensor:
    """The members' learning rates: one number when they agree (a lockstep group), else (K,)."""
    rates = [opt.param_groups[0]["lr"] for opt in optimizers]
    if len(set(rates)) == 1:
        return float(rates[0])
    return torch.tensor(rates, dtype=torch.float64, device=optimizers[0].param_groups[0]["params"][0].device)
