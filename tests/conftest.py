"""Shared fixtures: tiny networks and budgets so the suite runs in minutes on two cores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def tiny_hp_file(tmp_path: Path) -> Path:
    """Overrides for every arm on every env: small networks, small batches."""
    path = tmp_path / "tiny.yml"
    path.write_text("all:\n  all:\n    net_arch: [16, 16]\n    batch_size: 32\n    buffer_size: 5000\n")
    return path


@pytest.fixture
def run_cli(capsys):
    """Run ``python -m harness`` in-process; returns (exit code, stdout, stderr)."""
    from harness.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
