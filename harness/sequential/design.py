"""A sequential study's design, fixed before its first look, and the words of its verdicts."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from harness.errors import UsageError

#: Relabellings per comparison and look that a real study uses (the tests' simulations may use fewer).
MIN_PERMUTATIONS = 10_000
COMPARE_MODES = ("all", "reference")
NOT_DISTINGUISHED = "not distinguished"


@dataclass(frozen=True)
class Design:
    """What a sequential study is fixed to before its first look."""

    arms: tuple[str, ...]
    per_look: int = 5
    looks: int = 4
    alpha: float = 0.05
    compare: str = "all"
    equivalence_margin: float | None = None
    permutations: int = MIN_PERMUTATIONS
    seed: int = 0

    def __post_init__(self) -> None:
        if len(self.arms) < 2:
            raise UsageError(f"a sequential study compares at least two arms, got {', '.join(self.arms) or 'none'}")
        if self.compare not in COMPARE_MODES:
            raise UsageError(f"--compare: expected one of {', '.join(COMPARE_MODES)}, got {self.compare!r}")
        if not 0 < self.alpha < 1:
            raise UsageError(f"--alpha: expected a level between 0 and 1, got {self.alpha}")
        if self.per_look < 1 or self.looks < 1:
            raise UsageError(f"--per-look and --looks must be positive, got {self.per_look} and {self.looks}")
        if self.permutations < 2:
            raise UsageError(f"permutations: expected at least 2, got {self.permutations}")
        if self.equivalence_margin is not None and not self.equivalence_margin > 0:
            raise UsageError(f"--equivalence-margin: expected a positive number, got {self.equivalence_margin}")

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """The comparisons as (i, j) indices into ``arms``: every pair, or the first arm against each other."""
        n = len(self.arms)
        if self.compare == "reference":
            return [(0, j) for j in range(1, n)]
        return [(i, j) for i in range(n) for j in range(i + 1, n)]

    @property
    def comparisons(self) -> list[str]:
        return [comparison_name(self.arms[i], self.arms[j]) for i, j in self.pairs]

    def seeds(self, look: int, offset: int = 0) -> tuple[int, ...]:
        """The seeds of look ``look`` (1-based): n new ones per look."""
        start = offset + (look - 1) * self.per_look
        return tuple(range(start, start + self.per_look))

    def smallest_p(self) -> float:
        """The smallest two-sided p-value one look's exact permutation test can reach, 2 / C(2n, n)."""
        return 2 / math.comb(2 * self.per_look, self.per_look)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["arms"] = list(self.arms)
        return d


def comparison_name(x: str, y: str) -> str:
    return f"{x} vs {y}"


def verdict(design: Design, comparison: int, sign: int) -> str:
    i, j = design.pairs[comparison]
    return f"{design.arms[i]} better" if sign > 0 else f"{design.arms[j]} better"


def cost(design: Design, envs: int) -> tuple[int, int]:
    """Runs in the best case (everything decided at the first look) and in the worst (every arm, every look)."""
    per_look = len(design.arms) * envs * design.per_look
    return per_look, per_look * design.looks
