"""check-agent: every built-in arm and the example keep the contract; breaking it fails with the reason."""

import pytest
import torch

from harness.agents import ARMS, get_arm
from harness.verify import conformance

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
    checks = conformance.run_checks(get_arm(name))
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
    exact = "restored at an episode boundary, ends identical"
    assert (exact in passed) == (not name.startswith("sb3-"))  # SB3 resumes validly, not bit for bit
    assert conformance.summary(checks)[1] == 0


def test_an_agent_out_of_bounds_fails_with_the_reason(run_cli):
    code, out, _ = run_cli("check-agent", "--agent", "tests.own_agents:OutOfBounds")
    assert code == 1
    assert "FAIL  actions have the env's shape, within its bounds  1 action in [-2, 2]" in out
    assert "outside [[-2.], [2.]]" in out and "required checks failed" in out


def test_a_minimal_agent_passes_and_its_missing_capabilities_are_said(run_cli):
    code, out, _ = run_cli("check-agent", "--agent", "tests.own_agents:Minimal")
    assert code == 0, out
    assert "lacks num_updates (gradient updates are not counted); state_dict" in out
    assert "skip  restored from state_dict" in out and "skip  beats the random floor on Pendulum-v1" in out


def test_a_bad_agent_is_refused(run_cli):
    code, out, err = run_cli("check-agent", "--agent", "tests.own_agents:NoSave")
    assert code == 2 and "is not an agent" in err and "pass" not in out


@pytest.mark.slow
def test_the_example_beats_the_random_floor():
    [check] = [c for c in conformance.run_checks(get_arm(EXAMPLE), learning=True) if "random floor" in c.name]
    assert check.status == "pass", check.row()
