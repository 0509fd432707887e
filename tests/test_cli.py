def test_hyperparams_lists_fields_and_resolved_values(run_cli):
    code, out, _ = run_cli(*"hyperparams sb3-td3 --env BipedalWalkerHardcore-v3".split())
    assert code == 0
    assert "gamma" in out and "Accepts a float in [0, 1]; library default 0.99" in out
    assert "n_timesteps 10,000,000" in out and "rl-zoo3" in out
    assert "lr_schedule          'linear'" in out


def test_compare_help_documents_every_option(run_cli):
    code, out, _ = run_cli("compare", "--help")
    assert code == 0
    for option in (
        "--env",
        "--algos",
        "--seeds",
        "--budget",
        "--steps",
        "--jobs",
        "--study",
        "--device",
        "--hp-file",
        "--hp",
        "--quiet",
        "--dry-run",
        "--yes",
        "--eval-freq",
        "--eval-episodes",
    ):
        assert option in out
    assert "smoke" in out and "sb3-ddpg" in out


def test_dry_run_prints_plan_and_runs_nothing(run_cli, tmp_path):
    code, out, _ = run_cli(
        *"compare --env Pendulum-v1,BipedalWalker-v3 --budget quick --seeds 3 --results".split(),
        tmp_path,
        "--dry-run",
        "--no-estimate",
    )
    assert code == 0
    assert "runs: 18 = 2 env(s) x 3 arm(s) x 3 seed(s)" in out
    assert "BipedalWalker-v3: budget 'quick', 100,000 env steps per run = 10% of the full 1,000,000" in out
    assert not any(tmp_path.iterdir())
