"""A user module that registers an env on import: exercises ``module:EnvId``."""

import gymnasium as gym
import numpy as np


class PointEnv(gym.Env):
    """Move a point on a line towards 0; reward is minus the distance. Box action in [-1, 1]."""

    observation_space = gym.spaces.Box(-10.0, 10.0, shape=(1,), dtype=np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = self.np_random.uniform(-5, 5)
        return np.array([self.x], dtype=np.float32), {}

    def step(self, action):
        self.x = float(np.clip(self.x + float(action[0]), -10, 10))
        return np.array([self.x], dtype=np.float32), -abs(self.x), False, False, {}


gym.register("TinyPoint-v0", entry_point=PointEnv, max_episode_steps=50)


class NaNAfterEnv(PointEnv):
    """PointEnv whose reward turns NaN after 150 steps of an episode: a learner fed it diverges."""

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return super().reset(seed=seed, options=options)

    def step(self, action):
        self.t += 1
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, float("nan") if self.t > 150 else reward, terminated, truncated, info


gym.register("NaNPoint-v0", entry_point=NaNAfterEnv, max_episode_steps=200)


class HugeAfterEnv(NaNAfterEnv):
    """PointEnv whose reward becomes -1e30 after 150 steps of an episode: finite, so the env is not at
    fault, but a critic's squared error overflows float32 and its learner diverges."""

    def step(self, action):
        obs, reward, terminated, truncated, info = PointEnv.step(self, action)
        self.t += 1
        return obs, -1e30 if self.t > 150 else reward, terminated, truncated, info


gym.register("HugePoint-v0", entry_point=HugeAfterEnv, max_episode_steps=200)


class NaNSecondEpisodeEnv(NaNAfterEnv):
    """PointEnv whose observation turns NaN at step 151 of its second episode (its first is finite)."""

    episodes = 0

    def reset(self, *, seed=None, options=None):
        self.episodes += 1
        return super().reset(seed=seed, options=options)

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        if self.episodes >= 2 and self.t > 150:
            obs = np.array([np.nan], dtype=np.float32)
        return obs, 0.0 if np.isnan(reward) else reward, terminated, truncated, info


gym.register("NaNSecondEpisode-v0", entry_point=NaNSecondEpisodeEnv, max_episode_steps=200)
