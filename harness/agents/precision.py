"""The arithmetic of an agent's gradient updates: fp32, or bf16 matrix products (automatic mixed precision).

``autocast(precision)`` is the context an agent runs its updates in (``set_precision`` in the agent
contract): with ``bf16`` the matrix products of the forward and backward passes take bf16 operands,
while weights, optimizer state and losses stay fp32. Acting and evaluation stay fp32.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

from harness.errors import UsageError

PRECISIONS = ("fp32", "bf16")


def check(precision: str) -> str:
    if precision not in PRECISIONS:
        raise UsageError(f"--precision {precision!r}; accepted: {', '.join(PRECISIONS)}")
    return precision


def autocast(precision: str, device: str | torch.device = "cpu") -> contextlib.AbstractContextManager[Any]:
    """The context of an update at ``precision``: bf16 autocast on the device's type, or nothing."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def _upcast(module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor:
    return output.float() if output.dtype == torch.bfloat16 else output


def fp32_between_products(*modules: torch.nn.Module) -> list[RemovableHandle]:
    """Hooks making every ``nn.Linear`` under ``modules`` return fp32, so that under bf16 autocast only the
    matrix products take bf16 operands and everything between them (activations, the actor's tanh, a
    distribution's squashing, the losses) runs in fp32. Without them a saturated tanh rounds to exactly
    +-1 in bf16 and passes back a zero gradient: an actor that reaches its action bound never leaves it.
    Outside autocast the outputs are fp32 already and the hooks change nothing. ``handle.remove()`` undoes."""
    return [
        m.register_forward_hook(_upcast)
        for module in modules
        for m in module.modules()
        if isinstance(m, torch.nn.Linear)
    ]
