"""validate-precision: the drift of fp32 against bf16 over identical updates, and the TOST of two studies."""

import pandas as pd
import pytest

from harness.errors import UsageError
from harness.verify import precision_check


def test_drift_is_zero_where_nothing_differs_and_bf16_rounding_where_it_does():
    sb3, ours, yardstick = precision_check.drift(updates=2)
    assert yardstick.largest < 1e-5  # our fp32 update is SB3's (the parity kit's threshold)
    for d in (sb3, ours):
        # Adam's first steps are +-lr per weight: bf16 rounding flips the sign of some near-zero gradients.
        assert 0 < d.largest <= 2 * 2 * precision_check.DRIFT_SETTINGS["learning_rate"] + 1e-6
    assert "| td3: fp32 against bf16 |" in ours.row()


def _finals(precision, scores):
    return pd.DataFrame(
        [
            {"env": env, "arm": arm, "seed": i, "final_return": s, "precision": precision}
            for (env, arm), values in scores.items()
            for i, s in enumerate(values)
        ]
    )


def test_equivalence_within_the_margin_and_not_beyond(monkeypatch, tmp_path):
    base = [-150.0, -160.0, -140.0, -155.0, -145.0]
    studies = {
        tmp_path / "a": _finals("fp32", {("Pendulum-v1", "td3"): base, ("Pendulum-v1", "sb3-td3"): base}),
        tmp_path / "b": _finals(
            "bf16", {("Pendulum-v1", "td3"): [s + 2 for s in base], ("Pendulum-v1", "sb3-td3"): [s - 60 for s in base]}
        ),
    }
    monkeypatch.setattr(precision_check, "_finals", lambda d: studies[d])
    tests = {t.arm: t for t in precision_check.equivalence(tmp_path / "a", tmp_path / "b", {"Pendulum-v1": 20.0})}
    assert tests["td3"].test["equivalent"] and tests["td3"].test["difference"] == pytest.approx(2.0)
    assert not tests["sb3-td3"].test["equivalent"]
    text = precision_check.markdown([], list(tests.values()), 100, 0.05)
    assert "| Pendulum-v1 | td3 | 5 / 5 |" in text and "**equivalent**" in text and "not shown equivalent" in text
    with pytest.raises(UsageError, match="--margins names no margin for Pendulum-v1"):
        precision_check.equivalence(tmp_path / "a", tmp_path / "b", {"Hopper-v5": 1.0})
    with pytest.raises(UsageError, match="its runs' precision is fp32, not bf16"):
        precision_check.equivalence(tmp_path / "a", tmp_path / "a", {"Pendulum-v1": 20.0})


@pytest.mark.parametrize("text", ["Pendulum-v1", "Pendulum-v1=0", "Pendulum-v1=x", "=3", ""])
def test_margins_must_name_an_env_and_a_positive_number(text):
    with pytest.raises(UsageError, match="--margins: expected ENV=M"):
        precision_check.parse_margins(text)


def test_margins_parse():
    assert precision_check.parse_margins("Pendulum-v1=50, ProbeActionScale-v0=0.1") == {
        "Pendulum-v1": 50.0,
        "ProbeActionScale-v0": 0.1,
    }
