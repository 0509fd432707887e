"""``make bench``: env steps/s of our TD3 against SB3's TD3 on the same work, same threads.

Each variant is built from the same resolved hyperparameters (rl-zoo3's for the env), warms
up with random actions, then learns ``steps`` env steps with one gradient step each; only
those steps are timed. Variants alternate over ``rounds`` so drift in the machine's speed
hits all of them alike; the median round is reported.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Sequence

import torch

from harness import hparams
from harness.agents import get_arm
from harness.envs import make_env

VARIANTS = {
    "sb3-td3": ("sb3-td3", {}),
    "td3 uniform 1-step": ("td3", {"prioritized": False, "n_steps": 1}),
    "td3 PER 3-step": ("td3", {"prioritized": True, "n_steps": 3}),
}


def measure(arm_name: str, overrides: dict, env_id: str, warmup: int, steps: int, threads: int, seed: int) -> float:
    """Env steps per second of ``steps`` learning steps after ``warmup`` random ones."""
    torch.set_num_threads(threads)
    arm = get_arm(arm_name)
    config = hparams.resolve(arm, env_id).config
    config = dataclasses.replace(config, learning_starts=warmup, **overrides)
    env = make_env(env_id)
    agent = arm.build(env, config, seed, "cpu")
    marks: dict[str, float] = {}

    def on_step(step: int) -> bool:
        if step == warmup:
            marks["start"] = time.perf_counter()
        return True

    agent.learn(warmup + steps, on_step)
    elapsed = time.perf_counter() - marks["start"]
    env.close()
    return steps / elapsed


def buffer_megabytes(env_id: str, capacity: int = 1_000_000) -> dict[str, float]:
    """Replay memory of our TD3 at ``capacity`` transitions of ``env_id`` (numpy allocates lazily)."""
    import numpy as np

    from custom_td3.replay import PrioritizedReplayBuffer, ReplayBuffer

    env = make_env(env_id)
    dims = (int(np.prod(env.observation_space.shape)), int(np.prod(env.action_space.shape)))
    env.close()
    rng = np.random.default_rng(0)
    return {"uniform": ReplayBuffer(capacity, *dims, rng).nbytes / 2**20,
            "prioritized": PrioritizedReplayBuffer(capacity, *dims, rng).nbytes / 2**20}


def run(env_id: str = "BipedalWalker-v3", steps: int = 1000, warmup: int = 1000, rounds: int = 3,
        threads: int = 2, variants: Sequence[str] = tuple(VARIANTS)) -> dict[str, list[float]]:
    """Steps/s per variant and round (rounds alternate the variants); prints each measurement."""
    rates: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(rounds):
        for v in variants:
            arm, overrides = VARIANTS[v]
            rate = measure(arm, overrides, env_id, warmup, steps, threads, seed=r)
            rates[v].append(rate)
            print(f"round {r + 1}/{rounds}  {v:<20} {rate:7.1f} env steps/s", flush=True)
    return rates


def paired_ratio(rates: dict[str, list[float]], variant: str, reference: str) -> float:
    """Median over rounds of variant/reference measured in the same round: robust to the machine
    speeding up or slowing down between rounds, which a ratio of medians is not."""
    return statistics.median(a / b for a, b in zip(rates[variant], rates[reference], strict=True))
