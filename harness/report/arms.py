"""The order and colour of arms in every table and figure, decided here without importing the
agents: the built-in arms in a fixed order (each keeps its colour in every report), then any
other arm (a user's) alphabetically."""

from __future__ import annotations

import seaborn as sns

#: The built-in arms and variants, in the order reports show them (tests check every one is here).
ARM_ORDER = (
    "td3",
    "td3-per",
    "td3-n3",
    "td3-per-n3",
    "sb3-td3",
    "sb3-ddpg",
    "sb3-sac",
    "sb3-tqc",
    "sb3-crossq",
    "random",
)


def arm_order(arms: list[str]) -> list[str]:
    """``arms`` sorted: built-in arms in ARM_ORDER's order, then the others alphabetically."""
    return sorted(arms, key=lambda a: (ARM_ORDER.index(a) if a in ARM_ORDER else len(ARM_ORDER), a))


def arm_colors(arms: list[str]) -> dict[str, tuple[float, float, float]]:
    """One colour per arm, all different within a study (up to 20 arms): a built-in arm's colour never
    changes; other arms, alphabetically, take the colours no built-in arm of the study uses."""
    palette = sns.color_palette("colorblind", 10) + sns.color_palette("dark", 10)
    fixed = {a: palette[ARM_ORDER.index(a)] for a in arms if a in ARM_ORDER}
    free = [c for c in palette if c not in fixed.values()]
    others = sorted(a for a in arms if a not in ARM_ORDER)
    return {**fixed, **{a: free[i % len(free)] for i, a in enumerate(others)}}


#: Line styles and markers, so arms stay apart where their colours overlap or are hard to tell.
_STYLES = (
    ("-", "o"),
    ("--", "s"),
    ("-.", "^"),
    (":", "D"),
    ("-", "v"),
    ("--", "P"),
    ("-.", "X"),
    (":", "*"),
    ("-", "h"),
    ("--", "<"),
)


def arm_styles(arms: list[str]) -> dict[str, tuple[str, str]]:
    """(line style, marker) per arm, all different within a study of up to 10 arms: fixed for a
    built-in arm like its colour; other arms, alphabetically, take the ones no built-in arm uses."""
    fixed = {a: _STYLES[ARM_ORDER.index(a) % len(_STYLES)] for a in arms if a in ARM_ORDER}
    free = [s for s in _STYLES if s not in fixed.values()]
    others = sorted(a for a in arms if a not in ARM_ORDER)
    return {**fixed, **{a: free[i % len(free)] for i, a in enumerate(others)}}
