"""The SB3 adapter's predict acts exactly as SB3's own, before and after training switches the policy's mode."""

import gymnasium as gym
import numpy as np
import pytest

from harness.agents import get_arm
from harness.config import resolve


@pytest.mark.parametrize("name", ["sb3-td3", "sb3-ddpg", "sb3-sac", "sb3-tqc", "sb3-crossq"])
def test_predict_gives_sb3s_actions(name):
    import dataclasses

    arm = get_arm(name)
    config = resolve.resolve(arm, "Pendulum-v1").config
    small = (
        {"net_arch": (16, 16)} if hasattr(config, "net_arch") else {"net_arch_pi": (16, 16), "net_arch_qf": (16, 16)}
    )
    config = dataclasses.replace(config, learning_starts=50, batch_size=32, **small)
    env = gym.make("Pendulum-v1")
    env.reset(seed=0)
    agent = arm.build(env, config, 0, "cpu")
    space = env.observation_space
    space.seed(1)
    observations = [space.sample() for _ in range(50)]
    for total in (0, 300):  # untrained, then after training has switched the policy to training mode
        agent.learn(total, lambda step: True)
        for obs in observations:
            mine = agent.predict(obs, deterministic=True)
            theirs, _ = agent.model.predict(obs, deterministic=True)
            assert mine.shape == theirs.shape and np.array_equal(mine, theirs)
