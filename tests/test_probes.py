"""The probe battery: correct agents pass every probe, the random floor fails the learning ones, and
each planted bug (tests/planted_bugs.py) fails its probe while the probes independent of it pass.

The fast tests run the probes at FAST_STEPS: the fewest steps at which, on seeds 0-4, the example
passed every probe and each planted bug failed its own (measured; the margins are in docs/agents.md).
The built-in arms on three seeds at the battery's own steps, and the planted bugs against every
probe, run with the other end-to-end checks (``make test-systems``)."""

import dataclasses

import pytest
import torch

from harness.agents import ARMS, get_arm
from harness.verify import probes

EXAMPLE = "examples.cleanrl_td3:TD3"
CONSTANT, OBS, DISCOUNT, TIME_LIMIT, TERMINATION, ACTION, CREDIT, BEHAVIOUR = (p.name for p in probes.PROBES)
FAST_STEPS = {
    CONSTANT: 200,
    OBS: 200,
    DISCOUNT: 300,
    TIME_LIMIT: 400,
    TERMINATION: 250,
    ACTION: 1000,
    CREDIT: 1000,
    BEHAVIOUR: 1500,
}
#: Planted bug -> (the probe made to find it, the probes that do not depend on what it breaks).
BUGS = {
    "TruncationAsTerminal": (TIME_LIMIT, {CONSTANT, OBS, DISCOUNT, TERMINATION, ACTION, CREDIT}),
    "TruncationAsTerminalNoQ": (BEHAVIOUR, {ACTION, CREDIT}),
    "TerminalIgnored": (TERMINATION, {CONSTANT, OBS, TIME_LIMIT, ACTION, CREDIT, BEHAVIOUR}),
    "Unscaled": (ACTION, {CONSTANT, OBS, DISCOUNT, TIME_LIMIT, TERMINATION, CREDIT, BEHAVIOUR}),
    "ScaledByHigh": (ACTION, {CONSTANT, OBS, DISCOUNT, TIME_LIMIT, TERMINATION, CREDIT, BEHAVIOUR}),
    "RewardOffByOne": (CREDIT, {CONSTANT, TIME_LIMIT, TERMINATION}),
    "FixedDiscount": (DISCOUNT, {CONSTANT, OBS, TERMINATION, ACTION, CREDIT}),
}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def probe(name, fast=True):
    [found] = [p for p in probes.PROBES if p.name == name]
    return dataclasses.replace(found, steps=FAST_STEPS[name]) if fast else found


def planted(bug):
    return get_arm(f"tests.planted_bugs:{bug}")


@pytest.fixture(scope="module")
def example_rows():
    """The example's row for each probe at FAST_STEPS, computed once."""
    rows = {}

    def row(name):
        if name not in rows:
            with torch.random.fork_rng():
                rows[name] = probes.run_probe(get_arm(EXAMPLE), probe(name))
        return rows[name]

    return row


@pytest.mark.parametrize("name", list(FAST_STEPS))
def test_the_example_passes_every_probe(name, example_rows):
    check = example_rows(name)
    assert check.status == "pass", check.row()


@pytest.mark.parametrize("bug", list(BUGS))
def test_each_planted_bug_fails_its_probe_with_the_likely_cause(bug, example_rows):
    name, _ = BUGS[bug]
    check = probes.run_probe(planted(bug), probe(name))
    assert check.status == "FAIL", check.row()
    assert example_rows(name).status == "pass"  # the same probe, the same steps, the bug's base without it
    cause = {
        TIME_LIMIT: "is a truncated episode stored as terminal?",
        BEHAVIOUR: "is a truncated episode stored as terminal?",
        TERMINATION: "is the terminated flag stored",
        ACTION: "is the [-1, 1] action mapped to the bounds",
        CREDIT: "is each reward stored with the observation and action that earned it?",
        DISCOUNT: "is the configured gamma used in the target?",
    }[name]
    assert cause in check.detail


def test_the_time_limit_row_names_the_value_at_the_limit():
    check = probes.run_probe(planted("TruncationAsTerminal"), probe(TIME_LIMIT))
    last = float(check.detail.split("the value at the time limit is ")[1].split(",")[0])
    assert 9.0 < last < 13.0  # its target is the reward alone, 10; the right value is 20
    assert "expected 20.00" in check.detail


def test_an_agent_without_q_value_has_its_value_probes_skipped_and_the_reason_said():
    arm = planted("TruncationAsTerminalNoQ")
    rows = {name: probes.run_probe(arm, probe(name)) for name in (CONSTANT, TIME_LIMIT)}
    for check in rows.values():
        assert check.status == "skip" and check.detail.startswith("no q_value: the agent's values cannot be read")
    assert "'time limit, by behaviour' checks it through predict" in rows[TIME_LIMIT].detail


def test_the_random_floor_fails_the_learning_probes_and_its_value_probes_are_skipped():
    rows = probes.run_probes(get_arm("random"))
    status = {c.name: c.status for c in rows}
    assert status == {
        CONSTANT: "skip",
        OBS: "skip",
        DISCOUNT: "skip",
        TIME_LIMIT: "skip",
        TERMINATION: "skip",
        ACTION: "FAIL",
        CREDIT: "FAIL",
        BEHAVIOUR: "skip",  # its answer depends on a gamma the random policy does not have
    }
    assert all("it made no gradient update" in c.detail for c in rows if c.status == "FAIL")
    assert rows[-1].detail == "gamma unknown: the Config has no gamma and the agent no attribute gamma"


def test_settings_that_allow_no_update_skip_the_probe_with_the_reason(monkeypatch):
    monkeypatch.setitem(probes.PROBE_SETTINGS, "learning_starts", 5_000)
    check = probes.run_probe(get_arm("td3"), probe(CONSTANT))
    assert check.status == "skip"
    assert (
        check.detail == "learning_starts 5,000 is beyond the 200 steps of the probe: no update within the probe's steps"
    )


def test_a_probe_reads_the_agents_own_gamma_where_its_config_has_none():
    arm = get_arm("tests.own_agents:FixedGammaTD3")  # gamma 0.9, an attribute, not a Config field
    assert "gamma" not in {f.name for f in dataclasses.fields(arm.config_cls)}
    check = probes.run_probe(arm, probe(DISCOUNT))
    assert check.status == "pass", check.row()
    assert "expected Q 9.00 at s = 1, 10.00 at s = -1" in check.detail  # 10 gamma with the agent's 0.9
    far = probes.run_probe(arm, probe(TIME_LIMIT))  # 10 / (1 - 0.9) = 100: too far for the probe's steps
    assert far.status == "skip"
    assert (
        far.detail == "gamma 0.9: a value of 100 is not learned in the probe's steps (its own: the Config has no gamma)"
    )


# ---------------------------------------------------------------- end to end (make test-systems)
BUILT_IN = [a for a in ARMS if a != "random"] + ["td3-per", "td3-n3", "td3-per-n3", EXAMPLE]


@pytest.mark.systems
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_arm_passes_every_probe(name, seed):
    rows = probes.run_probes(get_arm(name), seed)
    assert [c.status for c in rows] == ["pass"] * len(probes.PROBES), [c.row() for c in rows if c.status != "pass"]


@pytest.mark.systems
@pytest.mark.parametrize("bug", list(BUGS))
def test_each_planted_bug_fails_its_probe_and_passes_the_independent_ones(bug):
    name, independent = BUGS[bug]
    rows = {c.name: c for c in probes.run_probes(planted(bug))}
    assert rows[name].status == "FAIL", rows[name].row()
    assert all(rows[n].status == "pass" for n in independent), [rows[n].row() for n in independent]


@pytest.mark.systems
def test_a_compare_on_probe_envs_shows_the_policy_probe_learned(tmp_path):
    """The probes are ordinary env ids: a study runs on them through the process pool, and the credit
    probe's evaluation return climbs from the random floor past its threshold."""
    import subprocess
    import sys

    import pandas as pd

    from harness.config import reference

    hp = tmp_path / "tiny.yml"
    hp.write_text("all:\n  all:\n    net_arch: [32, 32]\n    batch_size: 64\n")
    args = "--env ProbeCredit-v0,ProbeTimeLimit-v0 --algos td3 --steps 1500 --eval-freq 500 --eval-episodes 5 "
    args += "--seeds 1 --jobs 2 --study s --progress quiet --no-estimate --no-report"
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "compare", *args.split(), "--results", str(tmp_path), "--hp-file", str(hp)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    credit = pd.read_csv(tmp_path / "s" / "td3" / "ProbeCredit-v0_0" / "evals.csv")
    assert credit["step"].tolist() == [0, 500, 1000, 1500]
    assert credit["return_mean"].iloc[-1] > reference.lookup("ProbeCredit-v0").threshold
    limit = pd.read_csv(tmp_path / "s" / "td3" / "ProbeTimeLimit-v0_0" / "evals.csv")
    assert (limit["return_mean"] == 40.0).all()  # 4 steps of 10: every policy's return


def test_an_agent_that_raises_on_a_probe_gets_a_failing_row_and_the_battery_goes_on(monkeypatch):
    def broken(agent, env, gamma):
        raise RuntimeError("shape mismatch")

    bad = dataclasses.replace(probes.PROBES[5], steps=150, measure=broken)
    monkeypatch.setattr(probes, "PROBES", (bad, dataclasses.replace(probes.PROBES[6], steps=150)))
    rows = probes.run_probes(get_arm("random"))
    assert rows[0].status == "FAIL" and rows[0].detail.startswith(
        "raised RuntimeError: shape mismatch (at test_probes.py:"
    )
    assert rows[1].name == CREDIT and rows[1].status == "FAIL"
