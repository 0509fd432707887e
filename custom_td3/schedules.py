"""Schedules that change with training progress, as pure functions of a step or episode count.

Because each value depends only on a counter that the agent saves in its checkpoints, a run
that is resumed reads the same values as an uninterrupted one.

Exploration-noise decay: ``SCHEDULES[name](start, end, steps, t)`` is the std at env step
``t``. Both decays go from ``start`` at ``t = 0`` to ``end`` at ``t = steps`` and stay at
``end`` afterwards:

* ``linear``: a straight line from ``start`` to ``end``.
* ``exponential``: the geometric line ``start * (end / start) ** (t / steps)``, which multiplies
  the std by the same factor each step (it needs ``start > 0`` and ``end > 0``).
"""

from __future__ import annotations

from collections.abc import Callable

#: (start, end, steps, t) -> value at step t.
Schedule = Callable[[float, float, int, int], float]

#: ((until_episode, max_steps), ..., (None, max_steps)): the episode-length curriculum.
EpisodeLengthSchedule = tuple[tuple[int | None, int], ...]


def constant(start: float, end: float, steps: int, t: int) -> float:
    """``start`` at every step: no decay."""
    return start


def linear(start: float, end: float, steps: int, t: int) -> float:
    """``start`` at t = 0, then a straight line that reaches ``end`` at t = ``steps``."""
    if t >= steps:
        return end
    return start + (end - start) * t / steps


def exponential(start: float, end: float, steps: int, t: int) -> float:
    """``start`` at t = 0, multiplied by ``(end / start) ** (1 / steps)`` each step until it reaches ``end``."""
    if t >= steps:
        return end
    value: float = start * (end / start) ** (t / steps)
    return value


SCHEDULES: dict[str, Schedule] = {"constant": constant, "linear": linear, "exponential": exponential}


def episode_step_cap(schedule: EpisodeLengthSchedule, episode: int) -> int:
    """The most steps training episode number ``episode`` (counted from 0) may take.

    Each ``(until_episode, max_steps)`` entry applies to the episodes before ``until_episode``
    that no earlier entry covers; the last entry, ``(None, max_steps)``, applies to all the rest.
    """
    for until_episode, max_steps in schedule:
        if until_episode is None or episode < until_episode:
            return max_steps
    raise ValueError(f"episode length schedule {schedule!r} does not end with an open-ended (None, cap) entry")
