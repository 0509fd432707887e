"""``main``: parse the command line, run the command, turn usage errors into exit code 2."""

from __future__ import annotations

import importlib
import signal
import sys

from harness.cli.parser import build_parser
from harness.errors import UsageError

#: command -> (module, function). A command's module is imported only when it runs, so ``report``
#: imports neither torch nor the agents.
COMMANDS = {
    "compare": ("harness.cli.compare", "cmd_compare"),
    "tune": ("harness.cli.tune", "cmd_tune"),
    "promote": ("harness.cli.promote", "cmd_promote"),
    "report": ("harness.cli.commands", "cmd_report"),
    "hyperparams": ("harness.cli.commands", "cmd_hyperparams"),
    "enjoy": ("harness.cli.commands", "cmd_enjoy"),
    "record": ("harness.cli.commands", "cmd_record"),
    "bench": ("harness.cli.commands", "cmd_bench"),
    "reference-scores": ("harness.cli.commands", "cmd_reference_scores"),
    "check-agent": ("harness.cli.verify", "cmd_check_agent"),
    "parity": ("harness.cli.verify", "cmd_parity"),
    "validate-precision": ("harness.cli.verify", "cmd_validate_precision"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The report's parser does without the arms' help texts, which import the agents.
    args = build_parser(arms={} if argv[:1] == ["report"] else None).parse_args(argv)
    module, function = COMMANDS[args.command]
    # `kill <pid>` stops a command as Ctrl-C does: the driver stops its workers and records their runs
    # as interrupted, instead of dying alone and leaving them running.
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return int(getattr(importlib.import_module(module), function)(args))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(
            "\ninterrupted: unfinished runs are marked in their meta.json; repeating the same command "
            "skips complete runs and restarts the others",
            file=sys.stderr,
        )
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
