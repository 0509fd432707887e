"""``make bench``: env steps/s of our TD3 beside SB3's TD3 and SBX's, on the same work.

Each torch variant is built from the same resolved hyperparameters (rl-zoo3's for the env),
warms up with random actions, then learns ``steps`` env steps with one gradient step each;
only those steps are timed. SBX's TD3 (JAX, optional extra ``sbx``) takes the same settings
and runs in a subprocess, where XLA's thread count can be set before JAX starts. Every
variant is measured at each thread count and, for torch, on each matmul backend; the
measurements of one round alternate so drift in the machine's speed hits all of them alike,
and ratios are medians of per-round ratios. ``matmul_floor`` is the time the update's matrix
products alone take: what is left above it is everything else in a step.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.agents import get_arm
from harness.config import resolve
from harness.run import matmul
from harness.run.envs import make_env
from harness.run.tblog import LOG_EVERY, TensorBoardLogger

#: Torch variants: (arm, hyperparameter overrides).
VARIANTS = {
    "sb3-td3": ("sb3-td3", {}),
    "td3 uniform 1-step": ("td3", {"prioritized": False, "n_steps": 1}),
    "td3 PER 3-step": ("td3", {"prioritized": True, "n_steps": 3}),
}
#: The same work with TensorBoard logging on (``set_logger``, a record every ``tblog.LOG_EVERY`` updates):
#: logged variant -> the variant it is compared with. Measured at the fewest threads.
LOGGED = {"td3 uniform 1-step, TensorBoard": "td3 uniform 1-step", "sb3-td3, TensorBoard": "sb3-td3"}
#: The same work with the gradient updates at bf16 matrix products (``set_precision("bf16")``, PRECISION=bf16):
#: bf16 variant -> its fp32 variant. Measured at the fewest threads.
BF16 = {"td3 uniform 1-step, bf16": "td3 uniform 1-step", "sb3-td3, bf16": "sb3-td3"}
SBX = "sbx-td3 (JAX)"
#: What a rate is per second of: wall-clock, or the process's CPU time (user + system, every thread), which
#: other work on the machine does not inflate as it does wall-clock.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
#: A measurement: (variant, torch threads, matmul backend; "jax" for SBX).
Key = tuple[str, int, str]


def _clock(clock: str, device: str) -> Callable[[], float]:
    """``CLOCKS[clock]``, read once the device's queued work is done (CUDA runs asynchronously)."""
    read = CLOCKS[clock]
    if device != "cuda":
        return read

    def after_sync() -> float:
        torch.cuda.synchronize()
        return read()

    return after_sync


def measure(
    arm_name: str,
    overrides: dict[str, Any],
    env_id: str,
    warmup: int,
    steps: int,
    threads: int,
    seed: int,
    backend: str = "default",
    tensorboard: bool = False,
    precision: str = "fp32",
    clock: str = "wall",
    device: str = "cpu",
) -> float:
    """Env steps per second of ``steps`` learning steps after ``warmup`` random ones; ``tensorboard``:
    with the agent's training scalars logged to an event file (in a temporary directory); ``precision``:
    of the gradient updates; ``clock``: per second of wall-clock or of the process's CPU time (``CLOCKS``);
    ``device``: the agent's torch device (the clock waits for CUDA's queued work)."""
    now = _clock(clock, device)
    torch.set_num_threads(threads)
    previous = matmul.current()
    matmul.apply(backend)
    arm = get_arm(arm_name)
    config = resolve.resolve(arm, env_id).config
    config = dataclasses.replace(config, learning_starts=warmup, **overrides)
    env = make_env(env_id)
    agent: Any = arm.build(env, config, seed, device)
    agent.set_precision(precision)
    logdir = tempfile.TemporaryDirectory() if tensorboard else None
    logger = TensorBoardLogger(Path(logdir.name)) if logdir is not None else None
    if logger is not None:
        agent.set_logger(logger)
    marks: dict[str, float] = {}

    def on_step(step: int) -> bool:
        if step == warmup:
            marks["start"] = now()
        return True

    agent.learn(warmup + steps, on_step)
    elapsed = now() - marks["start"]
    env.close()
    if logger is not None and logdir is not None:
        logger.close()
        logdir.cleanup()
    matmul.apply(previous)
    return steps / elapsed


def measure_group(
    env_id: str,
    members: int,
    warmup: int,
    steps: int,
    threads: int,
    seed: int,
    backend: str = "default",
    products: str = "batched",
    device: str = "cpu",
) -> float:
    """Env steps per second, all members together, of a seed group of ``members`` of our TD3 (uniform
    replay, 1-step, the env's resolved settings) over ``steps`` lockstep learning steps after ``warmup``
    random ones; member k has seed ``seed + k``; on ``device`` (the clock waits for CUDA's queued work)."""
    from custom_td3 import TD3

    torch.set_num_threads(threads)
    previous = matmul.current()
    matmul.apply(backend)
    config = resolve.resolve(get_arm("td3"), env_id).config
    config = dataclasses.replace(config, learning_starts=warmup, prioritized=False, n_steps=1)
    envs = [make_env(env_id) for _ in range(members)]
    group = TD3.group(envs, config, [seed + k for k in range(members)], device, products)
    marks: dict[str, float] = {}
    now = _clock("wall", device)

    def on_step(k: int, step: int) -> bool:
        if k == 0 and step == warmup:
            marks["start"] = now()
        return True

    group.learn(warmup + steps, on_step)
    elapsed = now() - marks["start"]
    for env in envs:
        env.close()
    matmul.apply(previous)
    return members * steps / elapsed


def run_groups(
    env_id: str,
    sizes: Sequence[int],
    steps: int,
    warmup: int,
    rounds: int,
    threads: int,
    backend: str,
    say: Callable[[str], None] = print,
    device: str = "cpu",
) -> dict[int, list[float]]:
    """Total env steps/s of a seed group of each size in ``sizes``, per round (alternating within a round),
    and under ALONE the single agent's (``TD3.learn``: what a run outside a group, and a group of one, runs)."""
    rates: dict[int, list[float]] = {ALONE: [], **{k: [] for k in sizes}}
    for r in range(rounds):
        rate = measure(
            "td3", {"prioritized": False, "n_steps": 1}, env_id, warmup, steps, threads, r, backend, device=device
        )
        rates[ALONE].append(rate)
        say(f"round {r + 1}/{rounds}  one seed alone (TD3.learn) {rate:7.1f} env steps/s")
        for k in sizes:
            rate = measure_group(env_id, k, warmup, steps, threads, seed=r, backend=backend, device=device)
            rates[k].append(rate)
            say(
                f"round {r + 1}/{rounds}  seed group of {k:<3} {rate:7.1f} env steps/s in total, "
                f"{rate / k:7.1f} per member"
            )
    return rates


#: The options the on-device check of a group's batched update covers, and its tolerance: the largest
#: parameter difference against each member's own train(), relative to the network's largest parameter.
GROUP_CHECK_OPTIONS = {"uniform": {}, "PER": {"prioritized": True}, "3-step": {"n_steps": 3}}
GROUP_CHECK_RTOL = 1e-5


def group_update_gaps(device: str, members: int = 3, env_id: str = "Pendulum-v1") -> dict[str, float]:
    """The batched update against each member's own ``train()``, on ``device``, per option of
    GROUP_CHECK_OPTIONS: two groups of ``members`` run each member's own updates to step 250; then one
    makes two updates (one with the actor step and Polyak averaging) batched, the other through each
    member's own train(), on the same minibatches. Returns the largest parameter difference of any
    member's network relative to that network's largest parameter."""
    from custom_td3 import TD3, TD3Config

    small = dict(net_arch=(32, 32), batch_size=32, buffer_size=3000, learning_starts=100, gamma=0.98)
    gaps = {}
    for name, options in GROUP_CHECK_OPTIONS.items():
        config = TD3Config(**small, **options)  # type: ignore[arg-type]

        def group(config: TD3Config = config) -> Any:
            envs = [make_env(env_id) for _ in range(members)]
            for k, env in enumerate(envs):
                env.reset(seed=k)
            return TD3.group(envs, config, range(members), device, products="loop")

        batched, own = group(), group()
        batched.learn(250)
        own.learn(250)
        batched.products = "batched"
        batched.learn(252)
        own.learn(252)
        worst = 0.0
        for b, m in zip(batched.members, own.members, strict=True):
            for net in ("actor", "critic", "actor_target", "critic_target"):
                pb, pm = dict(getattr(b, net).named_parameters()), dict(getattr(m, net).named_parameters())
                scale = max(p.abs().max().item() for p in pm.values())
                worst = max(worst, max((pb[n] - pm[n]).abs().max().item() for n in pm) / scale)
        gaps[name] = worst
    return gaps


#: The key of the single agent's rates among the group sizes (a group of one is run as one seed alone).
ALONE = 0


def group_summary(rates: dict[int, list[float]], threads: int, backend: str, device: str = "cpu") -> list[str]:
    """Per group size: the median total and per-member env steps/s, and the total against one seed alone
    (``rates[ALONE]``; without it, the smallest group's), paired by round: the figure a group exists to raise."""
    base = ALONE if ALONE in rates else min(rates)
    what = "one seed alone" if base == ALONE else f"the group of {base}"
    lines = []
    for k, values in rates.items():
        if k == ALONE:
            lines.append(f"median  one seed alone (TD3.learn) {statistics.median(values):7.1f} env steps/s")
            continue
        total = statistics.median(values)
        lines.append(
            f"median  seed group of {k:<3} {total:7.1f} env steps/s in total, {total / k:7.1f} per member  "
            f"({paired_ratio(rates, k, base):.2f}x {what}; {device}, {threads} thread"
            f"{'s' if threads > 1 else ''}, {backend})"
        )
    return lines


def sbx_available() -> bool:
    """Whether SBX and JAX are installed (``make venv EXTRAS=dev,sbx``)."""
    return importlib.util.find_spec("sbx") is not None and importlib.util.find_spec("jax") is not None


def sbx_kwargs(env_id: str) -> dict[str, Any]:
    """SBX TD3's constructor arguments: SB3 TD3's resolved settings for ``env_id``, those SBX takes."""
    import sbx

    from harness.agents.sb3 import sb3_kwargs

    env = make_env(env_id)
    kwargs = sb3_kwargs(resolve.resolve(get_arm("sb3-td3"), env_id).config, env.action_space)
    env.close()
    kwargs["policy_kwargs"] = {"net_arch": kwargs["policy_kwargs"]["net_arch"]}  # flax's relu is SBX's default
    accepted = inspect.signature(sbx.TD3.__init__).parameters
    dropped = sorted(k for k in kwargs if k not in accepted)
    if any(k != "n_steps" or kwargs[k] != 1 for k in dropped):  # a setting SBX cannot honour
        raise RuntimeError(f"SBX's TD3 does not take {dropped}: the settings would differ")
    return {k: v for k, v in kwargs.items() if k in accepted}


def measure_sbx(env_id: str, warmup: int, steps: int, threads: int, seed: int, clock: str = "wall") -> float:
    """SBX TD3's env steps/s, measured in a subprocess whose XLA uses ``threads`` threads."""
    env = dict(os.environ)
    if threads == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    args = json.dumps({"env_id": env_id, "warmup": warmup, "steps": steps, "seed": seed, "clock": clock})
    proc = subprocess.run(
        [sys.executable, "-m", "harness.run.bench", args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=3600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"SBX measurement failed: {proc.stderr.strip().splitlines()[-1:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def _sbx_worker(env_id: str, warmup: int, steps: int, seed: int, clock: str = "wall") -> float:
    import sbx
    from stable_baselines3.common.callbacks import BaseCallback

    class Mark(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps == warmup:
                marks["start"] = CLOCKS[clock]()
            return True

    marks: dict[str, float] = {}
    env = make_env(env_id)
    kwargs = {**sbx_kwargs(env_id), "learning_starts": warmup}
    model = sbx.TD3("MlpPolicy", env, seed=seed, verbose=0, **kwargs)
    model.learn(warmup + steps, callback=Mark())
    return steps / (CLOCKS[clock]() - marks["start"])


def matmul_floor(env_id: str, backend: str, threads: int = 1, updates: int = 100) -> tuple[float, float]:
    """(ms of matrix products per update, ms per update) of our TD3 (uniform, one-step) on ``backend``.

    One update runs under a dispatch mode that records every matrix product it makes (forward and
    backward: ``addmm`` and ``mm`` with their operands' shapes and strides); replaying those products
    alone, ``updates`` times, gives the floor no implementation of the same networks goes under. The
    rest of the update's time is everything else: elementwise work, Adam, memory traffic, dispatch.
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    products: list[tuple[Any, tuple[Any, ...]]] = []

    def copy(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return torch.empty_strided(value.shape, value.stride()).copy_(value)
        return value

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            if func in (torch.ops.aten.addmm.default, torch.ops.aten.mm.default):
                products.append((func, tuple(copy(a) for a in args)))
            return func(*args, **(kwargs or {}))

    torch.set_num_threads(threads)
    previous = matmul.current()
    matmul.apply(backend)
    arm = get_arm("td3")
    config = dataclasses.replace(
        resolve.resolve(arm, env_id).config, learning_starts=1000, prioritized=False, n_steps=1
    )
    env = make_env(env_id)
    agent: Any = arm.build(env, config, 0, "cpu")
    agent.learn(1000 + 20, lambda step: True)
    env.close()
    batches = [agent.buffer.sample(config.batch_size, 1.0) for _ in range(updates + 2)]
    with Record():  # two updates: one with the actor step, one without (policy_delay 2)
        agent.train(batches[0])
        agent.train(batches[1])
    start = time.perf_counter()
    for batch in batches[2:]:
        agent.train(batch)
    per_update = (time.perf_counter() - start) / updates
    start = time.perf_counter()
    for _ in range(updates // 2):
        for func, args in products:
            func(*args)
    floor = (time.perf_counter() - start) / (2 * (updates // 2))
    matmul.apply(previous)
    return 1000 * floor, 1000 * per_update


def run(
    env_id: str,
    steps: int,
    warmup: int,
    rounds: int,
    threads: Sequence[int],
    backends: Sequence[str],
    sbx: bool,
    say: Callable[[str], None] = print,
    bf16: bool = True,
    clock: str = "wall",
) -> dict[Key, list[float]]:
    """Steps/s per measurement and round; each round alternates every (variant, threads, backend)."""
    keys: list[Key] = [(v, t, b) for t in threads for b in backends for v in VARIANTS]
    keys += [(v, min(threads), b) for b in backends for v in LOGGED]
    if bf16:
        keys += [(v, min(threads), b) for b in backends for v in BF16]
    if sbx:
        keys += [(SBX, t, "jax") for t in threads]
    rates: dict[Key, list[float]] = {k: [] for k in keys}
    for r in range(rounds):
        for key in keys:
            variant, n, backend = key
            if variant == SBX:
                rate = measure_sbx(env_id, warmup, steps, n, seed=r, clock=clock)
            elif variant in LOGGED:
                arm, overrides = VARIANTS[LOGGED[variant]]
                rate = measure(
                    arm, overrides, env_id, warmup, steps, n, seed=r, backend=backend, tensorboard=True, clock=clock
                )
            elif variant in BF16:
                arm, overrides = VARIANTS[BF16[variant]]
                rate = measure(
                    arm, overrides, env_id, warmup, steps, n, seed=r, backend=backend, precision="bf16", clock=clock
                )
            else:
                arm, overrides = VARIANTS[variant]
                rate = measure(arm, overrides, env_id, warmup, steps, n, seed=r, backend=backend, clock=clock)
            rates[key].append(rate)
            unit = "env steps/s" if clock == "wall" else "env steps per CPU-second"
            say(f"round {r + 1}/{rounds}  {_label(key):<44} {rate:7.1f} {unit}")
    return rates


def _label(key: Key) -> str:
    variant, threads, backend = key
    return f"{variant}, {threads} thread{'s' if threads > 1 else ''}, {backend}"


def paired_ratio(rates: dict[Any, list[float]], variant: Any, reference: Any) -> float:
    """Median over rounds of variant/reference measured in the same round: robust to the machine
    speeding up or slowing down between rounds, which a ratio of medians is not."""
    return statistics.median(a / b for a, b in zip(rates[variant], rates[reference], strict=True))


def summary(
    rates: dict[Key, list[float]],
    env_id: str,
    chosen: str,
    floor: tuple[float, float] | None,
    unit: str = "env steps/s",
) -> list[str]:
    """The table ``make bench`` ends with: each measurement's median and its ratio to SB3's TD3 on the
    default backend at the same threads, the cost of PER + 3-step returns, the matmul floor, replay
    memory, and last ``speedup_vs_sb3: <ratio>`` (ours vs SB3, one thread, both on ``chosen``)."""
    lines = []
    for key, values in rates.items():
        reference = ("sb3-td3", key[1], "default")
        lines.append(
            f"median  {_label(key):<44} {statistics.median(values):7.1f} {unit}  "
            f"({paired_ratio(rates, key, reference):.2f}x sb3-td3 default)"
        )
    one = min(k[1] for k in rates)
    ours, sb3 = ("td3 uniform 1-step", one, chosen), ("sb3-td3", one, chosen)
    per = ("td3 PER 3-step", one, chosen)
    lines.append(
        f"PER + 3-step cost vs uniform 1-step ({chosen}, {one} thread): "
        f"{100 * (1 / paired_ratio(rates, per, ours) - 1):+.1f}% time per step"
    )
    logged = [(v, base) for v, base in LOGGED.items() if (v, one, chosen) in rates and (base, one, chosen) in rates]
    if logged:
        costs = [
            f"{base} {100 * (1 / paired_ratio(rates, (v, one, chosen), (base, one, chosen)) - 1):+.1f}%"
            for v, base in logged
        ]
        lines.append(
            f"TensorBoard logging cost (a record every {LOG_EVERY} updates; {chosen}, {one} thread): "
            f"{', '.join(costs)} time per step"
        )
    halved = [(v, base) for v, base in BF16.items() if (v, one, chosen) in rates and (base, one, chosen) in rates]
    if halved:
        gains = [f"{base} {paired_ratio(rates, (v, one, chosen), (base, one, chosen)):.2f}x" for v, base in halved]
        lines.append(f"bf16 updates vs fp32 ({chosen}, {one} thread): {', '.join(gains)} {unit}")
    for n in sorted({k[1] for k in rates}):
        if (SBX, n, "jax") in rates and ("td3 uniform 1-step", n, chosen) in rates:
            ratio = paired_ratio(rates, ("td3 uniform 1-step", n, chosen), (SBX, n, "jax"))
            lines.append(f"ours vs SBX at {n} thread{'s' if n > 1 else ''}: {ratio:.2f}x")
    if floor is not None:
        products, update = floor
        lines.append(
            f"matmul floor ({chosen}, 1 thread): the update's matrix products take {products:.2f} ms of "
            f"its {update:.2f} ms; {1000 / products:.0f} updates/s if nothing else took time"
        )
    memory = buffer_megabytes(env_id)
    lines.append(
        f"replay memory at 1,000,000 transitions: {memory['uniform']:.0f} MiB uniform, "
        f"{memory['prioritized']:.0f} MiB prioritized"
    )
    lines.append(f"speedup_vs_sb3: {paired_ratio(rates, ours, sb3):.2f}")
    return lines


def buffer_megabytes(env_id: str, capacity: int = 1_000_000) -> dict[str, float]:
    """Replay memory of our TD3 at ``capacity`` transitions of ``env_id`` (numpy allocates lazily)."""
    from custom_td3.replay import PrioritizedReplayBuffer, ReplayBuffer

    env = make_env(env_id)
    dims = (int(np.prod(env.observation_space.shape or ())), int(np.prod(env.action_space.shape or ())))
    env.close()
    rng = np.random.default_rng(0)
    return {
        "uniform": ReplayBuffer(capacity, *dims, rng).nbytes / 2**20,
        "prioritized": PrioritizedReplayBuffer(capacity, *dims, rng).nbytes / 2**20,
    }


if __name__ == "__main__":  # the SBX subprocess of measure_sbx
    spec = json.loads(sys.argv[1])
    print(_sbx_worker(spec["env_id"], spec["warmup"], spec["steps"], spec["seed"], spec.get("clock", "wall")))
