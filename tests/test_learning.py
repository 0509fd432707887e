"""Learning checks: minutes of training, so behind the `slow` marker (`make test-learning`)."""

import json

import pytest

pytestmark = pytest.mark.slow


def test_td3_with_per_and_3_step_solves_pendulum(run_cli, tmp_path):
    """rl-zoo3's budget (20k steps), its tuned TD3 values, PER and 3-step returns (the variant
    td3-per-n3): the mean final evaluation return over 3 seeds must reach -200 (the zoo's
    benchmark for SB3 TD3 is -151.86 +- 90.23)."""
    code, _out, err = run_cli(
        *"compare --env Pendulum-v1 --algos td3-per-n3 --budget full --seeds 3 --results".split(),
        tmp_path,
        *"--study learn --progress quiet".split(),
    )
    assert code == 0, err
    finals = []
    for seed in range(3):
        meta = json.loads((tmp_path / "learn" / "td3-per-n3" / f"Pendulum-v1_{seed}" / "meta.json").read_text())
        hp = meta["spec"]["hyperparameters"]
        assert hp["prioritized"] is True and hp["n_steps"] == 3 and meta["result"]["env_steps"] == 20_000
        finals.append(meta["result"]["final_return_mean"])
    assert sum(finals) / 3 >= -200, finals
