"""Loading torch files without running arbitrary code: ``torch.load(weights_only=True)`` with an
allow-list of the numpy types that models and checkpoints hold (action bounds, replay buffers,
RNG states). A file that needs anything else is refused by torch with an error naming the type."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

try:  # numpy 2
    from numpy._core.multiarray import _reconstruct, scalar
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]

#: Everything besides tensors and plain Python data that a saved model or checkpoint may contain:
#: arrays, numpy scalars, and the dtypes of both.
SAFE_GLOBALS: list[Any] = [
    np.ndarray,
    np.dtype,
    _reconstruct,
    scalar,
    *(type(np.dtype(c)) for c in "?bBhHiIlLqQefdgFDG"),
]


def safe_load(file: str | Path | IO[bytes], map_location: str | torch.device | None = None) -> Any:
    """``torch.load(file)`` restricted to tensors, plain Python data and numpy arrays."""
    with torch.serialization.safe_globals(SAFE_GLOBALS):
        return torch.load(file, map_location=map_location, weights_only=True)


def compact(tree: Any) -> Any:
    """``tree`` (nested dicts and lists, as a state_dict) with every tensor that views a larger storage
    copied to its own: ``torch.save`` writes a view's whole storage, which for a member of a seed group
    is every member's. A tree with no such tensor (the single agent's) is returned as it is."""
    if isinstance(tree, torch.Tensor):
        return tree.clone() if tree.untyped_storage().nbytes() > tree.nbytes else tree
    if isinstance(tree, dict):
        items = {k: compact(v) for k, v in tree.items()}
        if all(items[k] is v for k, v in tree.items()):
            return tree
        out = copy.copy(tree)  # keeps a module state_dict's _metadata
        out.update(items)
        return out
    if isinstance(tree, list):
        values = [compact(v) for v in tree]
        return tree if all(a is b for a, b in zip(values, tree, strict=True)) else values
    return tree
