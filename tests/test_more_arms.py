"""SB3 SAC and sb3-contrib TQC and CrossQ through the same adapter and runner, at the zoo's values."""

import pandas as pd
import pytest

from harness.run.runner import execute
from harness.study.spec import StudySpec


def test_zoo_values_and_a_matched_budget():
    runs = StudySpec("s", ("BipedalWalker-v3",), ("td3", "sb3-sac", "sb3-tqc"), (0,), budget="full").expand()
    assert {r.budget.total_steps for r in runs} == {1_000_000}  # the zoo's 1M for TD3, 500k for SAC/TQC: the larger
    tqc = next(r for r in runs if r.arm == "sb3-tqc").config
    assert (tqc.use_sde, tqc.use_expln, tqc.log_std_init, tqc.train_freq, tqc.gradient_steps) == (
        True,
        True,
        -3,
        64,
        64,
    )
    assert tqc.net_arch == (400, 300) and tqc.learning_rate == pytest.approx(7.3e-4)


@pytest.mark.parametrize("arm", ["sb3-sac", "sb3-tqc", "sb3-crossq"])
def test_runs_through_the_runner(tmp_path, arm):
    spec = StudySpec(
        "m",
        ("Pendulum-v1",),
        (arm,),
        (0,),
        steps=400,
        eval_freq=200,
        eval_episodes=1,
        hp_overrides={"net_arch": [16, 16]},
    ).expand()[0]
    summary = execute(spec, tmp_path)
    assert summary["status"] == "complete" and summary["updates"] > 0
    evals = pd.read_csv(tmp_path / "m" / arm / "Pendulum-v1_0" / "evals.csv")
    assert evals["step"].tolist() == [0, 200, 400]


def test_ddpg_ornstein_uhlenbeck_noise_from_yaml(tmp_path):
    from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

    from harness.agents import get_arm
    from harness.run.envs import make_env

    hp = tmp_path / "ou.yml"
    hp.write_text("sb3-ddpg:\n  all: {noise_type: ornstein-uhlenbeck, noise_std: 0.3, net_arch: [16]}\n")
    zoo, ou = (
        StudySpec("s", ("Pendulum-v1",), ("sb3-ddpg",), (0,), hp_files=files).expand()[0] for files in ((), (hp,))
    )
    assert zoo.config.noise_type == "normal" and ou.config.noise_type == "ornstein-uhlenbeck"
    agent = get_arm("sb3-ddpg").build(make_env("Pendulum-v1"), ou.config, 0, "cpu")
    assert isinstance(agent.model.action_noise, OrnsteinUhlenbeckActionNoise)
    assert agent.model.action_noise._sigma.tolist() == [0.3]
    assert not isinstance(agent.model.action_noise, NormalActionNoise)


def test_crossq_widths_from_the_zoo_dict_and_from_one_list():
    from harness.agents import get_arm
    from harness.config.schema import build_config
    from harness.run.envs import make_env

    zoo = StudySpec("s", ("BipedalWalker-v3",), ("sb3-crossq",), (0,)).expand()[0]
    assert (zoo.config.net_arch_pi, zoo.config.net_arch_qf) == ((256, 256), (1024, 1024))  # zoo: dict(pi=, qf=)
    assert zoo.budget.full_steps == 200_000 and zoo.config.gamma == 0.98
    cls = get_arm("sb3-crossq").config_cls
    shared = build_config(cls, {"net_arch": [16, 8]}, "x")
    assert (shared.net_arch_pi, shared.net_arch_qf) == ((16, 8), (16, 8))
    split = build_config(cls, {"net_arch": {"pi": [8], "qf": [32, 32]}}, "x")
    agent = get_arm("sb3-crossq").build(make_env("Pendulum-v1"), split, 0, "cpu")
    widths = lambda net: [m.out_features for m in net.modules() if m.__class__.__name__ == "Linear"]  # noqa: E731
    assert widths(agent.model.policy.actor.latent_pi) == [8]
    assert widths(agent.model.policy.critic.q_networks[0]) == [32, 32, 1]
    with pytest.raises(Exception, match="no part 'q'; accepted: a list, or a mapping with keys pi, qf"):
        build_config(cls, {"net_arch": {"pi": [8], "q": [8]}}, "x")
