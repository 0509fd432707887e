"""Every call the harness makes into an agent is bounded, by steps and by time, so an agent that
ignores its callback or hangs stops with what it did instead of keeping a study busy forever.

Steps are bounded by the calls themselves (a finite ``total_steps``; the callback raising past it);
time by ``time_limit``, an alarm in the calling thread that raises ``TimeLimitExceeded`` between two
Python bytecodes (every agent returns to Python between its tensor operations). Off the main thread,
where Python delivers no signals, ``time_limit`` cannot interrupt and says so in ``bounded``.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from harness.errors import AgentError


class TimeLimitExceeded(AgentError):
    """An agent's call ran past its time limit; the message says which call and what the agent did."""


def can_interrupt() -> bool:
    """Whether ``time_limit`` can interrupt here (signals reach only the main thread)."""
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")


@contextmanager
def time_limit(seconds: float, describe: Callable[[], str]) -> Iterator[bool]:
    """Raise TimeLimitExceeded(describe()) if the block runs longer than ``seconds``; yields whether the
    limit is enforced (False off the main thread). Nested limits: the inner one is restored on exit."""
    if not can_interrupt() or not math.isfinite(seconds):
        yield False
        return

    def expired(signum: int, frame: Any) -> None:
        raise TimeLimitExceeded(f"{describe()} (stopped after {seconds:g} s)")

    previous = signal.signal(signal.SIGALRM, expired)
    start = time.monotonic()
    outer_left, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:  # an enclosing limit keeps running, less the time spent here
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - start), 1e-3))


class Progress:
    """What a ``stall_limit`` watches: ``tick()`` at every sign of progress (a callback, an action), and
    ``stopping()`` once the agent has been asked to stop (its callback returned False)."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.stop_asked: float | None = None

    def tick(self) -> None:
        self.last = time.monotonic()

    def stopping(self) -> None:
        if self.stop_asked is None:
            self.stop_asked = time.monotonic()

    def idle(self, now: float) -> tuple[float, str]:
        """Seconds without progress (or since the stop was asked, which no later progress excuses)."""
        if self.stop_asked is not None:
            return now - self.stop_asked, "after its callback returned False"
        return now - self.last, "without progress"


@contextmanager
def stall_limit(seconds: float, describe: Callable[[], str]) -> Iterator[Progress]:
    """Raise TimeLimitExceeded(describe()) once the block has gone ``seconds`` without a ``tick()`` of the
    yielded Progress, or ``seconds`` after ``stopping()`` without returning. A slow agent on a busy
    machine keeps ticking and is left alone; one that hangs, or ignores its callback, is stopped. Off the
    main thread it cannot interrupt (see ``time_limit``). An enclosing ``time_limit`` resumes on exit."""
    progress = Progress()
    if not can_interrupt() or not math.isfinite(seconds):
        yield progress
        return

    def expired(signum: int, frame: Any) -> None:
        idle, how = progress.idle(time.monotonic())
        if idle >= seconds:
            raise TimeLimitExceeded(f"{describe()} (stopped after {seconds:g} s {how})")
        signal.setitimer(signal.ITIMER_REAL, max(seconds - idle, 1e-3))

    previous = signal.signal(signal.SIGALRM, expired)
    start = time.monotonic()
    outer_left, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield progress
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - start), 1e-3))
