"""The fp32 matrix-multiply backend of every torch arm: PyTorch's default path, or oneDNN.

On x86, PyTorch computes fp32 ``addmm``/``mm`` with MKL, which takes its AVX2 code path on AMD
processors; oneDNN, which ships in the same wheel, has AVX-512 kernels there and runs the
layer shapes of TD3 about twice as fast. PyTorch sends fp32 products to oneDNN only when
``torch.backends.mkldnn.matmul.fp32_precision`` is ``"bf16"``, and that setting *permits*
oneDNN to compute in bf16 internally: on processors where it does, results lose about three
decimal digits. So the backend is never assumed: ``probe`` times the study's own layer shapes
(forward and backward, in CPU time, so other work on the machine does not skew it) on each backend
and checks each against float64; oneDNN is chosen
only where it is faster and as accurate as fp32 (relative error within ``TOLERANCE``).

A study runs every arm on one backend (``choose``): it is recorded in each run's meta.json and
in the report, and a study whose runs already used one keeps it. A machine's first probe is kept for
it (harness.run.machine), so studies on the same machine and torch build choose the same backend
whatever load the later probes would have seen; a gain must hold in every round of the probe.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from harness.errors import UsageError
from harness.run import machine

BACKENDS = ("default", "onednn")
#: What each backend sets torch.backends.mkldnn.matmul.fp32_precision to.
_PRECISION = {"default": "none", "onednn": "bf16"}
#: Largest accepted error of a backend, relative to the largest float64 value of each product.
#: fp32 reordering gives about 1e-6 at these sizes; bf16 arithmetic about 1e-3.
TOLERANCE = 1e-5
#: oneDNN is chosen when it is at least this much faster than the default (noise is not a reason to switch).
MIN_GAIN = 1.05

#: (batch, in_features, out_features) of one linear layer.
Shape = tuple[int, int, int]


def available() -> tuple[str, ...]:
    """The backends this torch build offers."""
    mkldnn = torch.backends.mkldnn
    if mkldnn.is_available() and hasattr(mkldnn, "matmul") and hasattr(mkldnn.matmul, "fp32_precision"):
        return BACKENDS
    return ("default",)


def _mkldnn() -> Any:
    """torch.backends.mkldnn, whose ``matmul`` settings torch's type stubs do not declare."""
    return torch.backends.mkldnn


def apply(backend: str) -> None:
    """Route this process's fp32 matrix products to ``backend``."""
    if backend not in available():
        raise UsageError(f"matmul backend {backend!r} is not available here; accepted: {', '.join(available())}")
    if "onednn" in available():
        _mkldnn().matmul.fp32_precision = _PRECISION[backend]


def check_accuracy(backend: str) -> None:
    """Raise FloatingPointError unless ``backend`` computes a product as accurately as fp32 in this
    process: a study's backend is probed where the study starts, and a run on another machine (a Ray
    node) must not lose precision silently there."""
    if backend == "default":
        return
    apply(backend)
    _, error = _measure(backend, [(64, 128, 96)], seconds=0.0, seed=1)
    if error > TOLERANCE:
        raise FloatingPointError(
            f"matmul backend {backend} computes with relative error {error:.1e} on this "
            f"machine (fp32: {TOLERANCE:.0e}); run the study on the default backend"
        )


def current() -> str:
    """The backend this process uses now."""
    if "onednn" in available() and _mkldnn().matmul.fp32_precision == _PRECISION["onednn"]:
        return "onednn"
    return "default"


@dataclass(frozen=True)
class Choice:
    """A study's backend and why: the probe's rates (GFLOP/s) and relative errors per backend tried."""

    backend: str
    reason: str
    rates: dict[str, float] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        measured = "; ".join(
            f"{b} {self.rates[b]:.0f} GFLOP/s, error {self.errors[b]:.1e}" for b in BACKENDS if b in self.rates
        )
        return f"matmul backend {self.backend}: {self.reason}" + (f" (probe: {measured})" if measured else "")

    def record(self) -> dict[str, object]:
        """What meta.json keeps of the choice."""
        return {"backend": self.backend, "reason": self.reason, "rates": self.rates, "errors": self.errors}


def layer_shapes(batch: int, obs_dim: int, act_dim: int, actor: Sequence[int], critic: Sequence[int]) -> list[Shape]:
    """The linear layers of an actor obs -> actor widths -> act and a critic (obs, act) -> critic widths -> 1."""
    shapes = []
    for first, widths, last in ((obs_dim, actor, act_dim), (obs_dim + act_dim, critic, 1)):
        dims = [first, *widths, last]
        shapes += [(batch, a, b) for a, b in itertools.pairwise(dims)]
    return sorted(set(shapes))


def _measure(backend: str, shapes: Sequence[Shape], seconds: float, seed: int) -> tuple[float, float]:
    """(GFLOP/s, relative error) of ``backend`` on forward and backward products of ``shapes``."""
    apply(backend)
    generator = torch.Generator().manual_seed(seed)
    cases = []
    for batch, fan_in, fan_out in shapes:
        x = torch.randn(batch, fan_in, generator=generator).requires_grad_()
        w = (torch.randn(fan_out, fan_in, generator=generator) / fan_in**0.5).requires_grad_()
        b = torch.randn(fan_out, generator=generator)
        g = torch.randn(batch, fan_out, generator=generator)
        cases.append((x, w, b, g))

    def step() -> list[torch.Tensor]:
        out = []
        for x, w, b, g in cases:
            x.grad = w.grad = None
            y = torch.nn.functional.linear(x, w, b)
            y.backward(g)
            out += [y.detach(), x.grad, w.grad]
        return out

    error = 0.0
    for (x, w, b, g), (y, gx, gw) in zip(cases, _triples(step()), strict=True):
        x64, w64, g64 = x.detach().double(), w.detach().double(), g.double()
        for got, want in ((y, x64 @ w64.T + b.double()), (gx, g64 @ w64), (gw, g64.T @ x64)):
            error = max(error, ((got.double() - want).abs().max() / want.abs().max()).item())
    flops = sum(3 * 2 * batch * fan_in * fan_out for batch, fan_in, fan_out in shapes)
    best, deadline = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline or best == float("inf"):
        start = cpu_clock()
        step()
        best = min(best, max(cpu_clock() - start, 1e-9))
    return flops / best / 1e9, error


def cpu_clock() -> float:
    """Seconds of CPU this process's work took: the rate of a product per CPU-second does not fall when
    other processes share the core, as its wall-clock rate does (a probe under load must not decide)."""
    return time.thread_time() if torch.get_num_threads() == 1 else time.process_time()


def _triples(tensors: list[torch.Tensor]) -> Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    return zip(tensors[0::3], tensors[1::3], tensors[2::3], strict=True)


def probe(
    shapes: Sequence[Shape], threads: int = 1, seconds: float = 0.2, seed: int = 0, fresh: bool = False
) -> Choice:
    """Time both backends on ``shapes`` at ``threads`` torch threads (alternating, best of each) and
    check them against float64; the faster accurate one, oneDNN only if MIN_GAIN faster. Leaves the
    process on the backend it was on. A process probes the same shapes once (the answer is the
    machine's) unless ``fresh``."""
    key = (tuple(sorted(shapes)), threads, seconds, seed)
    return _probe.__wrapped__(*key) if fresh else _probe(*key)


@functools.cache
def _probe(shapes: tuple[Shape, ...], threads: int, seconds: float, seed: int) -> Choice:
    before, backend_before = torch.get_num_threads(), current()
    torch.set_num_threads(threads)
    rates: dict[str, list[float]] = {b: [] for b in available()}
    errors: dict[str, float] = {}
    try:
        for _ in range(2):
            for backend in rates:
                rate, errors[backend] = _measure(backend, shapes, seconds / 2, seed)
                rates[backend].append(rate)
    finally:
        apply(backend_before)
        torch.set_num_threads(before)
    best = {b: max(r) for b, r in rates.items()}
    if "onednn" in rates:  # a gain must hold in every round, not in the best of a noisy pair
        worst = min(o / d for o, d in zip(rates["onednn"], rates["default"], strict=True))
        if worst < MIN_GAIN <= best["onednn"] / best["default"]:
            best["onednn"] = worst * best["default"]
    return decide(best, errors)


def decide(rates: dict[str, float], errors: dict[str, float]) -> Choice:
    """The choice given each backend's measured rate and relative error."""
    if "onednn" not in rates:
        return Choice("default", "oneDNN is not available in this torch build", rates, errors)
    if errors["onednn"] > TOLERANCE:
        return Choice(
            "default",
            f"oneDNN's error {errors['onednn']:.1e} exceeds fp32's {TOLERANCE:.0e} here "
            "(it computes in reduced precision on this processor)",
            rates,
            errors,
        )
    if rates["onednn"] >= MIN_GAIN * rates["default"]:
        return Choice(
            "onednn", f"{rates['onednn'] / rates['default']:.2f}x the default's rate at fp32 accuracy", rates, errors
        )
    return Choice("default", f"oneDNN is not {MIN_GAIN:.2f}x faster here", rates, errors)


def choose(requested: str, kept: Iterable[str], shapes: Sequence[Shape], threads: int, device: str) -> Choice:
    """The backend of a study.

    ``requested`` is auto, default or onednn; ``kept`` the backends of the study's runs that stay
    (complete or resumed): a study compares its arms on one backend, so those decide under auto,
    and an explicit request that contradicts them is refused. ``shapes`` are the probe's layers.
    """
    if requested not in ("auto", *BACKENDS):
        raise UsageError(f"--matmul-backend {requested!r}; accepted: auto, {', '.join(BACKENDS)}")
    kept = set(kept)
    if device != "cpu":
        return Choice("default", f"device {device}: the CPU matmul backend does not apply")
    if len(kept) > 1:
        raise UsageError(
            f"the study's runs used different matmul backends ({', '.join(sorted(kept))}); a study "
            "compares its arms on one: start a new --study"
        )
    if kept:
        (used,) = kept
        if requested not in ("auto", used):
            raise UsageError(
                f"--matmul-backend {requested}: the study's existing runs used {used}, and a study "
                f"compares its arms on one backend; use --matmul-backend {used} (or auto) or a new --study"
            )
        return Choice(used, "the backend of the study's existing runs")
    if requested != "auto":
        if requested not in available():
            raise UsageError(
                f"--matmul-backend {requested}: not available in this torch build; "
                f"accepted here: auto, {', '.join(available())}"
            )
        return Choice(requested, "requested (--matmul-backend)")
    if not shapes:
        return Choice("default", "no torch arm in the study")
    measured, when = machine.kept("matmul", [threads, sorted(shapes)], lambda: probe(shapes, threads).record())
    choice = Choice(measured["backend"], measured["reason"], measured["rates"], measured["errors"])
    if when is None:
        return choice
    return Choice(
        choice.backend, f"kept from this machine's probe of {when[:10]} ({choice.reason})", choice.rates, choice.errors
    )
