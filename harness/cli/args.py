"""Argument types and small parsers shared by the commands; each error names what was given and
what is accepted."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Callable, Sequence

from harness.errors import UsageError

#: A study name is one plain folder name under the results root: no separators, no '..'.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]*")


def _int_at_least(low: int, words: str) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``low``, with an error naming what was given."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {words}, got {value}")
        return value

    return parse


positive_int = _int_at_least(1, "a positive integer")
non_negative_int = _int_at_least(0, "a non-negative integer")


def study_name(text: str) -> str:
    """An argparse type: a study name that stays inside the results root (``--study ../x`` is refused)."""
    if not _PLAIN_NAME.fullmatch(text) or ".." in text:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a plain study name; accepted: letters, digits and . _ + = - (not starting "
            "with . or -, no '..', no path separators); results go to <results>/<study>/, choose the "
            "root with --results"
        )
    return text


#: Top-level folders of a results root that are not compare studies: ``make tune`` keeps its studies
#: under ``tuning/``, so a compare (or report) study of that name would mix with them.
RESERVED_STUDY_NAMES = ("tuning",)


def compare_study_name(text: str) -> str:
    """``study_name``, refusing the names RESERVED_STUDY_NAMES keeps for other uses."""
    name = study_name(text)
    if name in RESERVED_STUDY_NAMES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is reserved: <results>/{text}/ holds the tuning studies of `make tune`; choose any other "
            "plain study name (letters, digits and . _ + = -)"
        )
    return name


def parse_list(text: str, what: str) -> tuple[str, ...]:
    """``'a, b,c'`` -> ``('a', 'b', 'c')``; UsageError for an empty list."""
    items = tuple(x.strip() for x in text.split(",") if x.strip())
    if not items:
        raise UsageError(f"{what}: expected a comma-separated list, got {text!r}")
    return items


def seeds_from(n: int, offset: int = 0) -> tuple[int, ...]:
    return tuple(range(offset, offset + n))


def unique(items: Sequence[str], what: str) -> tuple[str, ...]:
    """``items`` as a tuple; UsageError naming any item given twice."""
    dup = [x for x, c in Counter(items).items() if c > 1]
    if dup:
        raise UsageError(f"{what}: {', '.join(dup)} given more than once")
    return tuple(items)


def resolve_device(requested: str, cuda: bool, where: str) -> str:
    """'auto' -> cuda when ``where`` has a CUDA device, else cpu; UsageError for cuda without one."""
    if requested == "auto":
        return "cuda" if cuda else "cpu"
    if requested == "cuda" and not cuda:
        raise UsageError(f"--device cuda: {where} sees no CUDA device; use auto or cpu")
    return requested
