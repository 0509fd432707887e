"""The arithmetic of an agent's gradient updates: fp32, or bf16 matrix products (automatic mixed precision).

``autocast(precision)`` is the context an agent runs its updates in (``set_precision`` in the agent
contract): with ``bf16`` the matrix products of the forward and backward passes take bf16 operands,
while weights, optimizer state and losses stay fp32. Acting and evaluation stay fp32.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

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
