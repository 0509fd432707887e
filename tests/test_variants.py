"""td3 is our TD3 at sb3-td3's settings; variants are data and an ablation is a list of names."""

import dataclasses

import pytest

from harness.agents import get_arm, known_arms
from harness.config import resolve, search, variants
from harness.errors import ConfigError, UsageError

ENVS = ["Pendulum-v1", "BipedalWalker-v3", "LunarLanderContinuous-v3", "Hopper-v5", "tiny_envs:TinyPoint-v0"]


@pytest.mark.parametrize("env_id", ENVS)
def test_td3_runs_at_exactly_sb3_td3s_settings(env_id):
    ours = resolve.resolve(get_arm("td3"), env_id)
    theirs = resolve.resolve(get_arm("sb3-td3"), env_id)
    shared = {f.name for f in dataclasses.fields(theirs.config)} & {f.name for f in dataclasses.fields(ours.config)}
    assert len(shared) >= 17
    differ = {
        k: (getattr(ours.config, k), getattr(theirs.config, k))
        for k in shared
        if getattr(ours.config, k) != getattr(theirs.config, k)
    }
    assert not differ
    assert ours.n_timesteps == theirs.n_timesteps
    assert not ours.config.prioritized and ours.config.n_steps == 1 and not ours.config.noisy_nets


def test_variants_are_their_arm_with_settings_on_top(tmp_path):
    plain = resolve.resolve(get_arm("td3"), "Pendulum-v1")
    for name, settings in (
        ("td3-per", {"prioritized": True}),
        ("td3-n3", {"n_steps": 3}),
        ("td3-per-n3", {"prioritized": True, "n_steps": 3}),
    ):
        arm = get_arm(name)
        assert (arm.base, arm.files, dict(arm.preset)) == ("td3", "td3", settings)
        resolved = resolve.resolve(arm, "Pendulum-v1")
        assert resolved.config == dataclasses.replace(plain.config, **settings)
        assert resolved.sources[-1] == f"hyperparams/variants.yml [{name}]"
    # A user file's section for the arm reaches its variants; a variant's own section only it.
    hp = tmp_path / "hp.yml"
    hp.write_text("td3:\n  all:\n    batch_size: 64\ntd3-per:\n  all:\n    per_alpha: 0.7\n")
    per = resolve.resolve(get_arm("td3-per"), "Pendulum-v1", [hp]).config
    n3 = resolve.resolve(get_arm("td3-n3"), "Pendulum-v1", [hp]).config
    assert (per.batch_size, per.per_alpha, n3.batch_size, n3.per_alpha) == (64, 0.7, 64, 0.6)
    assert search.load_space(get_arm("td3-per"))  # tuned with its arm's search space
    assert {"td3", "td3-per", "td3-n3", "td3-per-n3"} <= set(known_arms())


def test_an_ablation_is_a_list_of_names(run_cli, tmp_path):
    code, out, err = run_cli(
        *"compare --env Pendulum-v1 --algos td3,td3-per,td3-n3,td3-per-n3,sb3-td3 --seeds 1".split(),
        "--results",
        tmp_path,
        "--dry-run",
        "--no-estimate",
    )
    assert code == 0, err
    assert "runs: 5 = 1 env(s) x 5 arm(s) x 1 seed(s)" in out
    assert "td3-per-n3: learning_starts" in out and "hyperparams/variants.yml [td3-per-n3]" in out


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("td3-x: {arm: td4, set: {prioritized: true}}\n", "arm 'td4' is not a registered arm. Did you mean: td3"),
        ("td3-x: {arm: td3, set: {prioritised: true}}\n", "unknown hyperparameter 'prioritised'"),
        ("td3-x: {arm: td3, set: {n_steps: 0}}\n", "'n_steps' = 0 is out of range"),
        ("td3-x: {arm: td3, sets: {}}\n", "unknown keys ['sets']; accepted: arm, description, set"),
        ("td3-x: [td3]\n", "expected {arm: <arm name>"),
        ("sb3-td3: {arm: td3, set: {prioritized: true}}\n", "'sb3-td3' is a registered arm"),
    ],
)
def test_a_bad_variant_is_named_with_its_file(tmp_path, monkeypatch, text, fragment):
    path = tmp_path / "variants.yml"
    path.write_text(text)
    monkeypatch.setattr(variants, "VARIANTS_FILE", path)
    with pytest.raises(ConfigError) as err:
        get_arm("td3-x")
    assert fragment in str(err.value) and "variants.yml" in str(err.value)


def test_an_unknown_name_lists_arms_and_variants():
    with pytest.raises(UsageError, match="Did you mean: td3-per") as err:
        get_arm("td3-pre")
    assert "td3-per-n3" in str(err.value)
