"""The parity kit: an agent's update against SB3's TD3 and DDPG on identical minibatches. The example
passes both; a planted fault fails; an agent without the adapter is refused."""

import pytest

from harness.agents import get_arm
from harness.errors import UsageError
from harness.verify import parity

EXAMPLE = "examples.cleanrl_td3:TD3"


def test_the_example_computes_what_sb3_td3_computes():
    results = parity.run(get_arm(EXAMPLE), "sb3-td3")
    assert [r.name for r in results] == [c.name for c in parity.REFERENCES["sb3-td3"].cases]  # noise off, then on
    for result in results:
        assert result.passed and not result.skipped, result.rows()
        assert set(result.diffs) == {"actor", "actor_target", "qf0", "qf0_target", "qf1", "qf1_target"}
        assert max(result.diffs.values()) < 1e-6 and result.moved > 1e-3 and result.updates == (100, 100)


def test_the_example_with_one_critic_is_sb3_ddpg():
    [result] = parity.run(get_arm(EXAMPLE), "sb3-ddpg")
    assert result.passed and set(result.diffs) == {"actor", "actor_target", "qf0", "qf0_target"}, result.rows()


def test_a_planted_fault_fails_and_says_where(run_cli):
    [off, on] = parity.run(get_arm("tests.own_agents:MaxTarget"), "sb3-td3")
    for result in (off, on):
        assert not result.passed and result.diffs["qf0"] > 1e-3  # max instead of min in the target
    code, out, _ = run_cli("parity", "--agent", "tests.own_agents:MaxTarget")
    assert code == 1 and "ABOVE the threshold 1e-05" in out and "2 comparison(s): 0 passed, 2 failed" in out


def test_our_td3_is_not_ddpg(run_cli):
    code, out, _ = run_cli("parity", "--agent", "td3", "--reference", "sb3-ddpg")
    assert code == 1 and "FAIL  DDPG: one critic, no delay, no target noise" in out


def test_an_agent_without_the_adapter_is_refused(run_cli):
    with pytest.raises(UsageError, match="does not implement the parity adapter: no parity_load"):
        parity.run(get_arm("tests.own_agents:Minimal"))
    code, _, err = run_cli("parity", "--agent", "tests.own_agents:Minimal")
    assert code == 2 and "docs/agents.md" in err
