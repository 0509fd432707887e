"""Tuning: search spaces as data, the objective as harness runs, embedded storage, resume, outputs."""

import json

import optuna
import pytest
import yaml

from harness.agents import get_arm
from harness.config import HYPERPARAMS_DIR, resolve, search
from harness.config.seeds import TUNING_SEED_BASE
from harness.errors import ConfigError
from harness.tuning import tune

TINY_SPACE = """
learning_rate: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}
net_arch: {type: categorical, choices: [[16], [16, 16]]}
n_steps: {type: int, low: 1, high: 3}
"""


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("gamma: {type: float, low: 0.9, high: 1.5}\n", "'gamma' = 1.5 is out of range"),
        ("learning_rat: {type: float, low: 0.001, high: 0.01}\n", "unknown hyperparameter 'learning_rat'"),
        ("learning_rate: {type: float, low: 0.0, high: 0.01, log: true}\n", "a log range needs low > 0"),
        ("batch_size: {type: categorical, choices: []}\n", "categorical needs a non-empty list"),
        ("tau: {type: uniform, low: 0.001, high: 0.01}\n", "expected {type: float|int|categorical"),
        ("tau: {type: float, low: 0.01, high: 0.001}\n", "needs numbers low < high"),
    ],
)
def test_bad_search_space_names_file_and_key(tmp_path, text, fragment):
    path = tmp_path / "space.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        search.load_space(get_arm("td3"), path)
    assert str(path) in str(err.value) and fragment in str(err.value)


def test_every_project_space_loads_and_samples_plain_values():
    for arm in ("td3", "sb3-td3", "sb3-ddpg"):
        space = search.load_space(get_arm(arm))
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask()
        values = search.sample(trial, space)
        assert set(values) == set(space)
        assert isinstance(values["net_arch"], list) and all(isinstance(h, int) for h in values["net_arch"])
        assert search.decode(trial.params, space) == values
    assert {"per_alpha", "per_beta0", "n_steps"} <= set(search.load_space(get_arm("td3")))


def test_pruner_waits_for_learning_to_start():
    for name in ("median", "halving"):
        study = optuna.create_study(direction="maximize", pruner=tune.make_pruner(name, warmup_steps=500))
        for value in (10.0, 20.0, 30.0):  # three good trials to compare against
            t = study.ask()
            for step in (100, 600):
                t.report(value, step)
            study.tell(t, value)
        bad = study.ask()
        bad.report(-1000.0, 100)
        assert not bad.should_prune(), name  # before learning starts: never
        bad.report(-1000.0, 600)
        assert bad.should_prune() or name == "halving", name


def run_tune(run_cli, tmp_path, *extra):
    space = tmp_path / "space.yml"
    space.write_text(TINY_SPACE)
    return run_cli(
        *"tune --env Pendulum-v1 --algo td3 --steps 400 --eval-freq 100 --eval-episodes 1 --space".split(),
        space,
        "--results",
        tmp_path / "results",
        "--tuned-dir",
        tmp_path / "tuned",
        *"--study tiny --pruner none --seeds-per-trial 2".split(),
        *extra,
    )


@pytest.mark.long
def test_tiny_study_end_to_end_and_resume(run_cli, tmp_path):
    code, _out, err = run_tune(run_cli, tmp_path, "--trials", "3")
    assert code == 0, err
    storage = f"{tmp_path}/results/tuning/tiny/journal.log"
    study = optuna.load_study(
        study_name="tiny",
        storage=optuna.storages.journal.JournalStorage(optuna.storages.journal.JournalFileBackend(storage)),
    )
    first = [(t.number, t.params, t.value) for t in study.trials]
    assert len(first) == 3 and all(t.state.name == "COMPLETE" for t in study.trials)
    base = TUNING_SEED_BASE  # trials train on seeds no study uses (harness.config.seeds)
    assert all(t.user_attrs["seeds"] == [base + 2 * t.number, base + 2 * t.number + 1] for t in study.trials)
    for t in study.trials:  # the objective is the mean of the trial's two runs
        finals = [
            json.loads(p.read_text())["result"]["final_return_mean"]
            for p in sorted(
                (tmp_path / "results" / "tuning" / "tiny" / f"trial_{t.number:04d}").glob("td3/*/meta.json")
            )
        ]
        assert len(finals) == 2 and t.value == pytest.approx(sum(finals) / 2)

    assert not (tmp_path / "tuned").exists()  # not promoted: the tuned directory is left alone
    code, out, err = run_tune(run_cli, tmp_path, "--trials", "5", "--promote")  # same study: continues it
    assert code == 0, err
    study = optuna.load_study(
        study_name="tiny",
        storage=optuna.storages.journal.JournalStorage(optuna.storages.journal.JournalFileBackend(storage)),
    )
    assert len(study.trials) == 5 and [(t.number, t.params, t.value) for t in study.trials[:3]] == first

    own = tmp_path / "results" / "tuning" / "tiny" / "tuned" / "td3" / "Pendulum-v1.yml"
    assert f"best values: {own}" in out and f"promoted to {tmp_path / 'tuned' / 'td3' / 'Pendulum-v1.yml'}" in out
    assert "next: make compare ENV=Pendulum-v1 ALGOS=td3 HP=tuned TUNED=" in out
    tuned = yaml.safe_load((tmp_path / "tuned" / "td3" / "Pendulum-v1.yml").read_text())
    assert {k: v for k, v in tuned["provenance"].items() if k != "promoted"} == yaml.safe_load(own.read_text())[
        "provenance"
    ]
    best = study.best_trial
    assert tuned["provenance"]["trial"] == best.number and tuned["provenance"]["value"] == pytest.approx(best.value)
    assert tuned["hyperparameters"]["net_arch"] == json.loads(best.params["net_arch"])
    assert set(tuned["hyperparameters"]) == {"learning_rate", "net_arch", "n_steps"}
    assert {"study", "storage", "seeds", "budget", "date", "versions", "trials"} <= set(tuned["provenance"])
    assert tuned["provenance"]["budget"] == {"preset": "smoke", "steps": 400}
    assert tuned["provenance"]["trials"] == {"complete": 5, "pruned": 0, "fail": 0}
    folder = tmp_path / "results" / "tuning" / "tiny"
    for name in ("optimization_history", "param_importances", "intermediate_values"):
        assert (folder / f"{name}.png").read_bytes()[:4] == b"\x89PNG" and (folder / f"{name}.html").exists()
    summary = (folder / "summary.md").read_text()
    assert "5 complete" in summary and f"Best: trial {best.number}" in summary and "optuna-dashboard" in summary


@pytest.mark.long
def test_a_diverging_trial_fails_with_its_reason(run_cli, tmp_path):
    space = tmp_path / "space.yml"
    space.write_text("learning_rate: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}\n")
    code, out, err = run_cli(
        *"tune --env tiny_envs:HugePoint-v0 --algo td3 --trials 2 --steps 400 --eval-freq 100 --eval-episodes 1 --space".split(),
        space,
        "--results",
        tmp_path,
        "--tuned-dir",
        tmp_path / "tuned",
        "--study",
        "nan",
    )
    assert code == 0, err
    assert "no trial completed" in out
    summary = (tmp_path / "tuning" / "nan" / "summary.md").read_text()
    assert "2 fail" in summary and "diverged at step" in summary and "is inf" in summary


def test_compare_uses_tuned_values_and_says_so(run_cli, tmp_path):
    folder = HYPERPARAMS_DIR / "tuned" / "td3"
    path = folder / "TinyPoint-v0.yml"
    code, _, err = run_cli(
        *"compare --env tiny_envs:TinyPoint-v0 --algos td3 --hp-set tuned --dry-run --no-estimate --results".split(),
        tmp_path,
    )
    assert code == 2 and "no tuned hyperparameters for td3 on TinyPoint-v0" in err and "make tune" in err
    folder.mkdir(parents=True, exist_ok=True)
    try:
        path.write_text(
            yaml.safe_dump(
                {"hyperparameters": {"learning_rate": 0.0005, "net_arch": [32]}, "provenance": {"study": "s1"}}
            )
        )
        code, out, err = run_cli(
            *"compare --env tiny_envs:TinyPoint-v0 --algos td3 --hp-set tuned --dry-run --no-estimate --results".split(),
            tmp_path,
        )
        assert code == 0, err
        assert "hyperparams/tuned/td3/TinyPoint-v0.yml (tuned: study s1, value not recorded)" in out
        resolved = resolve.resolve(get_arm("td3"), "tiny_envs:TinyPoint-v0", tuned=True)
        assert resolved.config.learning_rate == 0.0005 and resolved.config.net_arch == (32,)
    finally:
        path.unlink(missing_ok=True)
        for empty in (folder, folder.parent):  # only if nothing else was written there
            if empty.exists() and not any(empty.iterdir()):
                empty.rmdir()
