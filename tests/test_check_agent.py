"""check-agent: every built-in arm and the example keep the contract; breaking it fails with the reason."""

import numpy as np
import pytest
import torch

from harness.agents import ARMS, get_arm
from harness.run.runner import start_agent
from harness.verify import conformance, learning
from harness.verify.check import CheckFailed, CheckSkipped

EXAMPLE = "examples.cleanrl_td3:TD3"


@pytest.fixture(autouse=True)
def one_thread():
    """As a run of a study: the checks' small networks are fastest on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# The SB3 arms' checks run with the other end-to-end checks (`make test-systems`, in CI): each takes
# 15-35 s; our TD3, a variant, the random floor and the example stay in `make test`.
@pytest.mark.parametrize(
    "name",
    [pytest.param(a, marks=pytest.mark.systems) if a.startswith("sb3-") else a for a in ARMS] + ["td3-per-n3", EXAMPLE],
)
def test_every_built_in_arm_and_the_example_pass(name):
    checks = conformance.run_checks(get_arm(name), with_probes=False)  # the probes: tests/test_probes.py
    assert not [c.row() for c in checks if c.status == "FAIL"]
    passed = {c.name for c in checks if c.status == "pass"}
    assert {
        "actions have the env's shape, within its bounds",
        "the budget is honoured and the callback sees every step",
        "a callback returning False stops learn",
        "same seed, same evaluation; another seed, another",
        "deterministic predict repeats itself",
        "predict leaves its observation unchanged",
        "save then load acts identically",
    } <= passed
    grouped = {
        "a seed group: every member's steps, each member as alone",
        "a seed group: a callback's False stops only its member",
    }
    assert (grouped <= passed) == (get_arm(name).capabilities.groups)
    exact = "restored at an episode boundary, ends identical"
    assert (exact in passed) == (not name.startswith("sb3-"))  # SB3 resumes validly, not bit for bit
    assert conformance.summary(checks)[1] == 0


def test_an_agent_out_of_bounds_fails_with_the_reason(run_cli):
    code, out, _ = run_cli("check-agent", "--agent", "tests.own_agents:OutOfBounds")
    assert code == 1
    assert "FAIL  actions have the env's shape, within its bounds  1 action in [-2, 2]" in out
    assert "outside [[-2.], [2.]]" in out and "required checks failed" in out


def test_a_minimal_agent_keeps_the_contract_and_its_missing_capabilities_are_said(run_cli):
    code, out, _ = run_cli("check-agent", "--agent", "tests.own_agents:Minimal", "--no-probes")
    assert code == 0, out
    assert "lacks num_updates (gradient updates are not counted); state_dict" in out
    assert "skip  restored from state_dict" in out and "skip  beats the random floor on Pendulum-v1" in out
    assert "skip  a seed group                                     no group_of: one seed per process" in out
    assert "probe" not in out and out.splitlines()[-1] == "11 checks: 8 passed, 0 failed, 3 skipped"


def test_a_seed_group_of_a_users_own_agent_is_checked(run_cli):
    code, out, _ = run_cli("check-agent", "--agent", "tests.own_agents:MinimalGroup", "--no-probes")
    assert code == 0, out
    assert "pass  a seed group: every member's steps, each member as alone" in out and "identical actions" in out
    assert "member 0 stopped at step 100, member 1 went on to 600" in out


@pytest.mark.parametrize(
    ("agent", "fragment"),
    [
        ("GroupSkipsLastStep", "member 0's callback saw steps 1..199 (199 calls), not 1..200 (200 calls)"),
        ("GroupSharesWeights", "after 200 steps, seed 1 in the group acts"),
        ("GroupIgnoresStop", "the members stopped at [600, 600], not [100, 600]"),
    ],
)
def test_a_seed_group_that_breaks_the_contract_fails_with_the_reason(run_cli, agent, fragment):
    code, out, _ = run_cli("check-agent", "--agent", f"tests.own_agents:{agent}", "--no-probes")
    assert code == 1 and fragment in out, out
    assert "FAIL  a seed group" in out


def test_check_agent_runs_the_probes_by_default_and_a_policy_that_never_learns_fails_them(run_cli):
    """Minimal's linear policy never learns: it keeps the contract but fails the probes that read its
    actions; without q_value or gamma, the others are skipped with the reason."""
    code, out, _ = run_cli("check-agent", "--agent", "tests.own_agents:Minimal")
    assert code == 1
    rows = {line[6:55].strip(): line[:4].strip() for line in out.splitlines() if line[6:].startswith("probe: ")}
    assert rows == {
        "probe: value of a constant reward": "skip",
        "probe: value from the observation": "skip",
        "probe: discount over two steps": "skip",
        "probe: bootstrap at the time limit": "skip",
        "probe: no bootstrap after termination": "skip",
        "probe: action in the env's units": "FAIL",
        "probe: credit on the right step": "FAIL",
        "probe: time limit, by behaviour": "skip",
    }
    assert "then 8 probes (docs/agents.md)" in out
    assert "required checks failed: probe: action in the env's units, probe: credit on the right step" in out


def test_a_noisy_deterministic_predict_is_caught_by_the_contract():
    observations = [np.array([np.cos(t), np.sin(t), 0.5], np.float32) for t in range(5)]
    for name, caught in (("tests.planted_bugs:NoisyPredict", True), (EXAMPLE, False)):
        arm = get_arm(name)
        env, agent = start_agent(arm, "Pendulum-v1", conformance.check_config(arm), 0, "cpu")
        if caught:
            with pytest.raises(CheckFailed, match="two calls on one observation gave"):
                conformance.predict_repeats(agent, observations)
        else:
            assert conformance.predict_repeats(agent, observations) == "5 observations, each predicted twice"
        env.close()


def test_the_learning_check_scales_an_agents_own_defaults_as_a_study_would_and_says_no_update_was_made():
    """CleanRL's learning_starts 25,000, scaled as a study beside the built-in arms scales it (their
    Pendulum-v1 budget is 20,000 steps), is still beyond the 10,000 steps: no update, not a failure."""
    with pytest.raises(CheckSkipped) as skipped:
        learning.learns(get_arm("tests.own_agents:CleanDefaults"), 10_000, "cpu")
    assert str(skipped.value) == (
        "learning_starts 12,500 (25,000 scaled by 10,000 / 20,000 steps, the built-in arms' budget on Pendulum-v1) "
        "is beyond the check's 10,000 steps: no update was made"
    )
    config, how = learning.learning_config(get_arm(EXAMPLE), 10_000)  # its hyperparameter file sets a budget
    assert config.learning_starts == 5_000 and "its budget" in how


def test_the_random_floor_fails_the_learning_check_and_is_said_to_make_no_update():
    with pytest.raises(CheckFailed, match="not above it by two standard errors; it made no gradient update"):
        learning.learns(get_arm("random"), 2_000, "cpu")


def test_a_bad_agent_is_refused(run_cli):
    code, out, err = run_cli("check-agent", "--agent", "tests.own_agents:NoSave")
    assert code == 2 and "is not an agent" in err and "pass" not in out


@pytest.mark.slow
def test_the_example_beats_the_random_floor():
    checks = conformance.run_checks(get_arm(EXAMPLE), learning=True, with_probes=False)
    [check] = [c for c in checks if "random floor" in c.name]
    assert check.status == "pass", check.row()
