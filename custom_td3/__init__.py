"""Our TD3: readable like the paper, with prioritized replay, n-step returns, NoisyNets, exploration-noise
decay and an episode-length curriculum as switches.

Knows nothing of the harness: ``TD3(env, TD3Config(...), seed).learn(total_steps)``.
"""

from custom_td3.config import TD3Config
from custom_td3.td3 import TD3, TrainingDiverged

__all__ = ["TD3", "TD3Config", "TrainingDiverged"]
