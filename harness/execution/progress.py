"""Live progress of a study: one line per run with env steps, steps/s, last evaluation and ETA.

``live`` redraws with rich on a terminal; ``log`` prints a line per run every ``interval``
seconds (for files and CI logs that still want progress); ``quiet`` prints only when runs
start, end or fail.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from harness.fmt import fmt_duration


def _eta(event: dict[str, Any]) -> float | None:
    """The run's own estimate of what is left, evaluations included; else the training steps left at its rate."""
    if event.get("eta_s") is not None:
        return float(event["eta_s"])
    rate, steps, total = event.get("steps_per_s"), event.get("steps", 0), event.get("total")
    if not rate or total is None:
        return None
    return (total - steps) / rate


def _ret(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


class Display:
    """Base: quiet mode. Subclasses add per-run progress."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(file=sys.stdout, highlight=False, soft_wrap=True)
        self.state: dict[str, dict[str, Any]] = {}

    def __enter__(self) -> Display:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def handle(self, event: dict[str, Any]) -> None:
        key, kind = event["key"], event["event"]
        state = self.state.setdefault(key, {})
        state.update({k: v for k, v in event.items() if v is not None})
        if kind == "start":
            resumed = f", resumed at step {event['steps']:,}" if event.get("resumed") else ""
            self.line(f"start  {key}  ({event['total']:,} steps{resumed})")
        elif kind == "busy":
            self.line(f"busy   {key}: {event.get('reason')}")
        elif kind == "done":
            self.line(
                f"done   {key}  final eval {_ret(event.get('last_return'))}  {event.get('steps_per_s', 0):.0f} steps/s"
            )
        elif kind == "failed":
            self.line(f"FAILED {key}: {event.get('error')}")
        elif kind == "note":
            self.line(f"note   {key}: {event.get('text')}")
        else:
            self.progress(key, state)

    def progress(self, key: str, state: dict[str, Any]) -> None:
        pass

    def line(self, text: str) -> None:
        self.console.print(f"[{time.strftime('%H:%M:%S')}] {text}", markup=False)


class LogDisplay(Display):
    """Quiet's lines plus, per run, a progress line at most every ``interval`` seconds."""

    def __init__(self, interval: float = 30.0, console: Console | None = None):
        super().__init__(console)
        self.interval = interval
        self.last: dict[str, float] = {}

    def progress(self, key: str, state: dict[str, Any]) -> None:
        now = time.monotonic()
        if not state.get("steps") or now - self.last.get(key, 0.0) < self.interval:
            return
        self.last[key] = now
        rate = state.get("steps_per_s")
        self.line(
            f"       {key}  {state.get('steps', 0):,}/{state['total']:,} steps  "
            f"{f'{rate:.0f}' if rate else '-'} steps/s  eval {_ret(state.get('last_return'))}  "
            f"ETA {fmt_duration(_eta(state))}"
        )


class LiveDisplay(Display):
    """A rich progress bar per run, redrawn in place."""

    def __init__(self, console: Console | None = None):
        super().__init__(console)
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            TextColumn("{task.completed:>9,.0f}/{task.total:,.0f}"),
            TextColumn("{task.fields[rate]:>7} steps/s"),
            TextColumn("eval {task.fields[ret]:>8}"),
            TextColumn("ETA {task.fields[eta]:>6}"),
            TimeElapsedColumn(),
            console=self.console,
            refresh_per_second=2,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> LiveDisplay:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def line(self, text: str) -> None:
        self.bars.console.print(f"[{time.strftime('%H:%M:%S')}] {text}", markup=False)

    def handle(self, event: dict[str, Any]) -> None:
        key = event["key"]
        if key not in self.tasks and event["event"] == "start":
            self.tasks[key] = self.bars.add_task(
                key, total=event["total"], completed=event.get("steps", 0), rate="-", ret="-", eta="?"
            )
        super().handle(event)
        if event["event"] in ("done", "failed") and key in self.tasks:
            self.bars.update(self.tasks[key], completed=self.state[key].get("steps", 0), eta="0s")

    def progress(self, key: str, state: dict[str, Any]) -> None:
        if key in self.tasks:
            rate = state.get("steps_per_s")
            self.bars.update(
                self.tasks[key],
                completed=state.get("steps", 0),
                rate=f"{rate:.0f}" if rate else "-",
                ret=_ret(state.get("last_return")),
                eta=fmt_duration(_eta(state)),
            )


def make_display(mode: str) -> Display:
    """'auto' picks live on a terminal and log elsewhere; 'quiet', 'log', 'live' force one."""
    if mode == "auto":
        mode = "live" if sys.stdout.isatty() else "log"
    return {"quiet": Display, "log": LogDisplay, "live": LiveDisplay}[mode]()
