"""What commands leave behind: reports others can read, no empty folder from a refused study, and the
commands make echoes without stray blanks."""

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from harness.report.write import write_report
from harness.run import rundir

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "study"


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_report_files_are_readable_by_others_like_the_figures(tmp_path, umask_022):
    study = tmp_path / "study"
    shutil.copytree(FIXTURE, study)
    write_report(study, reps=200)
    pngs = sorted(study.glob("*.png"))
    assert pngs
    for path in [study / "report.md", study / "report.html", *pngs]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_atomic_writes_get_ordinary_permissions(tmp_path, umask_022):
    rundir.atomic_write(tmp_path / "a.txt", "text")
    rundir.atomic_write(tmp_path / "b.bin", b"bytes")
    assert [stat.S_IMODE(p.stat().st_mode) for p in sorted(tmp_path.iterdir())] == [0o644, 0o644]
    os.umask(0o077)  # a user who keeps files private still gets what they asked for
    rundir.atomic_write(tmp_path / "c.txt", "text")
    assert stat.S_IMODE((tmp_path / "c.txt").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "bad",
    [
        ["--hp", "gamma=1.5"],  # refused while planning
        ["--tuned-dir", "no-such-tuned-dir"],  # refused while resolving the tuned values
    ],
)
def test_a_refused_study_leaves_no_folder_behind(run_cli, tmp_path, bad):
    results = tmp_path / "results"
    code, _out, err = run_cli(
        *"compare --env tiny_envs:TinyPoint-v0 --algos td3 --seeds 1 --no-estimate --no-report --study s".split(),
        "--results",
        results,
        *bad,
    )
    assert code == 2, err
    assert not results.exists()  # neither results/s nor results itself


def test_a_refused_study_keeps_a_results_root_that_was_there(run_cli, tmp_path):
    (tmp_path / "other").mkdir()
    code, _, err = run_cli(
        *"compare --env tiny_envs:TinyPoint-v0 --algos td3 --hp gamma=1.5 --results".split(), tmp_path
    )
    assert code == 2, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other"]


def test_a_refused_tuning_study_leaves_no_folder_behind(run_cli, tmp_path):
    space = tmp_path / "space.yml"
    space.write_text("learning_rat: {type: float, low: 0.001, high: 0.01}\n")
    code, _, err = run_cli(
        *"tune --env Pendulum-v1 --algo td3 --trials 1 --steps 300 --study t --space".split(),
        space,
        "--results",
        tmp_path / "results",
    )
    assert code == 2 and "unknown hyperparameter 'learning_rat'" in err
    assert not (tmp_path / "results").exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(
    "target",
    [
        "compare ENV=Pendulum-v1",
        "compare ENV=Pendulum-v1 HP=tuned TUNED=dir",
        "tune ENV=Pendulum-v1 ALGO=td3",
        "tune ENV=Pendulum-v1 ALGO=td3 PROMOTE=1",
        "promote STUDY=s",
        "report STUDY=s",
        "enjoy RUN=r",
        "record RUN=r",
        "bench",
        "test",
        "check-agent AGENT=examples.cleanrl_td3:TD3",
        "check-agent AGENT=td3 LEARNING=1",
        "check-agent AGENT=td3 NO_PROBES=1",
        "parity AGENT=examples.cleanrl_td3:TD3",
    ],
)
def test_make_echoes_commands_without_stray_blanks(target):
    """``make -n`` prints each recipe line as make would echo it; the harness lines must be clean."""
    proc = subprocess.run(
        ["make", "-n", "--no-print-directory", *target.split()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    assert proc.returncode == 0, proc.stderr
    commands = [line for line in proc.stdout.splitlines() if " -m harness " in line or " -m pytest" in line]
    assert commands, proc.stdout
    for line in commands:
        assert line == line.rstrip() and "  " not in line, repr(line)


def test_the_readmes_first_command_trains_rather_than_landing_on_a_committed_study():
    from harness.study.spec import default_study_name

    readme = (ROOT / "README.md").read_text()
    first = next(line for line in readme.splitlines() if line.startswith("make compare "))
    settings = dict(word.split("=", 1) for word in first.split("#")[0].split()[2:])
    assert "STUDY" not in settings  # the default name, as a newcomer types it
    name = default_study_name(settings["ENV"].split(","), settings.get("BUDGET", "full"), None)
    tracked = subprocess.run(["git", "ls-files", f"results/{name}"], cwd=ROOT, capture_output=True, text=True)
    assert tracked.returncode == 0 and tracked.stdout == "", (
        f"results/{name} is committed: the first command would skip"
    )
