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
    """One colour per arm: a built-in arm's never changes; other arms follow them alphabetically."""
    order = list(ARM_ORDER) + sorted(a for a in arms if a not in ARM_ORDER)
    palette = sns.color_palette("colorblind", n_colors=max(10, len(order)))
    return {a: palette[order.index(a)] for a in arms}
