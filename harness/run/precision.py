"""The arithmetic of a study's gradient updates: fp32, or bf16 matrix products (automatic mixed precision).

With ``bf16`` every torch arm runs its updates under ``torch.autocast(dtype=torch.bfloat16)``: the
matrix products of the forward and backward passes take bf16 operands, while weights, optimizer
state and losses stay fp32; acting and evaluation stay fp32. On CPUs with bf16 units (AMD Zen 4 and
5, Intel Cooper Lake, Sapphire Rapids and later) the products run about twice as fast; elsewhere bf16
is emulated and slower. An agent joins a bf16 study through the optional capability
``set_precision(precision)`` (our TD3 and the SB3 adapter offer it); one without it cannot, and a
bf16 study refuses it rather than mix arithmetics.

``probe`` measures bf16 against fp32 on the study's own layer shapes, once per machine
(harness.run.machine), so the plan can say what this CPU offers and warn where bf16 is not faster.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from harness.agents.precision import PRECISIONS, autocast, check
from harness.errors import UsageError
from harness.run import machine
from harness.run.matmul import cpu_clock

#: bf16 below this multiple of fp32's rate is not worth its rounding: the plan warns.
MIN_GAIN = 1.1

#: (batch, in_features, out_features) of one linear layer.
Shape = tuple[int, int, int]


@dataclass(frozen=True)
class Probe:
    """fp32 and bf16 rates (GFLOP/s) of the study's layers, forward and backward, and what they mean."""

    fp32: float
    bf16: float
    measured: str | None = None  # the date of the machine's probe when it was kept from an earlier study

    @property
    def gain(self) -> float:
        return self.bf16 / self.fp32

    def describe(self, precision: str) -> str:
        rates = f"bf16 {self.bf16:.0f} GFLOP/s against fp32 {self.fp32:.0f} ({self.gain:.2f}x)"
        when = f"; this machine's probe of {self.measured[:10]}" if self.measured else ""
        if precision == "fp32":
            return f"precision fp32 (PRECISION=bf16 would run the updates' products at {rates}{when})"
        if self.gain < MIN_GAIN:
            return (
                f"precision bf16; warning: bf16 is not faster on this CPU ({rates}{when}: no bf16 units, it is "
                "emulated); fp32 costs no more here and rounds less"
            )
        return f"precision bf16: the updates' matrix products at {rates}{when}"


def _rate(shapes: Sequence[Shape], precision: str, seconds: float) -> float:
    generator = torch.Generator().manual_seed(0)
    cases = []
    for batch, fan_in, fan_out in shapes:
        x = torch.randn(batch, fan_in, generator=generator).requires_grad_()
        w = torch.randn(fan_out, fan_in, generator=generator).requires_grad_()
        cases.append((x, w, torch.randn(batch, fan_out, generator=generator)))

    def step() -> None:
        with autocast(precision):
            outs = [torch.nn.functional.linear(x, w) for x, w, _ in cases]
        for y, (_, _, g) in zip(outs, cases, strict=True):
            y.float().backward(g)

    flops = sum(3 * 2 * b * i * o for b, i, o in shapes)
    best, deadline = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline or best == float("inf"):
        start = cpu_clock()
        step()
        best = min(best, max(cpu_clock() - start, 1e-9))
    return flops / best / 1e9  # per CPU-second: other work on the machine does not skew it


def probe(shapes: Sequence[Shape], threads: int = 1, seconds: float = 0.3) -> Probe:
    """bf16 against fp32 on ``shapes`` at ``threads`` threads, alternating (best of each); kept per machine."""

    def measure() -> dict[str, float]:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            rates: dict[str, list[float]] = {p: [] for p in PRECISIONS}
            for _ in range(2):
                for p in PRECISIONS:
                    rates[p].append(_rate(shapes, p, seconds / 4))
        finally:
            torch.set_num_threads(before)
        return {p: max(r) for p, r in rates.items()}

    rates, when = machine.kept("precision", [threads, sorted(shapes)], measure)
    return Probe(rates["fp32"], rates["bf16"], when)


def choose(requested: str, kept: Sequence[str]) -> str:
    """The study's precision: the one requested, which must be that of the study's runs that stay (a study
    compares its arms at one precision)."""
    check(requested)
    used = set(kept)
    if len(used) > 1:
        raise UsageError(
            f"the study's runs used different precisions ({', '.join(sorted(used))}); a study compares its arms at "
            "one: start a new --study"
        )
    if used and requested not in used:
        (was,) = used
        raise UsageError(
            f"--precision {requested}: the study's existing runs used {was}, and a study compares its arms at one "
            f"precision; use --precision {was} (PRECISION={was}) or a new --study"
        )
    return requested
