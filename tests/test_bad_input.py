"""Every bad input: a clear message naming what was wrong and what is accepted, nothing run, exit code 2."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BASE = ["compare", "--dry-run", "--no-estimate", "--no-report"]


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--env", "Pendulum-v2"], ["unknown env 'Pendulum-v2'", "Did you mean: Pendulum-v1"]),
        (["--env", "CartPole-v1"], ["env 'CartPole-v1' has action space Discrete(2)", "Box action space"]),
        (["--env", "no_such_module_xyz:Foo-v0"], ["cannot import module 'no_such_module_xyz'"]),
        (
            ["--env", "Pendulum-v1", "--algos", "sb3-td3,sb3-tdd3"],
            ["unknown algorithm 'sb3-tdd3'", "Known: td3, sb3-td3, sb3-ddpg"],
        ),
        (["--env", "Pendulum-v1", "--algos", "sb3-td3,sb3-td3"], ["--algos: sb3-td3 given more than once"]),
        (["--env", "Pendulum-v1", "--seeds", "0"], ["--seeds", "expected a positive integer, got 0"]),
        (["--env", "Pendulum-v1", "--steps", "-100"], ["--steps", "expected a positive integer, got -100"]),
        (["--env", "Pendulum-v1", "--jobs", "0"], ["--jobs", "expected a positive integer, got 0"]),
        (["--env", "Pendulum-v1", "--seeds", "three"], ["--seeds", "expected a positive integer, got 'three'"]),
        (["--env", "Pendulum-v1", "--budget", "huge"], ["--budget", "invalid choice: 'huge'"]),
        (
            ["--env", "Pendulum-v1", "--hp", "gamma=1.5"],
            ["--hp: hyperparameter 'gamma' = 1.5 is out of range", "[0, 1]"],
        ),
        (["--env", "Pendulum-v1", "--hp", "gamma"], ["expected KEY=VALUE"]),
    ],
)
def test_bad_command_line(run_cli, args, fragments):
    code, out, err = run_cli(*BASE, *args)
    assert code == 2
    for fragment in fragments:
        assert fragment in err
    assert "Study" not in out  # nothing planned, nothing run


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("sb3-td3:\n  Pendulum-v1:\n    gamma: [0.9\n", ["not valid YAML"]),
        (
            "sb3-td3:\n  Pendulum-v1:\n    learning_rat: 0.001\n",
            ["[sb3-td3][Pendulum-v1]", "unknown hyperparameter 'learning_rat'", "Did you mean: learning_rate"],
        ),
        ("sb3-td3:\n  Pendulum-v1:\n    batch_size: 0\n", ["[sb3-td3][Pendulum-v1]", "'batch_size' = 0", "[1, inf)"]),
        ("td3:\n  all:\n    buffer_size: -100\n", ["[td3][all]", "'buffer_size' = -100 is out of range", "[1, inf)"]),
        ("td3:\n  all:\n    gamma: 1.5\n", ["[td3][all]", "'gamma' = 1.5 is out of range", "a float in [0, 1]"]),
        (
            "sb3-td3:\n  all:\n    net_arch: big\n",
            ["[sb3-td3][all]", "'net_arch' is 'big' (str)", "a list of integers"],
        ),
        ("sb3-ddpg:\n  all:\n    policy_delay: 2\n", ["unknown hyperparameter 'policy_delay' for SB3DDPGConfig"]),
        ("sb3-td3:\n  Pendulum-v1: 5\n", ["expected a mapping of hyperparameters"]),
        (
            "tdd3:\n  all:\n    batch_size: 64\n",
            ["section 'tdd3' names no arm", "Did you mean: td3", "this study's arms (td3, sb3-td3, sb3-ddpg)"],
        ),
        (
            "td3:\n  Pendulm-v1:\n    batch_size: 64\n",
            [
                "[td3]: section 'Pendulm-v1' names no env",
                "Did you mean: Pendulum-v1",
                "this study's envs (Pendulum-v1)",
            ],
        ),
    ],
)
def test_bad_hyperparameter_file(run_cli, tmp_path, text, fragments):
    path = tmp_path / "hp.yml"
    path.write_text(text)
    code, _out, err = run_cli(*BASE, "--env", "Pendulum-v1", "--hp-file", path)
    assert code == 2
    assert str(path) in err
    for fragment in fragments:
        assert fragment in err


def test_missing_hyperparameter_file(run_cli, tmp_path):
    code, _, err = run_cli(*BASE, "--env", "Pendulum-v1", "--hp-file", tmp_path / "nope.yml")
    assert code == 2 and "nope.yml: cannot read" in err


def test_exit_code_from_a_real_process():
    proc = subprocess.run(
        [sys.executable, *"-m harness compare --env Pendulm-v1".split()], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "unknown env 'Pendulm-v1'" in proc.stderr and "Traceback" not in proc.stderr


def test_module_env_id_imports_the_module(run_cli):
    code, out, err = run_cli(*BASE, *"--env tiny_envs:TinyPoint-v0 --algos sb3-td3 --seeds 1".split())
    assert code == 0, err
    assert "tiny_envs:TinyPoint-v0" in out and "1,000,000" in out  # not in the zoo: documented defaults


def test_sections_for_other_studies_are_named_in_the_plan(run_cli, tmp_path):
    path = tmp_path / "hp.yml"
    path.write_text(
        "td3:\n  Pendulum-v1: {batch_size: 64}\n  Hopper-v5: {batch_size: 128}\nsb3-sac:\n  all: {tau: 0.01}\n"
    )
    code, out, err = run_cli(*BASE, "--env", "Pendulum-v1", "--algos", "td3", "--hp-file", path)
    assert code == 0, err
    assert f"{path}: applies [td3][Pendulum-v1]; kept for other studies: [td3][Hopper-v5], [sb3-sac][all]" in out


@pytest.mark.parametrize("command", ["compare --env Pendulum-v1", "report"])
def test_reserved_study_names_are_refused(run_cli, command):
    code, _out, err = run_cli(*command.split(), "--study", "tuning", *(["--dry-run"] if "compare" in command else []))
    assert code == 2 and "'tuning' is reserved" in err and "tuning studies of `make tune`" in err


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_a_study_name_with_a_space_through_make_reaches_the_cli_whole():
    proc = subprocess.run(
        ["make", "-n", "--no-print-directory", "compare", "ENV=Pendulum-v1", "STUDY=my study", "DRY_RUN=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    line = next(x for x in proc.stdout.splitlines() if " -m harness compare" in x)
    argv = subprocess.run(
        ["bash", "-c", line.replace(".venv/bin/python -m harness", 'printf "<%s>\\n"')], capture_output=True, text=True
    )
    assert "<--study>\n<my study>\n" in argv.stdout  # one argument, which the CLI then refuses by name
    ran = subprocess.run(
        ["bash", "-c", line.replace(".venv/bin/python", sys.executable)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 2 and "'my study' is not a plain study name" in ran.stderr


def test_make_help_says_which_exit_code_a_script_reads():
    help_text = (ROOT / "Makefile").read_text()
    assert "make exits 2 whenever a command fails" in help_text and "which exits 0, 1 or 2" in help_text
