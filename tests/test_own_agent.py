"""Any agent in a study: arms by import path and entry point, their hyperparameters, their optional
capabilities, their code as part of each run's identity, and every bad input refused with exit code 2."""

import dataclasses
import json
import pickle

import pandas as pd
import pytest

import harness.agents
from harness.agents import get_arm
from harness.config import resolve
from harness.config.schema import build_config
from harness.errors import ConfigError, UsageError
from harness.run import runner
from harness.run.record import RunRecord
from harness.run.runner import CheckpointPolicy, execute
from harness.study.plan import describe_plan, make_plan
from harness.study.spec import StudySpec

BASE = ["compare", "--dry-run", "--no-estimate", "--no-report", "--env", "Pendulum-v1", "--seeds", "1"]
MINIMAL = "tests.own_agents:Minimal"
TINY = {"steps": 300, "eval_freq": 150, "eval_episodes": 1}


@pytest.fixture(autouse=True)
def fresh_registry():
    """Arms found by import path are kept per process; each test finds its own."""
    harness.agents._EXTERNAL.clear()
    yield
    harness.agents._EXTERNAL.clear()


def test_our_td3_by_import_path_is_td3_same_runs_same_numbers(tmp_path):
    arm = get_arm("custom_td3:TD3")
    assert arm.name == "custom_td3:TD3" and arm.files == "td3" and arm.config_cls is get_arm("td3").config_cls
    runs = StudySpec("s", ("Pendulum-v1",), ("td3", "custom_td3:TD3"), (0,), hp_overrides={"net_arch": [16]}, **TINY)
    ours, by_path = runs.expand()
    assert ours.config == by_path.config and ours.budget == by_path.budget and ours.hp_sources == by_path.hp_sources
    assert ours.agent_code["identity"] == by_path.agent_code["identity"]
    for spec in (ours, by_path):
        assert execute(spec, tmp_path)["status"] == "complete"
    evals = [pd.read_csv(tmp_path / "s" / a / "Pendulum-v1_0" / "evals.csv") for a in ("td3", "custom_td3:TD3")]
    assert evals[0]["return_0"].tolist() == evals[1]["return_0"].tolist()
    assert (
        evals[0]["updates"].tolist() == evals[1]["updates"].tolist() == [0, 0, 150]
    )  # learning_starts 10,000 scaled to 150


def test_an_sb3_class_by_import_path_takes_its_constructor_keywords_as_config(tmp_path):
    assert get_arm("stable_baselines3:TD3").files == "sb3-td3"  # a registered arm's class is that arm
    arm = get_arm("tests.own_agents:ForkedTD3")
    fields = {f.name: f.default for f in dataclasses.fields(arm.config_cls)}
    assert fields["extra_knob"] == 3 and fields["learning_rate"] == 1e-3 and fields["policy_delay"] == 2
    assert fields["net_arch"] is None and fields["noise_type"] is None  # SB3's defaults; noise as the SB3 arms have it
    config = build_config(arm.config_cls, {"extra_knob": 5, "net_arch": [8, 8], "noise_type": "normal"}, "x")
    assert pickle.loads(pickle.dumps(config)) == config  # run specs travel to worker processes
    with pytest.raises(ConfigError, match=r"unknown hyperparameter 'extra_knb'.*Did you mean: extra_knob"):
        build_config(arm.config_cls, {"extra_knb": 5}, "x")
    spec = StudySpec("s", ("Pendulum-v1",), (arm.name,), (0,), hp_overrides={"net_arch": [8, 8]}, **TINY).expand()[0]
    summary = execute(spec, tmp_path)
    assert summary["status"] == "complete" and summary["updates"] > 0
    model_dir = tmp_path / "s" / arm.name / "Pendulum-v1_0"
    agent = json.loads((model_dir / "meta.json").read_text())["agent"]
    assert agent["object"] == "tests.own_agents:ForkedTD3" and agent["module_file"] == "tests/own_agents.py"


def test_an_entry_point_names_an_arm(tmp_path, monkeypatch):
    dist = tmp_path / "mine-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mine\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[td3_harness.arms]\nmyarm = {MINIMAL}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    arm = get_arm("myarm")
    assert arm.name == "myarm" and arm.config_cls.__qualname__ == "Minimal.Config"
    assert "entry point td3_harness.arms myarm" in arm.origin
    with pytest.raises(UsageError, match=r"Known: td3.*myarm"):
        get_arm("myarn")


def test_hyperparameters_come_from_config_files_and_the_command_line(tmp_path):
    arm = get_arm(MINIMAL)
    (tmp_path / f"{MINIMAL}.yml").write_text("Pendulum-v1:\n  n_timesteps: 5000\n  scale: 0.25\n")
    user = tmp_path / "user.yml"
    user.write_text(f"{MINIMAL}:\n  all:\n    scale: 0.125\n")
    plain = resolve.resolve(arm, "Pendulum-v1")
    assert plain.config.scale == 0.5 and plain.n_timesteps is None  # the Config's defaults alone
    filed = resolve.resolve(arm, "Pendulum-v1", hp_dir=tmp_path)
    assert filed.config.scale == 0.25 and filed.n_timesteps == 5000
    assert resolve.resolve(
        arm, "Pendulum-v1", [user], {"learning_starts": 7}, hp_dir=tmp_path
    ).config == arm.config_cls(learning_starts=7, scale=0.125)
    with pytest.raises(
        ConfigError, match=r"user.yml \[tests.own_agents:Minimal\]\[all\]: unknown hyperparameter 'scal'"
    ):
        user.write_text(f"{MINIMAL}:\n  all:\n    scal: 0.125\n")
        resolve.resolve(arm, "Pendulum-v1", [user])


def test_an_arm_without_a_budget_of_its_own_takes_the_others(tmp_path):
    both = StudySpec("s", ("Pendulum-v1",), (MINIMAL, "td3"), (0,), budget="full").expand()
    assert {r.budget.total_steps for r in both} == {20_000}  # td3's, from rl-zoo3
    assert StudySpec("s", ("Pendulum-v1",), (MINIMAL,), (0,), steps=500).expand()[0].budget.total_steps == 500
    with pytest.raises(UsageError, match="no arm of this study sets a full budget for Pendulum-v1"):
        StudySpec("s", ("Pendulum-v1",), (MINIMAL,), (0,)).expand()


def test_missing_capabilities_are_stated_and_a_run_without_them_completes_unchecked(tmp_path):
    arm = get_arm(MINIMAL)
    assert arm.capabilities.lacking()[1] == "state_dict (not checkpointed: a crashed run restarts from zero)"
    study = StudySpec("s", ("Pendulum-v1",), (MINIMAL, "td3"), (0,), **TINY)
    text = "\n".join(describe_plan(make_plan(study, tmp_path, 1, 1, estimate=False), tmp_path, 1, 1))
    assert f"{MINIMAL}: import path {MINIMAL}; code source " in text and "(tests/own_agents.py, git " in text
    assert "lacks num_updates (gradient updates are not counted); state_dict (not checkpointed" in text
    assert "td3: registered in harness.agents; code source" in text and "all optional capabilities" in text
    spec = study.expand()[0]
    summary = execute(spec, tmp_path, policy=CheckpointPolicy(steps=50))
    assert summary["status"] == "complete" and summary["updates"] is None
    run_dir = spec.run_dir(tmp_path)
    assert not (run_dir / "checkpoints").exists()
    assert pd.read_csv(run_dir / "evals.csv")["updates"].isna().all()


def test_changed_agent_code_supersedes_its_runs_and_the_plan_says_so(tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text(
        "from tests.own_agents import Minimal\n\n\nclass Agent(Minimal):\n    scale = 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    study = StudySpec("s", ("Pendulum-v1",), ("mine:Agent",), (0,), **TINY)
    first = study.expand()[0]
    assert execute(first, tmp_path / "results")["status"] == "complete"
    meta = json.loads((first.run_dir(tmp_path / "results") / "meta.json").read_text())
    assert meta["agent"]["object"] == "mine:Agent" and meta["agent"]["files"] == 1
    assert meta["spec"]["agent_code"] == first.agent_code["identity"] == f"source {meta['agent']['source_hash']}"
    assert runner.decide(study.expand()[0], tmp_path / "results") == "skip"  # same code: the run stands

    (tmp_path / "mine.py").write_text(
        "from tests.own_agents import Minimal\n\n\nclass Agent(Minimal):\n    scale = 2\n"
    )
    again = study.expand()[0]
    assert again.agent_code["identity"] != first.agent_code["identity"]
    assert runner.decide(again, tmp_path / "results") == "supersede"
    plan = make_plan(study, tmp_path / "results", 1, 1, estimate=False)
    text = "\n".join(describe_plan(plan, tmp_path / "results", 1, 1))
    assert "1 with a changed spec (old run moved to superseded/)" in text
    old, new = first.agent_code["identity"], again.agent_code["identity"]
    assert f"superseded: 1 run(s) of mine:Agent, changed: agent code ({old} -> {new})" in text


def test_runs_recorded_before_agent_code_was_part_of_the_identity_still_match(tmp_path):
    spec = StudySpec("s", ("Pendulum-v1",), ("td3",), (0,), **TINY).expand()[0]
    recorded = {
        "spec": {k: v for k, v in spec.identity().items() if k != "agent_code"},
        "spec_hash": "old",
        "status": "complete",
    }
    assert spec.matches(RunRecord.from_dict(json.loads(json.dumps(recorded, default=str))))


@pytest.mark.parametrize(
    "algo, fragments",
    [
        ("no_such_module_xyz:Agent", ["cannot import module 'no_such_module_xyz'", "ModuleNotFoundError"]),
        ("tests.own_agents:Minmal", ["'tests.own_agents' has no attribute 'Minmal'", "Did you mean: Minimal"]),
        ("tests.own_agents:NoSave", ["NoSave is not an agent: it has no Config, save, load;"]),
        ("tests.own_agents:not_a_class", ["is a int object, not an agent"]),
        ("tests.own_agents:PlainConfig", ["PlainConfig.Config is not a dataclass", "@dataclasses.dataclass"]),
        ("tests.own_agents", ["unknown algorithm 'tests.own_agents'", "module:Class"]),
    ],
)
def test_bad_agents_are_refused_before_anything_runs(run_cli, algo, fragments):
    code, out, err = run_cli(*BASE, "--algos", f"td3,{algo}")
    assert code == 2, err
    for fragment in fragments:
        assert fragment in err
    assert "Study" not in out and "Traceback" not in err


def test_a_module_that_fails_to_import_shows_its_error(run_cli, tmp_path, monkeypatch):
    (tmp_path / "broken_agent.py").write_text("import numpy\n\nraise RuntimeError('the weights file is missing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, err = run_cli(*BASE, "--algos", "broken_agent:TD3")
    assert code == 2 and "Study" not in out
    assert "cannot import module 'broken_agent': RuntimeError: the weights file is missing" in err
    assert "broken_agent.py:3" in err


def test_an_unknown_hyperparameter_of_an_agent_is_named(run_cli):
    code, out, err = run_cli(*BASE, "--algos", MINIMAL, "--steps", "500", "--hp", "scal=0.1")
    assert code == 2 and "Study" not in out
    assert "--hp: unknown hyperparameter 'scal' for Minimal.Config. Did you mean: scale?" in err
