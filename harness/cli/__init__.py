"""``python -m harness <command>``: the argument parser (``parser``), shared argument types
(``args``) and one function per command (``compare``, ``tune``, ``commands``). Usage errors exit 2."""

from harness.cli.main import main

__all__ = ["main"]
