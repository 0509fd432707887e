"""Every built-in arm writes TensorBoard event files in its run directory under the shared tags, and
every arm with a critic its value diagnostics in evals.csv; --no-tensorboard writes none."""

import dataclasses
import itertools

import pandas as pd
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from harness.run import diagnostics, rundir
from harness.run.runner import execute
from harness.run.tblog import TAGS
from harness.study.spec import StudySpec

EVERY = 20
#: Written by the runner for every arm.
COMMON = {"eval/mean_reward", "eval/mean_ep_length", "rollout/ep_rew_mean", "rollout/ep_len_mean", "time/fps"}
CRITIC = {"eval/q_estimate", "eval/q_true", "eval/q_bias"}
TRAINING = {"train/critic_loss", "train/actor_loss", "train/q_mean", "train/learning_rate", "train/n_updates"}
EXPECTED = {
    "td3": COMMON | CRITIC | TRAINING | {"rollout/noise_std", "train/n_steps"},
    "td3-per-n3": COMMON
    | CRITIC
    | TRAINING
    | {"rollout/noise_std", "train/n_steps", "per/beta"}
    | {"per/priority_mean", "per/priority_max"},
    "sb3-td3": COMMON | CRITIC | TRAINING | {"rollout/noise_std"},
    "sb3-ddpg": COMMON | CRITIC | TRAINING | {"rollout/noise_std"},
    "sb3-sac": COMMON | CRITIC | TRAINING | {"train/ent_coef"},
    "sb3-tqc": COMMON | CRITIC | TRAINING | {"train/ent_coef"},
    "sb3-crossq": COMMON | CRITIC | TRAINING | {"train/ent_coef"},
    "random": COMMON,
}


def _spec(arm, tensorboard=True):
    hp = {"learning_starts": 50}
    if arm == "sb3-crossq":
        hp |= {"net_arch_pi": [16, 16], "net_arch_qf": [16, 16], "batch_size": 32}
    elif arm != "random":
        hp |= {"net_arch": [16, 16], "batch_size": 32}
    spec = StudySpec(
        "tb", ("Pendulum-v1",), (arm,), (0,), steps=200, eval_freq=100, eval_episodes=1, hp_overrides=hp
    ).expand()[0]
    return dataclasses.replace(spec, tensorboard=tensorboard)


@pytest.mark.parametrize("arm", list(EXPECTED))
def test_event_files_hold_the_shared_tags(tmp_path, monkeypatch, arm):
    monkeypatch.setattr(diagnostics, "LOG_EVERY", EVERY)
    assert execute(_spec(arm), tmp_path)["status"] == "complete"
    run = tmp_path / "tb" / arm / "Pendulum-v1_0"
    assert len(list(run.glob("events.out.tfevents.*"))) == 1
    events = EventAccumulator(str(run)).Reload()
    tags = set(events.Tags()["scalars"])
    assert EXPECTED[arm] <= tags, sorted(EXPECTED[arm] - tags)
    assert {t for t in tags if not t.startswith("train/ent_coef")} <= set(TAGS)  # SB3's entropy tags pass through
    assert [e.step for e in events.Scalars("eval/mean_reward")] == [0, 100, 200]  # the harness's schedule, in env steps
    evals = pd.read_csv(run / "evals.csv")
    meta = rundir.read_record(run)
    if arm == "random":
        assert not set(rundir.VALUE_COLUMNS) & set(evals.columns) and meta.result.critic is None
        return
    assert list(evals.columns[-5:]) == [*rundir.VALUE_COLUMNS, rundir.CPU_COLUMN]
    assert (evals["value_states"] == 200).all()  # Pendulum's 200 steps, all usable past the extended limit
    difference = (evals["value_estimate"] - evals["value_true"]).to_numpy()
    assert evals["value_bias"].to_numpy() == pytest.approx(difference, rel=1e-5)  # 6 significant digits
    bias = [e.value for e in events.Scalars("eval/q_bias")]
    assert bias == pytest.approx(evals["value_bias"].tolist(), rel=1e-4)
    train = events.Scalars("train/critic_loss")
    assert len(train) >= 2 and all(b.step > a.step for a, b in itertools.pairwise(train))
    assert "soft" in meta.result.critic if arm in ("sb3-sac", "sb3-tqc", "sb3-crossq") else "Q" in meta.result.critic


def test_no_tensorboard_writes_no_event_files_and_changes_nothing_else(tmp_path):
    on, off = tmp_path / "on", tmp_path / "off"
    assert execute(_spec("td3"), on)["status"] == execute(_spec("td3", tensorboard=False), off)["status"] == "complete"
    assert not list((off / "tb" / "td3" / "Pendulum-v1_0").glob("events.out.tfevents.*"))
    cols = ["step", "updates", "return_mean", *rundir.VALUE_COLUMNS]
    a, b = (pd.read_csv(root / "tb" / "td3" / "Pendulum-v1_0" / "evals.csv")[cols] for root in (on, off))
    pd.testing.assert_frame_equal(a, b)  # logging draws no random numbers and moves nothing


def test_bench_states_the_logging_cost_as_a_paired_ratio():
    from harness.run import bench

    rates = {
        ("sb3-td3", 1, "default"): [50.0, 100.0, 60.0],
        ("td3 uniform 1-step", 1, "default"): [60.0, 110.0, 90.0],
        ("td3 PER 3-step", 1, "default"): [30.0, 55.0, 45.0],
        ("td3 uniform 1-step, TensorBoard", 1, "default"): [59.4, 100.0, 90.0],  # 1% slower in round 1
        ("sb3-td3, TensorBoard", 1, "default"): [50.0, 98.0, 60.0],  # ratios 1, 0.98, 1 -> median 1
    }
    lines = bench.summary(rates, "Pendulum-v1", "default", floor=None)
    assert (
        "TensorBoard logging cost (a record every 250 updates; default, 1 thread): "
        "td3 uniform 1-step +1.0%, sb3-td3 +0.0% time per step" in lines
    )
    assert lines[-1] == "speedup_vs_sb3: 1.20"
    rate = bench.measure("td3", {}, "Pendulum-v1", warmup=100, steps=300, threads=1, seed=0, tensorboard=True)
    assert rate > 0
