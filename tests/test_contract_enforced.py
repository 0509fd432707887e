"""A study does not depend on check-agent having been run: an agent that overruns its budget, acts
NaN or with the wrong shape, or saves nothing fails its run with what it did; an env that returns
NaN fails the run as the env's fault; calibration stops an agent that ignores its callback; and no
non-finite score ever enters a report's statistics."""

import json

import numpy as np
import pytest

from harness.errors import UsageError

BASE = (
    "compare --env Pendulum-v1 --steps 400 --eval-freq 200 --eval-episodes 1 --seeds 1 --progress quiet --no-estimate"
)


def _one(run_cli, tmp_path, agent, env="Pendulum-v1"):
    code, out, _err = run_cli(
        *BASE.replace("Pendulum-v1", env, 1).split(), "--algos", agent, "--results", tmp_path, "--study", "s"
    )
    name = agent.rpartition(":")[2] if ":" in agent else agent
    arm_dirs = [p for p in (tmp_path / "s").iterdir() if p.is_dir()]
    meta = json.loads(
        next(d for d in arm_dirs if name in d.name).joinpath(f"{env.rpartition(':')[2]}_0", "meta.json").read_text()
    )
    return code, out, meta


@pytest.mark.parametrize(
    "agent, fragments",
    [
        (
            "tests.own_agents:Overrun",
            ["learn(400) returned with num_timesteps = 1,200", "having seen 0 env steps", "must equal the budget, 400"],
        ),
        (
            "tests.own_agents:NaNAction",
            ["the evaluation at env step 0", "episode 1 of 1", "action [nan] is not finite"],
        ),
        ("tests.own_agents:WrongShape", ["the evaluation at env step 0", "action of shape (2,), the env's is (1,)"]),
        ("tests.own_agents:SavesNothing", ["save() returned", "model.npy, but no such file exists"]),
    ],
)
def test_a_contract_broken_in_a_study_fails_the_run_with_what_the_agent_did(run_cli, tmp_path, agent, fragments):
    code, out, meta = _one(run_cli, tmp_path, agent)
    assert code == 1
    assert meta["status"] == "failed"
    for fragment in fragments:
        assert fragment in meta["error"], meta["error"]
    assert "AgentError" in meta["error"]
    report = (tmp_path / "s" / "report.md").read_text()
    assert "(failed)" in out and "failed: AgentError" in report


def test_an_env_returning_nan_fails_the_run_as_the_envs_fault(run_cli, tmp_path):
    tiny = "--hp learning_starts=100 --hp net_arch=[16,16] --hp batch_size=32"
    for arm, hp in (("td3", tiny), ("random", "")):
        code, _out, _err = run_cli(
            *f"compare --env tiny_envs:NaNPoint-v0 --steps 400 --eval-freq 200 --eval-episodes 1 --seeds 1 --progress quiet --no-estimate {hp}".split(),
            *("--algos", arm, "--results", tmp_path, "--study", "nan"),
        )
        meta = json.loads((tmp_path / "nan" / arm / "NaNPoint-v0_0" / "meta.json").read_text())
        assert code == 1 and meta["status"] == "failed", (arm, meta["status"])
        assert (
            "EnvFault" in meta["error"] and "returned a non-finite reward at step 151 of its episode" in meta["error"]
        )
        assert "the evaluation at env step 0: env NaNPoint-v0" in meta["error"], meta["error"]
    report = (tmp_path / "nan" / "report.md").read_text()
    assert "no complete or diverged runs" in report.lower()  # no score: both runs are out, named with their cause
    assert "NaNPoint-v0_0" in report and "EnvFault" in report


def test_calibration_stops_an_agent_that_ignores_its_callback(tmp_path):
    from harness.agents import get_arm
    from harness.study import calibrate
    from harness.study.spec import StudySpec

    spec = StudySpec("c", ("Pendulum-v1",), ("tests.own_agents:Overrun",), (0,), "smoke", steps=400).expand()[0]
    assert get_arm(spec.arm).name == "tests.own_agents:Overrun"
    with pytest.raises(UsageError) as err:
        calibrate.calibrate([spec], threads=1)
    text = str(err.value)
    assert (
        "calibrating tests.own_agents:Overrun on Pendulum-v1: learn(20,220) returned at num_timesteps = 60,660" in text
    )
    assert "callback having seen 0 steps" in text and "make check-agent" in text


def test_calls_into_an_agent_have_a_time_limit():
    import time

    from harness.run.bounds import TimeLimitExceeded, time_limit

    t0 = time.monotonic()
    busy = pytest.raises(TimeLimitExceeded, match=r"busy doing nothing \(stopped after 0.2 s\)")
    with busy, time_limit(0.2, lambda: "busy doing nothing"):
        while True:
            np.zeros(10).sum()
    assert time.monotonic() - t0 < 2
    with time_limit(5, lambda: "outer") as enforced:  # an inner limit restores the outer one
        with time_limit(1, lambda: "inner"):
            pass
        assert enforced
        with pytest.raises(TimeLimitExceeded, match="outer"):
            time.sleep(10)


def test_an_agent_that_does_not_count_its_updates_is_a_result_in_the_report(run_cli, tmp_path):
    code, _out, meta = _one(run_cli, tmp_path, "tests.own_agents:Minimal")
    assert code == 0 and meta["status"] == "complete"
    report = (tmp_path / "s" / "report.md").read_text()
    assert "evals.csv is truncated" not in report and "Minimal/Pendulum-v1_0" not in report.split("Skipped")[-1]
    from harness.report.load import load_study

    study = load_study(tmp_path / "s")
    assert study.problems == [] and len(study.finals("Pendulum-v1")["tests.own_agents:Minimal"]) == 1


def test_a_nan_from_the_training_env_names_the_training_step(tmp_path):
    from harness.agents import get_arm
    from harness.run import runner
    from harness.run.spec import Budget, RunSpec

    budget = Budget("full", 400, 400, 1000, 1)  # evaluated at step 0 (the env's first episode: finite)
    config = get_arm("random").config_cls()
    spec = RunSpec("s", "random", "tiny_envs:NaNSecondEpisode-v0", 0, budget, config, ("test",), 0, "cpu")
    summary = runner.execute(spec, tmp_path)
    assert summary["status"] == "failed"
    assert summary["error"] == (
        "EnvFault: training, after env step 150: env NaNSecondEpisode-v0 returned a non-finite observation "
        "at step 151 of its episode: [nan]"
    )


def test_a_non_finite_score_never_enters_a_statistic(run_cli, tmp_path):
    from harness.report.load import load_study

    code, _, _ = run_cli(*BASE.split(), "--algos", "random", "--results", tmp_path, "--study", "s")
    code, _, _ = run_cli(*BASE.split(), "--algos", "random", "--seeds", "2", "--results", tmp_path, "--study", "s")
    assert code == 0
    evals = tmp_path / "s" / "random" / "Pendulum-v1_1" / "evals.csv"
    lines = evals.read_text().splitlines()
    cells = lines[2].split(",")
    cells[4] = cells[5] = "nan"  # the mean and the one episode's return at step 200
    evals.write_text("\n".join([*lines[:2], ",".join(cells), *lines[3:]]) + "\n")
    study = load_study(tmp_path / "s")
    assert study.problems == [
        "random/Pendulum-v1_1: evals.csv has a non-finite score (nan at step 200) in a run recorded complete; "
        "run left out of every statistic"
    ]
    assert np.isfinite(study.finals("Pendulum-v1")["random"]).all() and len(study.finals("Pendulum-v1")["random"]) == 1
    code, _out, _ = run_cli("report", "--study", "s", "--results", tmp_path)
    report = (tmp_path / "s" / "report.md").read_text()
    assert "non-finite score (nan at step 200)" in report


def test_check_agent_stops_an_agent_that_overruns_or_hangs(monkeypatch):
    import time

    from harness.agents import get_arm
    from harness.verify import conformance, probes

    rows = conformance.run_checks(get_arm("tests.own_agents:Overrun"))
    budget = next(c for c in rows if c.name.startswith("the budget is honoured"))
    assert budget.status == "FAIL" and "learn(200) ended with num_timesteps = 600" in budget.detail
    stops = next(c for c in rows if c.name.startswith("a callback returning False"))
    assert stops.status == "FAIL" and "stopped learn at 6000" in stops.detail  # bounded: learn(2,000) x 3
    probe_rows = [c for c in rows if c.status == "FAIL" and "ended at num_timesteps" in c.detail]
    assert probe_rows  # the probes ask for a finite budget and check it

    monkeypatch.setattr(conformance, "CHECK_LIMIT_S", 1.0)
    monkeypatch.setattr(probes, "PROBE_LIMIT_S", 1.0)
    t0 = time.monotonic()
    rows = conformance.run_checks(get_arm("tests.own_agents:Hangs"))
    assert time.monotonic() - t0 < 30
    shapes = next(c for c in rows if c.name.startswith("actions have the env's shape"))
    assert shapes.status == "FAIL" and "had not returned (stopped after 1 s)" in shapes.detail


@pytest.mark.parametrize("arm", ["td3", "sb3-td3"])
def test_a_study_under_a_relative_results_root_finds_the_saved_model(tmp_path, monkeypatch, arm):
    """make compare writes under `results`, a path relative to the working directory, and so are the paths
    an agent's save() returns: the check after save must find them there, not under the run directory again."""
    from pathlib import Path

    from harness.run.runner import execute
    from harness.study.spec import StudySpec

    monkeypatch.chdir(tmp_path)
    spec = StudySpec("rel", ("Pendulum-v1",), (arm,), (0,), steps=300, eval_freq=150, eval_episodes=1).expand()[0]
    summary = execute(spec, Path("results"))
    assert summary["status"] == "complete", summary.get("error")
    assert (
        spec.run_dir(Path("results"))
        / json.loads((spec.run_dir(Path("results")) / "meta.json").read_text())["result"]["model"]
    ).is_file()
