"""Text formatting shared by every stage (plans, progress lines, reports)."""

from __future__ import annotations


def fmt_duration(seconds: float | None) -> str:
    """``'45s'``, ``'3m05s'``, ``'2h07m'``, ``'1d03h'``; ``'?'`` for None, NaN or infinity."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = round(seconds)
    d, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    if d:
        return f"{d}d{h:02d}h"
    if h:
        return f"{h}h{m:02d}m"
    return f"{m}m{s:02d}s" if m else f"{s}s"
