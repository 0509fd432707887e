"""Our TD3 update equals SB3's TD3.train given the same weights, minibatches and noise."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import TD3 as SB3TD3
from stable_baselines3.common.logger import configure

from custom_td3 import TD3, TD3Config
from custom_td3.replay import Batch

STEPS = 100


def _sb3_and_ours(policy_delay: int):
    env = gym.make("Pendulum-v1")
    kwargs = dict(
        learning_rate=1e-3,
        buffer_size=5000,
        learning_starts=0,
        batch_size=64,
        tau=0.005,
        gamma=0.98,
        policy_delay=policy_delay,
        target_policy_noise=0.2,
        target_noise_clip=0.5,
    )
    sb3 = SB3TD3("MlpPolicy", env, policy_kwargs={"net_arch": [64, 64]}, seed=0, **kwargs)
    sb3.set_logger(configure(None, []))
    ours = TD3(env, TD3Config(net_arch=(64, 64), **kwargs), seed=1)  # other seed: weights are copied below
    ours.actor.mu.load_state_dict(sb3.actor.mu.state_dict())
    ours.actor_target.mu.load_state_dict(sb3.actor_target.mu.state_dict())
    for name in ("qf0", "qf1"):
        getattr(ours.critic, name).load_state_dict(getattr(sb3.critic, name).state_dict())
        getattr(ours.critic_target, name).load_state_dict(getattr(sb3.critic_target, name).state_dict())
    return env, sb3, ours


def _fill(sb3, env, n=2000, seed=0):
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    for _ in range(n):
        action = rng.uniform(-2, 2, size=(1,)).astype(np.float32)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        done = terminated or truncated
        sb3.replay_buffer.add(
            obs[None],
            next_obs[None],
            action[None] / 2.0,
            np.array([reward]),
            np.array([done]),
            [{"TimeLimit.truncated": truncated}],
        )
        obs = env.reset()[0] if done else next_obs


def _params(agent_nets):
    return {f"{i}.{k}": v.detach().clone() for i, net in enumerate(agent_nets) for k, v in net.state_dict().items()}


@pytest.mark.parametrize("policy_delay", [2, 1])
def test_100_updates_match_sb3(policy_delay, each_backend):
    env, sb3, ours = _sb3_and_ours(policy_delay)
    initial_actor = _params([sb3.actor.mu])
    _fill(sb3, env)
    np.random.seed(0)
    batches = [sb3.replay_buffer.sample(64) for _ in range(STEPS)]
    feed = iter(batches)
    sb3.replay_buffer.sample = lambda *args, **kwargs: next(feed)

    torch.manual_seed(123)  # SB3 draws the target smoothing noise from torch's global generator
    sb3.train(gradient_steps=STEPS, batch_size=64)
    ours.noise_gen.manual_seed(123)
    for b in batches:
        ones = torch.ones_like(b.rewards)
        ours.train(
            Batch(
                b.observations,
                b.actions,
                b.rewards,
                b.next_observations,
                b.dones,
                ones * ours.config.gamma,
                ones,
                np.arange(len(ones)),
            )
        )

    theirs = _params(
        [
            sb3.actor.mu,
            sb3.actor_target.mu,
            sb3.critic.qf0,
            sb3.critic.qf1,
            sb3.critic_target.qf0,
            sb3.critic_target.qf1,
        ]
    )
    mine = _params(
        [
            ours.actor.mu,
            ours.actor_target.mu,
            ours.critic.qf0,
            ours.critic.qf1,
            ours.critic_target.qf0,
            ours.critic_target.qf1,
        ]
    )
    assert sb3._n_updates == ours.num_updates == STEPS
    diff = max((theirs[k] - mine[k]).abs().max().item() for k in theirs)
    assert diff < 1e-5
    moved = max((theirs[k] - v).abs().max().item() for k, v in initial_actor.items())
    assert moved > 1e-3  # not vacuous: the actor did change
