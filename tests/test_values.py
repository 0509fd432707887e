"""Value-estimation bias: return-to-go with truncation, a hand-built critic on known episodes, the
evaluation's extended episodes, and each arm's q_value against its critic computed by hand."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.run.evaluator import Evaluator, rollout
from harness.run.spec import EVAL_SEED
from harness.run.values import Trajectory, horizon_extension, returns_to_go, usable_states, value_bias


def test_horizon_extension_is_the_fewest_steps_below_the_tolerance():
    assert horizon_extension(0.5, 0.01) == 7  # 0.5**6 = 0.0156 > 0.01 >= 0.5**7
    assert horizon_extension(0.99, 0.01) == 459 and 0.99**459 <= 0.01 < 0.99**458
    assert horizon_extension(0.98, 0.01) == 228 and 0.98**228 <= 0.01 < 0.98**227
    assert horizon_extension(0.0) == 0 and horizon_extension(1.0) is None


def test_returns_to_go_exact():
    assert returns_to_go([1.0, 2.0, 3.0], 0.5).tolist() == [2.75, 3.5, 3.0]
    assert returns_to_go([1.0, 2.0, 3.0], 0.0).tolist() == [1.0, 2.0, 3.0]
    assert returns_to_go([], 0.9).tolist() == []


def test_usable_states_truncated_and_terminated():
    # Truncated after 10 steps, gamma 0.5: the cut tail of step t weighs 0.5**(10 - t); <= 0.01 needs 10 - t >= 7.
    assert usable_states(10, False, 0.5, 0.01).tolist() == [True] * 4 + [False] * 6
    # Terminated: nothing follows, every return-to-go is complete.
    assert usable_states(10, True, 0.5, 0.01).tolist() == [True] * 10
    # Too short to leave any state far enough from the cut.
    assert not usable_states(5, False, 0.5, 0.01).any()


def _trajectory(obs, rewards, terminated):
    return Trajectory(
        observations=[np.array([o], dtype=np.float64) for o in obs],
        actions=[np.array([o / 10.0]) for o in obs],
        rewards=[float(r) for r in rewards],
        terminated=terminated,
    )


def test_value_bias_of_a_hand_built_critic_on_known_episodes():
    """Three episodes of an env whose time limit is 3 steps, gamma 0.5, tolerance 0.01 (7 steps):
    A ran 7 steps past the limit (rewards 1 inside it, 2 after), so its 3 states all count, with the
    extension's rewards in their returns; B terminated after 2 steps (all count); C was truncated after
    8 steps by something else (only states 0 and 1 are 7 steps from its end).
    The critic is Q(s, a) = 10 s + a with a = s / 10: known numbers."""
    a = _trajectory(range(10), [1, 1, 1] + [2] * 7, terminated=False)
    b = _trajectory([100, 101], [4, 8], terminated=True)
    c = _trajectory(range(200, 208), [1] * 8, terminated=False)

    def critic(obs, act):
        assert obs.shape[1] == 1 and act.shape == obs.shape
        return 10 * obs[:, 0] + act[:, 0]

    tail = 2 * (1 - 0.5**7)  # A's extension seen from step 2: 0.5 * sum_k 0.5**k * 2 over 7 steps
    g_a2 = 1 + tail
    g_a = [1 + 0.5 * (1 + 0.5 * g_a2), 1 + 0.5 * g_a2, g_a2]
    g_b = [4 + 0.5 * 8, 8]
    g_c = [sum(0.5**k for k in range(8)), sum(0.5**k for k in range(7))]
    q = [10 * s + s / 10 for s in (0, 1, 2, 100, 101, 200, 201)]

    result = value_bias([a, b, c], critic, gamma=0.5, horizon=3, tolerance=0.01)
    assert result.states == 7
    assert result.true == pytest.approx(np.mean(g_a + g_b + g_c), abs=1e-12)
    assert result.estimate == pytest.approx(np.mean(q), abs=1e-12)
    assert result.bias == pytest.approx(np.mean(q) - np.mean(g_a + g_b + g_c), abs=1e-12)
    assert result.row() == [result.estimate, result.true, result.bias, 7]


def test_no_usable_state_gives_nan_and_zero_states():
    short = _trajectory(range(3), [1, 1, 1], terminated=False)
    result = value_bias([short], lambda o, a: o[:, 0], gamma=0.9, horizon=3)
    assert result.states == 0 and np.isnan(result.estimate) and np.isnan(result.true)


def test_extended_evaluation_scores_exactly_as_the_ordinary_one():
    """Recorded episodes run past Pendulum's 200-step limit; their returns and lengths are the ordinary ones."""
    policy = lambda obs: np.array([np.clip(-2.0 * obs[2], -2.0, 2.0)], dtype=np.float32)  # noqa: E731
    plain = Evaluator("Pendulum-v1", 2, EVAL_SEED)
    extended = Evaluator("Pendulum-v1", 2, EVAL_SEED, extend_by=50)
    trajectories: list[Trajectory] = []
    r0, l0 = plain.evaluate(policy)
    r1, l1 = extended.evaluate(policy, trajectories)
    assert extended.horizon == 200 and l0.tolist() == l1.tolist() == [200, 200]
    assert r0.tolist() == r1.tolist()  # bit-identical
    assert [len(t) for t in trajectories] == [250, 250] and not any(t.terminated for t in trajectories)
    # The first 200 steps are the evaluation episode itself.
    again = Trajectory()
    rollout(plain.env, policy, EVAL_SEED, record=again)
    assert np.array_equal(np.stack(again.observations), np.stack(trajectories[0].observations[:200]))
    plain.close(), extended.close()


def _agent(arm, env):
    from harness.agents import get_arm
    from harness.config.schema import build_config

    overrides = {"net_arch": (8, 8), "batch_size": 8} if arm != "sb3-crossq" else {}
    config = build_config(get_arm(arm).config_cls, overrides, "test")
    return get_arm(arm).build(env, config, 0, "cpu")


@pytest.mark.parametrize("arm", ["td3", "sb3-td3", "sb3-ddpg", "sb3-sac", "sb3-tqc", "sb3-crossq"])
def test_q_value_is_the_critic_on_the_normalized_action(arm):
    """q_value takes env-scaled actions (Pendulum's are in [-2, 2]) and gives the critic's estimate on the
    action the critic was trained on, in [-1, 1]; computed here by hand from each arm's networks."""
    from harness.run.envs import make_env

    env = make_env("Pendulum-v1")
    agent = _agent(arm, env)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(5, 3)).astype(np.float32)
    actions = rng.uniform(-2, 2, size=(5, 1)).astype(np.float32)
    got = agent.q_value(obs, actions)
    o, a = torch.as_tensor(obs), torch.as_tensor(actions / 2.0)
    with torch.no_grad():
        if arm == "td3":
            expected = agent.critic.q1(o, a)[:, 0]
        else:
            policy = agent.model.policy
            policy.set_training_mode(False)
            out = policy.critic(o, a)
            expected = {
                "sb3-td3": lambda: out[0][:, 0],
                "sb3-ddpg": lambda: out[0][:, 0],
                "sb3-sac": lambda: torch.minimum(out[0], out[1])[:, 0],
                "sb3-tqc": lambda: out.mean(dim=(1, 2)),
                "sb3-crossq": lambda: torch.minimum(out[0], out[1])[:, 0],
            }[arm]()
    assert got.shape == (5,)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-6)
    assert isinstance(agent.critic_estimate, str) and agent.critic_estimate
    env.close()


def test_report_figure_and_final_bias_table(tmp_path):
    """Two arms with a critic, three seeds each, value columns written by hand: the table's final bias is
    the mean over seeds of each run's last evaluation; the floor arm has none and stays out."""
    import sys

    from harness.report.load import load_study
    from harness.report.values import bias_table, value_section

    sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
    from make_fixture import write_run

    finals = {"td3": [10.0, 20.0, 30.0], "sb3-ddpg": [100.0, 140.0, 180.0]}
    for arm, biases in finals.items():
        for seed, bias in enumerate(biases):
            run = write_run(arm, "Pendulum-v1", seed, [-1200.0, -800.0, -400.0, -200.0], root=tmp_path / "s")
            lines = (run / "evals.csv").read_text().splitlines()
            lines[0] += ",value_estimate,value_true,value_bias,value_states"
            for i in range(1, len(lines)):  # bias grows to its final value; observed value -100 throughout
                b = bias * i / (len(lines) - 1)
                lines[i] += f",{b - 100.0:g},-100,{b:g},400"
            (run / "evals.csv").write_text("\n".join(lines) + "\n")
            meta = json.loads((run / "meta.json").read_text())
            meta["result"]["critic"] = f"Q of {arm}"
            (run / "meta.json").write_text(json.dumps(meta))
    write_run(
        "sb3-td3", "Pendulum-v1", 0, [-1200.0, -1200.0, -1200.0, -1200.0], root=tmp_path / "s"
    )  # no critic columns
    study = load_study(tmp_path / "s")
    assert not study.problems
    table = bias_table(study, "Pendulum-v1", reps=200).set_index("arm")
    assert table.index.tolist() == ["td3", "sb3-ddpg"]
    assert table.loc["td3", "bias"] == pytest.approx(20.0) and table.loc["sb3-ddpg", "bias"] == pytest.approx(140.0)
    assert table.loc["sb3-ddpg", "estimate"] == pytest.approx(40.0) and table.loc["td3", "observed"] == -100.0
    assert table.loc["td3", "critic estimates"] == "Q of td3" and table.loc["td3", "runs"] == 3
    assert table.loc["td3", "step"] == 3000 and table.loc["td3", "relative bias"] == "+20%"
    lines = value_section(study, reps=200)
    assert "![value estimates on Pendulum-v1](values_Pendulum-v1.png)" in lines
    assert (tmp_path / "s" / "values_Pendulum-v1.png").stat().st_size > 10_000
