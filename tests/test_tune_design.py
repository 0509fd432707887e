"""A tuning study continues only as what its trials were (arm and code, budget, search space), its
provenance records what the trials used, promotion checks the arm, searched keys that do nothing
are left out, and every finished trial prints a line."""

import shutil
from pathlib import Path

import pytest
import yaml

from harness.agents import get_arm
from harness.config import resolve, search

ROOT = Path(__file__).resolve().parents[1]
SPACE = "learning_rate: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}\nper_alpha: {type: float, low: 0.2, high: 1.0}\n"


def tune(run_cli, tmp_path, *extra, steps="200", algo="td3"):
    space = tmp_path / "space.yml"
    if not space.exists():
        space.write_text(SPACE)
    return run_cli(
        *f"tune --env Pendulum-v1 --algo {algo} --steps {steps} --eval-freq 100 --eval-episodes 1 --trials 1".split(),
        *("--space", space, "--results", tmp_path / "results", "--tuned-dir", tmp_path / "tuned"),
        *"--study s --pruner none --hp net_arch=[16] --hp batch_size=32".split(),
        *extra,
    )


def test_a_study_refuses_another_budget_arm_or_space_and_records_what_its_trials_used(run_cli, tmp_path):
    code, out, err = tune(run_cli, tmp_path)
    assert code == 0, err
    assert "search space: learning_rate; left out: per_alpha (acts only when prioritized replay is on" in out
    assert "trial 0: value " in out and "1/1 finished; best so far: trial 0" in out
    own = tmp_path / "results" / "tuning" / "s" / "tuned" / "td3" / "Pendulum-v1.yml"
    provenance = yaml.safe_load(own.read_text())["provenance"]
    assert provenance["budget"] == {"preset": "smoke", "steps": 200}
    assert provenance["design"]["arm"] == "td3" and provenance["design"]["left_out"] == ["per_alpha"]
    assert provenance["design"]["budget"]["total_steps"] == 200 and list(provenance["design"]["space"]) == [
        "learning_rate"
    ]
    journal = (tmp_path / "results" / "tuning" / "s" / "journal.log").read_bytes()

    code, _, err = tune(run_cli, tmp_path, steps="300")
    assert code == 2 and "tuning study 's' was made with another design" in err
    assert "budget.total_steps: 200 -> 300" in err and "choose another study name" in err
    code, _, err = tune(run_cli, tmp_path, algo="td3-per")
    assert code == 2 and "arm: td3 -> td3-per" in err
    (tmp_path / "space.yml").write_text("learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}\n")
    code, _, err = tune(run_cli, tmp_path)
    assert code == 2 and "space.learning_rate.high: 0.003 -> 0.01" in err
    assert (tmp_path / "results" / "tuning" / "s" / "journal.log").read_bytes() == journal  # nothing written


def test_a_study_without_a_recorded_design_is_not_continued(run_cli, tmp_path):
    committed = ROOT / "results" / "tuning" / "td3-Pendulum-v1"
    copy = tmp_path / "results" / "tuning" / "td3-Pendulum-v1"
    shutil.copytree(committed, copy)
    before = {p.name: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    code, _out, err = run_cli(
        *"tune --env Pendulum-v1 --algo td3 --steps 1000 --trials 1 --study td3-Pendulum-v1 --results".split(),
        tmp_path / "results",
    )
    assert code == 2
    assert "tuning study 'td3-Pendulum-v1' has 21 trial(s) but no recorded design" in err
    assert {p.name: p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before  # left exactly as it was


def test_the_default_tuning_study_is_named_by_its_budget_and_misses_the_committed_one():
    from harness.cli.tune import default_tuning_study

    assert default_tuning_study("td3", "Pendulum-v1", "quick", None) == "td3-Pendulum-v1-quick"
    assert default_tuning_study("td3", "Pendulum-v1", "quick", 10_000) == "td3-Pendulum-v1-10000steps"


def test_promotion_refuses_values_of_another_arm(run_cli, tmp_path):
    source = tmp_path / "results" / "tuning" / "s" / "tuned" / "td3" / "Pendulum-v1.yml"
    source.parent.mkdir(parents=True)
    source.write_text(
        yaml.safe_dump({"hyperparameters": {"per_alpha": 0.5}, "provenance": {"study": "s", "arm": "td3-per"}})
    )
    code, _, err = run_cli("promote", "s", "--results", tmp_path / "results", "--tuned-dir", tmp_path / "tuned")
    assert code == 2 and "lies under the arm 'td3', but its values were tuned for td3-per" in err
    assert not (tmp_path / "tuned").exists()


@pytest.mark.parametrize(
    "arm, hp, left_out",
    [
        ("td3", {}, {"per_alpha", "per_beta0"}),  # uniform replay: PER's exponents do nothing
        ("td3-per", {}, set()),
        ("td3", {"noise_type": None, "noisy_nets": True}, {"per_alpha", "per_beta0", "noise_std"}),
    ],
)
def test_searched_keys_the_configuration_ignores_are_left_out(arm, hp, left_out):
    info = get_arm(arm)
    config = resolve.resolve(info, "Pendulum-v1", overrides=hp).config
    space, dropped = search.active(search.load_space(info), config)
    assert set(dropped) == left_out
    assert set(space) | set(dropped) == set(search.load_space(info))
    switch = search.load_space(info) | {
        "prioritized": search.Param("prioritized", "categorical", choices=(True, False))
    }
    assert "per_alpha" in search.active(switch, config)[0]  # searched together with its switch: kept


def test_trials_train_and_evaluate_on_seeds_and_episodes_no_study_uses(run_cli, tmp_path):
    from harness.config.seeds import EVAL_SEED, TUNING_EVAL_SEED, TUNING_SEED_BASE

    code, _, err = tune(run_cli, tmp_path)
    assert code == 0, err
    runs = list((tmp_path / "results" / "tuning" / "s" / "trial_0000").glob("td3/*/meta.json"))
    meta = yaml.safe_load(runs[0].read_text())
    assert runs[0].parent.name == f"Pendulum-v1_{TUNING_SEED_BASE}"
    assert meta["spec"]["seed"] == TUNING_SEED_BASE and meta["spec"]["eval_seed"] == TUNING_EVAL_SEED != EVAL_SEED
    provenance = yaml.safe_load(
        (tmp_path / "results" / "tuning" / "s" / "tuned" / "td3" / "Pendulum-v1.yml").read_text()
    )["provenance"]
    assert provenance["seeds"] == [TUNING_SEED_BASE] and provenance["evaluation"] == {
        "seed": TUNING_EVAL_SEED,
        "episodes": 1,
    }
    # Compared with HP=tuned on a study's seeds: apart, so no warning.
    code, out, err = run_cli(
        *"compare --env Pendulum-v1 --algos td3 --seeds 3 --dry-run --no-estimate --tuned-dir".split(),
        tmp_path / "results" / "tuning" / "s" / "tuned",
        "--results",
        tmp_path / "results",
    )
    assert code == 0, err
    assert "(tuned: study s" in out and "optimistically biased" not in out


def test_values_tuned_on_a_studys_seeds_or_episodes_are_flagged(run_cli, tmp_path):
    tuned = tmp_path / "tuned" / "td3" / "Pendulum-v1.yml"
    tuned.parent.mkdir(parents=True)
    tuned.write_text(yaml.safe_dump({"hyperparameters": {"tau": 0.01}, "provenance": {"study": "old", "seeds": [1]}}))
    code, out, err = run_cli(
        *"compare --env Pendulum-v1 --algos td3 --seeds 3 --dry-run --no-estimate --tuned-dir".split(),
        tmp_path / "tuned",
        "--results",
        tmp_path / "r",
    )
    assert code == 0, err
    assert (
        "warning: td3 on Pendulum-v1: tuned values selected on this study's own training seed 1 and 10 of its 10 "
        "evaluation episodes (not recorded: tuned before tuning had its own)"
    ) in out


def test_a_studys_seeds_stay_below_the_tuning_range(run_cli, tmp_path):
    code, _, err = run_cli(
        *"compare --env Pendulum-v1 --algos td3 --seeds 2 --seed-offset 999999999 --dry-run --no-estimate --results".split(),
        tmp_path,
    )
    assert code == 2 and "seed 1,000,000,000 is in the range tuning trials train with" in err
