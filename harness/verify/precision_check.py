"""Does PRECISION=bf16 change the answer? Two measurements, for our TD3 and SB3's TD3 (docs/speed.md).

``drift``: the largest parameter difference, fp32 against bf16, after ``updates`` identical updates:
each implementation starts twice from the same weights (SB3's, as in the parity kit) and takes the same
minibatches and the same target noise, once with fp32 and once with bf16 matrix products. Beside it, the
yardstick of what fp32 itself allows: our fp32 TD3 against SB3's fp32 TD3 on the same updates.

``equivalence``: two studies that differ only in precision (``make compare ... PRECISION=fp32`` and
``PRECISION=bf16``, study names of your choice), each arm's final scores on each env compared by a
two one-sided Welch test (TOST, harness.sequential.test.tost) with a margin declared per env: the
precisions are equivalent for that arm and env when the (1 - 2 alpha) interval of the difference of
mean final scores lies inside (-margin, margin).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from stable_baselines3.common.type_aliases import ReplayBufferSamples

from harness.agents import get_arm
from harness.agents.precision import autocast
from harness.config import env_name
from harness.errors import UsageError
from harness.run.results import run_result
from harness.sequential.test import tost
from harness.verify import parity
from harness.verify.conformance import BoxEnv

#: The drift measurement's shapes: BipedalWalker-v3's dimensions at rl-zoo3's TD3 settings.
DRIFT_SETTINGS: dict[str, Any] = {
    **parity.SETTINGS,
    "learning_rate": 1e-3,
    "batch_size": 256,
    "net_arch": [400, 300],
    "policy_delay": 2,
    "tau": 0.005,
    "target_policy_noise": 0.2,
    "target_noise_clip": 0.5,
}
DRIFT_DIMS = (24, 4)


def _batches(updates: int, size: int, obs_dim: int, act_dim: int) -> list[parity.ParityBatch]:
    rng = np.random.default_rng(0)
    return [parity._batch(rng, size, obs_dim, act_dim) for _ in range(updates)]


def _flat(weights: Mapping[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {net: torch.cat([torch.as_tensor(w).flatten() for w in ws]) for net, ws in weights.items()}


@dataclass(frozen=True)
class Drift:
    """Largest |difference| per network between two runs of the same updates, and the largest |weight|."""

    name: str
    diffs: dict[str, float]
    scale: float

    @property
    def largest(self) -> float:
        return max(self.diffs.values())

    def row(self) -> str:
        worst = max(self.diffs, key=lambda n: self.diffs[n])
        return (
            f"| {self.name} | {self.largest:.2e} ({worst}) | {self.largest / self.scale:.1e} | "
            + ", ".join(f"{n} {d:.1e}" for n, d in self.diffs.items())
            + " |"
        )


def _compare(name: str, a: Mapping[str, list[torch.Tensor]], b: Mapping[str, list[torch.Tensor]]) -> Drift:
    fa, fb = _flat(a), _flat(b)
    diffs = {net: float((fa[net] - fb[net].to(fa[net].dtype)).abs().max()) for net in fa}
    return Drift(name, diffs, max(float(v.abs().max()) for v in fa.values()))


def drift(updates: int = 100) -> list[Drift]:
    """fp32 against bf16 after ``updates`` identical updates, for SB3's TD3 and ours; and ours against SB3's
    in fp32 (the yardstick)."""
    settings = dict(DRIFT_SETTINGS)
    obs_dim, act_dim = DRIFT_DIMS
    ref = parity.REFERENCES["sb3-td3"]
    env = BoxEnv(obs_dim, [-1.0] * act_dim, [1.0] * act_dim)
    batches = _batches(updates, settings["batch_size"], obs_dim, act_dim)

    def sb3(precision: str) -> dict[str, list[torch.Tensor]]:
        model = parity._reference_model(ref, settings, env)
        feed = iter(
            ReplayBufferSamples(b.observations, b.actions, b.next_observations, b.dones, b.rewards) for b in batches
        )
        model.replay_buffer.sample = lambda *args, **kwargs: next(feed)
        torch.manual_seed(parity.NOISE_SEED)
        with autocast(precision):
            model.train(gradient_steps=updates, batch_size=settings["batch_size"])
        return parity.sb3_weights(model, ref)

    def ours(precision: str) -> dict[str, list[torch.Tensor]]:
        arm = get_arm("td3")
        agent: Any = arm.build(env, parity._agent_config(arm, settings, ref), 1, "cpu")
        agent.parity_load(parity.sb3_weights(parity._reference_model(ref, settings, env), ref))
        agent.set_precision(precision)
        generator = torch.Generator().manual_seed(parity.NOISE_SEED)
        for batch in batches:
            agent.parity_update(batch, generator=generator)
        weights: dict[str, list[torch.Tensor]] = agent.parity_weights()
        return weights

    sb3_fp32, ours_fp32 = sb3("fp32"), ours("fp32")
    return [
        _compare("sb3-td3: fp32 against bf16", sb3_fp32, sb3("bf16")),
        _compare("td3: fp32 against bf16", ours_fp32, ours("bf16")),
        _compare("td3 fp32 against sb3-td3 fp32 (yardstick)", sb3_fp32, ours_fp32),
    ]


@dataclass(frozen=True)
class Equivalence:
    env: str
    arm: str
    fp32: list[float]
    bf16: list[float]
    test: dict[str, Any]

    def row(self) -> str:
        low, high = self.test["interval"]
        verdict = "**equivalent**" if self.test["equivalent"] else "not shown equivalent"
        return (
            f"| {self.env} | {self.arm} | {len(self.fp32)} / {len(self.bf16)} | {np.mean(self.fp32):.2f} | "
            f"{np.mean(self.bf16):.2f} | {self.test['difference']:+.2f} [{low:+.2f}, {high:+.2f}] | "
            f"±{self.test['margin']:g} | {verdict} |"
        )


def parse_margins(text: str) -> dict[str, float]:
    """``Pendulum-v1=50,ProbeActionScale-v0=0.1`` -> {env: margin}; UsageError naming what is wrong."""
    margins: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        env, sep, value = item.partition("=")
        try:
            margin = float(value) if sep else float("nan")
        except ValueError:
            margin = float("nan")
        if not env or not margin > 0:
            raise UsageError(f"--margins: expected ENV=M with M > 0, comma-separated, got {item!r}")
        margins[env.strip()] = margin
    if not margins:
        raise UsageError("--margins: expected ENV=M with M > 0, comma-separated (one per env of the studies)")
    return margins


def _finals(study_dir: Path) -> pd.DataFrame:
    """env, arm, seed, final_return, precision of every run of ``study_dir`` that is a result of its arm."""
    if not study_dir.is_dir():
        raise UsageError(f"no study at {study_dir}")
    rows = []
    for meta in sorted(study_dir.glob("*/*/meta.json")):
        result = run_result(meta.parent)
        if result is None:
            continue
        record, final = result
        rows.append(
            {
                "env": env_name(record.spec["env_id"]),
                "arm": record.spec["arm"],
                "seed": record.spec["seed"],
                "final_return": final.score,
                "precision": record.precision,
            }
        )
    if not rows:
        raise UsageError(f"{study_dir}: no run with a final score")
    return pd.DataFrame(rows)


def equivalence(fp32_dir: Path, bf16_dir: Path, margins: Mapping[str, float], alpha: float = 0.05) -> list[Equivalence]:
    """Per env and arm of both studies, TOST of mean final score fp32 against bf16 at level ``alpha``."""
    a, b = _finals(fp32_dir), _finals(bf16_dir)
    for frame, expected, where in ((a, "fp32", fp32_dir), (b, "bf16", bf16_dir)):
        if set(frame["precision"]) != {expected}:
            raise UsageError(
                f"{where}: its runs' precision is {', '.join(sorted(set(frame['precision'])))}, not {expected}"
            )
    out = []
    for (env, arm), group in a.groupby(["env", "arm"], sort=True):
        other = b[(b["env"] == env) & (b["arm"] == arm)]
        if other.empty:
            continue
        if env not in margins:
            raise UsageError(f"--margins names no margin for {env} (given: {', '.join(margins)})")
        x, y = group["final_return"].to_numpy(float), other["final_return"].to_numpy(float)
        if min(x.size, y.size) < 2:
            raise UsageError(f"{env} {arm}: a TOST needs at least 2 runs per precision, has {x.size} and {y.size}")
        out.append(Equivalence(str(env), str(arm), x.tolist(), y.tolist(), tost(y, x, margins[str(env)], alpha)))
    if not out:
        raise UsageError(f"{fp32_dir.name} and {bf16_dir.name} share no (env, arm) with final scores")
    return out


def markdown(drifts: list[Drift], tests: list[Equivalence], updates: int, alpha: float) -> str:
    lines = [
        f"Largest parameter difference after {updates} identical updates (batch {DRIFT_SETTINGS['batch_size']}, "
        f"[400, 300], {DRIFT_DIMS[0]} observations, {DRIFT_DIMS[1]} actions, target noise on):",
        "",
        "| compared | largest abs difference (network) | relative to the largest weight | per network |",
        "|---|---|---|---|",
        *(d.row() for d in drifts),
        "",
        f"Equivalence of final scores, fp32 against bf16 (TOST, each test at level {alpha:g}: the "
        f"{1 - 2 * alpha:.0%} interval of the difference inside the margin):",
        "",
        "| env | arm | runs fp32 / bf16 | mean fp32 | mean bf16 | bf16 - fp32 [interval] | margin | verdict |",
        "|---|---|---|---|---|---|---|---|",
        *(t.row() for t in tests),
    ]
    return "\n".join(lines) + "\n"
