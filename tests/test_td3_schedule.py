"""Our TD3 makes exactly as many gradient steps as SB3's TD3 at the same settings."""

import gymnasium as gym
import pytest
from stable_baselines3 import TD3 as SB3TD3

from custom_td3 import TD3, TD3Config

TOTAL = 600  # Pendulum's episodes are 200 steps: three episodes, and every train_freq below divides both


@pytest.mark.parametrize(
    "train_freq, unit, gradient_steps, learning_starts",
    [
        (1, "step", 1, 100),
        (4, "step", 2, 100),
        (5, "step", -1, 100),
        (1, "step", -1, 250),
        (1, "episode", -1, 250),
        (3, "episode", 2, 0),
        (1, "episode", -1, 0),
    ],
)
def test_num_updates_equal_sb3s(train_freq, unit, gradient_steps, learning_starts):
    settings = dict(
        train_freq=train_freq,
        gradient_steps=gradient_steps,
        learning_starts=learning_starts,
        batch_size=16,
        buffer_size=2000,
    )
    sb3 = SB3TD3(
        "MlpPolicy",
        gym.make("Pendulum-v1"),
        policy_kwargs={"net_arch": [8]},
        seed=0,
        **{**settings, "train_freq": (train_freq, unit)},
    )
    sb3.learn(TOTAL)
    ours = TD3(gym.make("Pendulum-v1"), TD3Config(net_arch=(8,), train_freq_unit=unit, **settings), seed=0)
    ours.learn(TOTAL)
    assert ours.num_timesteps == sb3.num_timesteps == TOTAL
    assert ours.num_updates == sb3._n_updates > 0
