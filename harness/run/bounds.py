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
