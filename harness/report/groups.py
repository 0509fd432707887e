"""The verdict for many arms: the arms ranked by IQM, with a compact letter display (CLD) of the groups
the seeds do not separate.

Two arms are *separated* when the report's own pairwise decision says so (``separated``: P(X > Y)'s 95%
stratified-bootstrap CI excludes 0.5, with more than ``TOO_FEW_TO_CALL`` runs per arm, exactly the rule
of the pair sentences). The letters follow Piepho (2004), "An algorithm for a letter-based representation
of all-pairwise comparisons", J. Comput. Graph. Stat. 13(2): insert and absorb. Two arms share a letter if
and only if they are not separated; an arm with several letters sits between groups ("ab": separated from
neither the "a" arms nor the "b" arms). Pairwise decisions need not be transitive, so groups may overlap.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from harness.report import stats
from harness.report.arms import arm_order
from harness.report.tables import TOO_FEW_TO_CALL, poi_ci

#: From this many arms on, the verdict ranks the arms with letters and keeps pair sentences to the
#: reference arm against each other arm (with 2-4 arms every pair is one sentence).
MANY_ARMS = 5

_LETTERS = string.ascii_lowercase + string.ascii_uppercase


def letters(order: Sequence[str], separated: Collection[frozenset[str]]) -> dict[str, str]:
    """The compact letter display of ``order`` (the arms, best first) given the separated pairs.

    Insert and absorb (Piepho 2004): start with one letter shared by every arm; for each separated pair,
    split every letter both arms hold into two, one without each arm (insert), then drop any letter whose
    arms are all within another letter's (absorb). Letters are then named a, b, ... in the order of their
    best arm, so the best arm holds "a". Returns ``{arm: "ab", ...}``; every arm holds at least one letter.
    """
    index = {arm: i for i, arm in enumerate(order)}
    if len(index) != len(order):
        raise ValueError(f"arms named twice in {list(order)}")
    columns: list[frozenset[int]] = [frozenset(range(len(order)))] if order else []
    for pair in separated:  # in any order: the letters are the maximal groups, whatever the order (tested)
        i, j = sorted(index[a] for a in _known(pair, index))
        split: list[frozenset[int]] = []
        for col in columns:
            split += [col - {j}, col - {i}] if i in col and j in col else [col]
        columns = _absorbed(split)
    columns.sort(key=sorted)
    if len(columns) > len(_LETTERS):
        raise ValueError(f"{len(columns)} groups need more than the {len(_LETTERS)} letters a-z, A-Z")
    return {arm: "".join(_LETTERS[c] for c, col in enumerate(columns) if index[arm] in col) for arm in order}


def _known(pair: frozenset[str], index: dict[str, int]) -> frozenset[str]:
    if len(pair) != 2 or not pair <= index.keys():
        raise ValueError(f"separated pair {sorted(pair)} is not two of the arms {list(index)}")
    return pair


def _absorbed(columns: list[frozenset[int]]) -> list[frozenset[int]]:
    """``columns`` without duplicates and without any column contained in another."""
    unique = list(dict.fromkeys(columns))
    return [c for c in unique if not any(c < other for other in unique)]


def separated(finals: dict[str, np.ndarray], reps: int, seed: int) -> set[frozenset[str]]:
    """The pairs of arms the seeds separate: P(X > Y)'s 95% bootstrap CI excludes 0.5 and both arms have
    more than TOO_FEW_TO_CALL runs (the rule of tables.pair_verdict)."""
    out = set()
    for x, y in combinations(arm_order(list(finals)), 2):
        if min(finals[x].size, finals[y].size) <= TOO_FEW_TO_CALL:
            continue
        _, (low, high) = poi_ci([finals[x]], [finals[y]], reps, seed)
        if low > 0.5 or high < 0.5:
            out.add(frozenset((x, y)))
    return out


@dataclass(frozen=True)
class Ranking:
    """Arms best first by IQM of final scores, each with its rank (tied IQMs share the higher one: 1, 2, 2, 4)
    and its letters."""

    order: list[str]
    rank: dict[str, int]
    groups: dict[str, str]
    separated: set[frozenset[str]]


def rank(finals: dict[str, np.ndarray], reps: int, seed: int) -> Ranking:
    """The ranking and letters of ``finals`` (final scores per arm); ties in IQM keep report order."""
    score = {arm: stats.iqm(x) for arm, x in finals.items()}
    order = sorted(arm_order(list(finals)), key=lambda a: -score[a])  # stable: ties stay in report order
    ranks = {arm: 1 + sum(score[b] > score[arm] for b in order) for arm in order}
    pairs = separated(finals, reps, seed)
    return Ranking(order, ranks, letters(order, pairs), pairs)


def ranked(table: pd.DataFrame, ranking: Ranking) -> pd.DataFrame:
    """A table with one row per arm (an ``arm`` column) reordered best first, with ``rank`` and
    ``groups`` columns beside the arm."""
    out = table.set_index("arm").loc[ranking.order].reset_index()
    out.insert(0, "rank", [ranking.rank[a] for a in ranking.order])
    out.insert(2, "groups", [ranking.groups[a] for a in ranking.order])
    return out


def legend(ranking: Ranking, runs: int) -> str:
    """How to read the letters, and what they say here (``runs``: the fewest runs of any arm)."""
    text = (
        "Arms are ranked by the IQM of their final scores. **Groups**: arms that share a letter are not "
        "separated by these seeds (P(X > Y)'s 95% CI includes 0.5"
        + (f", or an arm has {TOO_FEW_TO_CALL} or fewer runs" if runs <= TOO_FEW_TO_CALL else "")
        + "); arms with no letter in common are, a difference the seeds support. A rank alone is not a "
        "difference. Letters by Piepho's (2004) insert-and-absorb compact letter display."
    )
    distinct = set(ranking.groups.values())
    if not ranking.separated:
        reason = (
            f"with {runs} runs per arm no interval is read as a difference"
            if runs <= TOO_FEW_TO_CALL
            else "no pair's interval excludes 0.5"
        )
        text += f" Here every arm holds the same letter: the seeds separate no two arms ({reason})."
    elif len(distinct) == len(ranking.order) and all(len(g) == 1 for g in distinct):
        text += " Here every arm has its own letter: the seeds separate every pair."
    return text
