"""Tuned values: a study keeps its own, promotion never silently loses better ones, the plan says where
tuned values came from, and the pruner never judges a run that has not learned yet."""

import hashlib

import optuna
import pandas as pd
import yaml

from harness.config import HYPERPARAMS_DIR
from harness.config import tuned as tuned_file
from harness.tuning import promote, tune

SPACE = "learning_rate: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}\n"


def write_tuned(path, study, steps, value, learning_rate=0.001, **extra):
    path.parent.mkdir(parents=True, exist_ok=True)
    provenance = {
        "study": study,
        "arm": "td3",
        "trial": 3,
        "value": value,
        "seeds": [3, 4],
        "budget": {"preset": "quick", "steps": steps},
        "trials": {"complete": 20, "pruned": 10, "fail": 1},
        "date": "2026-11-21T11:26:09+00:00",
        **extra,
    }
    if value is None:
        del provenance["value"]
    path.write_text(tuned_file.dump({"learning_rate": learning_rate}, provenance))
    return path


def study_file(results, study, **kw):
    return write_tuned(results / "tuning" / study / "tuned" / "td3" / "Pendulum-v1.yml", study, **kw)


def snapshot(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
        for p in folder.rglob("*")
    }


def test_losses_name_the_larger_budget_and_the_better_objective(tmp_path):
    old = tuned_file.load(write_tuned(tmp_path / "old.yml", "long", steps=50_000, value=-150.0))
    short_worse = tuned_file.load(write_tuned(tmp_path / "a.yml", "short", steps=10_000, value=-160.5))
    long_better = tuned_file.load(write_tuned(tmp_path / "b.yml", "longer", steps=100_000, value=-140.0))
    unknown = tuned_file.load(write_tuned(tmp_path / "c.yml", "old", steps=10_000, value=None))
    assert promote.losses(short_worse, old) == [
        "found with a larger budget (50,000 steps per run against 10,000)",
        "with a better objective (-150.00 against -160.50)",
    ]
    assert promote.losses(long_better, old) == []
    assert promote.losses(old, long_better) == [
        "found with a larger budget (100,000 steps per run against 50,000)",
        "with a better objective (-140.00 against -150.00)",
    ]
    assert promote.losses(old, unknown) == ["whose budget or objective value is not recorded"]
    assert old.describe() == "study long, 50,000 steps x 2 seeds, 30 trials, value -150.0, 2026-11-21"


def test_promotion_refuses_to_replace_larger_budget_or_better_values_without_force(run_cli, tmp_path):
    results, tuned = tmp_path / "results", tmp_path / "tuned"
    study_file(results, "long", steps=50_000, value=-150.0, learning_rate=0.002)
    study_file(results, "scratch", steps=1_000, value=-900.0, learning_rate=0.0005)
    target = tuned / "td3" / "Pendulum-v1.yml"

    code, out, err = run_cli("promote", "long", "--results", results, "--tuned-dir", tuned)
    assert code == 0, err
    assert f"promoted to {target}" in out and "HP=tuned" in out
    promoted = yaml.safe_load(target.read_text())
    assert promoted["hyperparameters"] == {"learning_rate": 0.002}
    assert promoted["provenance"]["study"] == "long" and promoted["provenance"]["promoted"]["date"]
    before = target.read_bytes()

    code, out, err = run_cli("promote", "scratch", "--results", results, "--tuned-dir", tuned)
    assert code == 2
    assert (
        f"not promoted: {target} holds values found with a larger budget (50,000 steps per run against 1,000) "
        "and with a better objective (-150.00 against -900.00): study long, 50,000 steps x 2 seeds" in err
    )
    assert "This study's: study scratch, 1,000 steps" in err and "--force" in err
    assert target.read_bytes() == before  # nothing lost

    code, out, err = run_cli("promote", "long", "--results", results, "--tuned-dir", tuned)  # again: a no-op
    assert code == 0 and "already holds these values; unchanged" in out and target.read_bytes() == before

    code, out, err = run_cli("promote", "scratch", "--results", results, "--tuned-dir", tuned, "--force")
    assert code == 0, err
    assert "replacing study long, 50,000 steps" in out
    assert yaml.safe_load(target.read_text())["hyperparameters"] == {"learning_rate": 0.0005}

    code, _, err = run_cli("promote", "nothing-here", "--results", results, "--tuned-dir", tuned)
    assert code == 2 and "no tuning study 'nothing-here'" in err


def test_scratch_tuning_study_leaves_committed_tuned_files_untouched(run_cli, tmp_path):
    committed = HYPERPARAMS_DIR / "tuned"
    before = snapshot(committed)
    space = tmp_path / "space.yml"
    space.write_text(SPACE)
    code, out, err = run_cli(
        *"tune --env Pendulum-v1 --algo td3 --trials 2 --steps 300 --eval-freq 100 --eval-episodes 1".split(),
        *"--hp net_arch=[16] --pruner none --study scratch --space".split(),
        space,
        "--results",
        tmp_path,
    )
    assert code == 0, err
    assert snapshot(committed) == before  # the default tuned directory: not written
    own = tmp_path / "tuning" / "scratch" / "tuned" / "td3" / "Pendulum-v1.yml"
    values = yaml.safe_load(own.read_text())
    assert set(values["hyperparameters"]) == {"learning_rate"}
    assert values["provenance"]["budget"] == {"preset": "smoke", "steps": 300}
    assert values["provenance"]["trials"] == {"complete": 2, "pruned": 0, "fail": 0}
    assert f"best values: {own}" in out
    assert "hyperparams/tuned unchanged" in out and "make promote STUDY=scratch" in out
    assert f"next: make compare ENV=Pendulum-v1 ALGOS=td3 TUNED={own.parent.parent}" in out


def test_plan_names_the_tuned_file_with_its_study_budget_and_value(run_cli, tmp_path):
    tuned = tmp_path / "tuned"
    write_tuned(tuned / "td3" / "TinyPoint-v0.yml", "tiny-study", steps=20_000, value=-12.345)
    code, out, err = run_cli(
        *"compare --env tiny_envs:TinyPoint-v0 --algos td3 --dry-run --no-estimate --tuned-dir".split(),
        tuned,
        "--results",
        tmp_path / "results",
    )
    assert code == 0, err
    assert (
        f"{tuned}/td3/TinyPoint-v0.yml (tuned: study tiny-study, 20,000 steps x 2 seeds, 30 trials, value -12.3, "
        "2026-11-21)"
    ) in out


def test_a_tuned_file_without_budget_or_value_takes_them_from_its_study(tmp_path):
    results = tmp_path / "results"
    study_file(results, "old-study", steps=10_000, value=-146.6)
    bare = tmp_path / "tuned" / "td3" / "Pendulum-v1.yml"
    bare.parent.mkdir(parents=True)
    bare.write_text(yaml.safe_dump({"hyperparameters": {"learning_rate": 0.001}, "provenance": {"study": "old-study"}}))
    assert tuned_file.load(bare).describe() == "study old-study, value not recorded"
    found = tuned_file.load(bare, results)
    assert (found.steps, found.value) == (10_000, -146.6)
    assert found.describe() == "study old-study, 10,000 steps x 2 seeds, 30 trials, value -146.6, 2026-11-21"


class RecordingPruner(optuna.pruners.BasePruner):
    """Never prunes; remembers the step of every trial it was asked to judge."""

    def __init__(self):
        self.judged = []

    def prune(self, study, trial):
        self.judged.append(trial.last_step)
        return False


def test_pruner_never_judges_a_run_before_its_first_gradient_update(tmp_path):
    space = tmp_path / "space.yml"
    space.write_text(SPACE)
    # Trained once per 200-step episode (as rl-zoo3 trains TD3 on Pendulum-v1) with learning_starts 210 of
    # 600 steps (7,000 scaled to the budget): the evaluation at step 300 is past learning_starts, before any update.
    spec = tune.TuneSpec(
        "prune", "td3", "Pendulum-v1", trials=1, steps=600, eval_freq=100, eval_episodes=1, pruner="median", space=space
    )
    overrides = (("net_arch", [16]), ("learning_starts", 7000), ("train_freq_unit", "episode"), ("gradient_steps", -1))
    spec = tune.TuneSpec(**{**spec.__dict__, "hp_overrides": overrides})
    base = spec.base_run()
    pruner = RecordingPruner()
    study = optuna.create_study(direction="maximize", pruner=pruner)
    study.optimize(tune.objective(spec, tmp_path, 1), n_trials=1)

    (evals_csv,) = (tmp_path / "tuning" / "prune" / "trial_0000").glob("td3/*/evals.csv")
    evals = pd.read_csv(evals_csv)
    before_update = set(evals.loc[evals["updates"] == 0, "step"])
    after_update = set(evals.loc[evals["updates"] > 0, "step"])
    assert {s for s in before_update if s >= base.config.learning_starts}, "the case this test is about"
    assert after_update, "the run must have learned"
    assert set(pruner.judged) == after_update  # judged at every evaluation after the first update, never before
    assert set(study.trials[0].intermediate_values) == after_update


def test_force_without_promote_is_refused_before_anything_is_written(run_cli, tmp_path):
    code, _, err = run_cli(*"tune --env Pendulum-v1 --algo td3 --force --results".split(), tmp_path / "results")
    assert code == 2 and "--force applies to a promotion: add --promote" in err
    assert not (tmp_path / "results").exists()
