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

from harness.agents import get_arm
from harness.config import resolve
from harness.run.envs import make_env

VARIANTS = {
    "sb3-td3": ("sb3-td3", {}),
    "td3 uniform 1-step": ("td3", {"prioritized": False, "n_steps": 1}),
    "td3 PER 3-step": ("td3", {"prioritized": True, "n_steps": 3}),
}


def measure(arm_name: str, overrides: dict, env_id: str, warmup: int, steps: int, threads: int, seed: int) -> float:
    """Env steps per second of ``steps`` learning steps after ``warmup`` random ones."""
    torch.set_num_threads(threads)
    arm = get_arm(arm_name)
    config = resolve.resolve(arm, env_id).config
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
    dims = (int(np.prod(env.observation_space.shape or ())), int(np.prod(env.action_space.shape or ())))
    env.close()
    rng = np.random.default_rng(0)
    return {
        "uniform": ReplayBuffer(capacity, *dims, rng).nbytes / 2**20,
        "prioritized": PrioritizedReplayBuffer(capacity, *dims, rng).nbytes / 2**20,
    }


def run(
    env_id: str = "BipedalWalker-v3",
    steps: int = 1000,
    warmup: int = 1000,
    rounds: int = 3,
    threads: int = 2,
    variants: Sequence[str] = tuple(VARIANTS),
) -> dict[str, list[float]]:
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


def summary(rates: dict[str, list[float]], env_id: str) -> list[str]:
    """The lines ``make bench`` ends with: each variant's median and its ratio to SB3's TD3, the
    cost of PER + 3-step returns, replay memory, and last ``speedup_vs_sb3: <ratio>``."""
    lines = [
        f"median  {name:<20} {statistics.median(values):7.1f} env steps/s  "
        f"({paired_ratio(rates, name, 'sb3-td3'):.2f}x sb3-td3, median of per-round ratios)"
        for name, values in rates.items()
    ]
    per_cost = 1 / paired_ratio(rates, "td3 PER 3-step", "td3 uniform 1-step") - 1
    lines.append(f"PER + 3-step cost vs uniform 1-step: {100 * per_cost:+.1f}% time per step")
    memory = buffer_megabytes(env_id)
    lines.append(
        f"replay memory at 1,000,000 transitions: {memory['uniform']:.0f} MiB uniform, "
        f"{memory['prioritized']:.0f} MiB prioritized"
    )
    lines.append(f"speedup_vs_sb3: {paired_ratio(rates, 'td3 uniform 1-step', 'sb3-td3'):.2f}")
    return lines
