"""Shared fixtures: tiny networks and budgets so the suite runs in minutes on two cores."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# Choices kept per machine (harness.run.machine) go to a folder of this session, not the user's cache.
os.environ["TD3_HARNESS_CACHE"] = tempfile.mkdtemp(prefix="td3-harness-cache-")

TESTS = Path(__file__).resolve().parent


#: The layers of TD3 at rl-zoo3's BipedalWalker-v3 settings: what the session's backend is probed on.
PROBE_SHAPES = [(256, 24, 400), (256, 28, 400), (256, 300, 1), (256, 300, 4), (256, 400, 300)]


@pytest.fixture(scope="session", autouse=True)
def matmul_backend():
    """The matmul backend a study would choose on this machine: in-process tests (parity, n-step, PER,
    bit-exact resume) compute on it; runs started through the CLI choose it themselves."""
    from harness.run import matmul

    choice = matmul.probe(PROBE_SHAPES, threads=1)
    matmul.apply(choice.backend)
    yield choice.backend
    matmul.apply("default")


@pytest.fixture(params=["default", "onednn"])
def each_backend(request, matmul_backend):
    """Every matmul backend this torch build offers, in turn (then back to the session's): for the tests
    that must hold on whichever one a study picks (parity with SB3, bit-exact resume)."""
    from harness.run import matmul

    if request.param not in matmul.available():
        pytest.skip(f"matmul backend {request.param} is not available in this torch build")
    matmul.apply(request.param)
    yield request.param
    matmul.apply(matmul_backend)


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
