"""The sequential test (harness/sequential/): its algorithm against a plain re-implementation,
its boundaries' reproducibility, and its error rate and power by simulation (synthetic scores, no
training). The long simulations are marked ``stats`` (`make test-stats`); `make test` runs short ones."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sequential_sim import CASES, FIXTURE, standard_error

from harness import sequential as seq
from harness.errors import UsageError
from harness.sequential import test as seq_test


def committed() -> dict:
    """The committed simulation values (tests/sequential_sim.py wrote them)."""
    return json.loads(FIXTURE.read_text())["cases"]


# --- the algorithm, written plainly -------------------------------------------------------------------


def _plain_components(pairs, chosen):
    """Connected components of the arms of the chosen comparisons, by repeated merging."""
    groups = []
    for c in chosen:
        merged = set(pairs[c])
        rest = []
        for g in groups:
            if g & merged:
                merged |= g
            else:
                rest.append(g)
        groups = [*rest, merged]
    return sorted(tuple(sorted(g)) for g in groups)


def plain_test(scores, design):
    """One study, loops only: every step recomputes its set's whole boundary sequence from scratch.
    Returns {comparison index: (look, sign)} and the arms' looks. Shares only the random relabellings."""
    pairs, m, n = design.pairs, design.permutations, design.per_look
    still_open = list(range(len(pairs)))
    decided = {}
    looks_of = [0] * len(design.arms)
    for look in range(1, design.looks + 1):
        if not still_open:
            break
        for a in {a for c in still_open for a in pairs[c]}:
            looks_of[a] += 1
        chosen = list(still_open)
        while chosen:
            totals = {c: np.zeros(m) for c in chosen}
            maxima = []
            for past in range(1, look + 1):
                means = {}
                for group in _plain_components(pairs, chosen):
                    weights = seq_test._relabellings(design, past, group, design.seed).reshape(
                        len(group) * n, len(group), m
                    )
                    pooled = np.concatenate([scores[a, past - 1] for a in group])
                    for t, a in enumerate(group):
                        means[a] = pooled @ weights[:, t, :]
                for c in chosen:
                    i, j = pairs[c]
                    totals[c] = totals[c] + means[i] - means[j]
                maxima.append(np.max([np.abs(totals[c]) for c in chosen], axis=0))
            alive, spent = np.ones(m, dtype=bool), 0
            for past, top in enumerate(maxima, start=1):
                allowed = math.floor(design.alpha * past / design.looks * m + 1e-9)
                survivors = sorted(top[alive], reverse=True)
                bound = survivors[allowed - spent] if allowed - spent < len(survivors) else -np.inf
                crossed = alive & (top > bound)
                spent += int(crossed.sum())
                alive &= ~crossed
            observed = {c: abs(totals[c][0]) for c in chosen}
            best = max(chosen, key=lambda c: observed[c])
            if observed[best] > bound:
                decided[best] = (look, int(np.sign(totals[best][0])))
                chosen.remove(best)
            else:
                break
        still_open = chosen
    return decided, looks_of


@pytest.mark.parametrize(
    ("means", "compare", "per_look", "looks"),
    [
        ([0, 0.5, 3, 3], "all", 4, 3),
        ([0, 2, 2.5, 0], "reference", 5, 3),
        ([1, 0, 4], "all", 5, 4),
    ],
)
def test_the_vectorized_test_decides_as_the_plain_one(means, compare, per_look, looks):
    arms = tuple(f"a{i}" for i in range(len(means)))
    design = seq.Design(arms, per_look, looks, 0.1, compare, permutations=400, seed=3)
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((12, len(means), looks, per_look)) + np.array(means)[None, :, None, None]
    batch = seq.run_test(scores, design)
    some_decided = 0
    for s in range(scores.shape[0]):
        decided, looks_of = plain_test(scores[s], design)
        got = {c: (int(batch.decided_look[s, c]), int(batch.sign[s, c])) for c in np.flatnonzero(~batch.open[s])}
        assert got == decided, s
        assert batch.looks_run[s].tolist() == looks_of
        single = seq.run_test(scores[s : s + 1], design)  # a study alone decides as in a batch
        assert single.decided_look[0].tolist() == batch.decided_look[s].tolist()
        some_decided += bool(decided)
    assert some_decided >= 3  # the cases exercise the step-down, not only "nothing decided"


def test_boundaries_are_reproducible_from_the_study_seed():
    design = seq.Design(("x", "y", "z"), permutations=2000, seed=11)
    scores = np.random.default_rng(1).standard_normal((1, 3, 4, 5))
    first = seq.run_test(scores, design, trace=True).trace
    assert seq.run_test(scores, design, trace=True).trace == first
    # Looks are replayed identically when a study resumes: the first two looks alone give the same records.
    assert seq.run_test(scores[:, :, :2], design, trace=True).trace == first[:2]
    other = seq.run_test(scores, seq.Design(("x", "y", "z"), permutations=2000, seed=12), trace=True).trace
    assert [s["boundary"] for s in other[0]["steps"]] != [s["boundary"] for s in first[0]["steps"]]


def test_statistic_and_boundary_are_the_same_absolute_quantity():
    # Arm y far below x at every look: the statistic is |sum of differences| and its sign names x.
    design = seq.Design(("x", "y"), per_look=5, permutations=5000)
    scores = np.zeros((1, 2, 4, 5))
    scores[0, 0] = 10 + np.arange(5)
    out = seq.run_test(scores, design, trace=True)
    look = out.trace[0]
    assert look["statistics"]["x vs y"] == pytest.approx(12.0)
    assert look["statistics"]["x vs y"] > look["steps"][0]["boundary"] > 0
    assert look["decided"] == {"x vs y": "x better"}
    assert out.seeds_per_arm().tolist() == [[5, 5]]


def test_few_seeds_per_look_cannot_decide_at_the_first_look():
    # An exact permutation test's smallest p-value with n runs per arm is 2 / C(2n, n): 0.10 for n = 3,
    # above alpha/K = 0.0125, so even complete separation waits; 0.0079 for n = 5, below it.
    separated = lambda n: np.stack([np.full((4, n), 0.0), np.full((4, n), 1.0)])[None] + np.arange(n) * 0.01  # noqa: E731
    three = seq.run_test(separated(3), seq.Design(("x", "y"), per_look=3, permutations=5000))
    five = seq.run_test(separated(5), seq.Design(("x", "y"), per_look=5, permutations=5000))
    assert seq.Design(("x", "y"), per_look=3).smallest_p() == pytest.approx(0.1)
    assert three.decided_look[0, 0] == 2 and five.decided_look[0, 0] == 1
    assert three.sign[0, 0] == -1  # y scored higher


def test_an_arm_with_no_open_comparison_gets_no_more_seeds():
    # Against the first arm: b is far below a and decided at look 1; c equals a and stays open.
    design = seq.Design(("a", "b", "c"), per_look=5, looks=3, compare="reference", permutations=3000)
    rng = np.random.default_rng(5)
    scores = rng.standard_normal((1, 3, 3, 5))
    scores[0, 1] -= 100
    out = seq.run_test(scores, design)
    assert out.decided_look[0].tolist() == [1, 0]
    assert out.seeds_per_arm()[0].tolist() == [15, 5, 15]


def test_design_is_checked():
    with pytest.raises(UsageError, match="at least two arms"):
        seq.Design(("x",))
    with pytest.raises(UsageError, match="--compare"):
        seq.Design(("x", "y"), compare="some")
    with pytest.raises(UsageError, match="--alpha"):
        seq.Design(("x", "y"), alpha=1.5)
    assert seq.Design(("r", "x", "y"), compare="reference").comparisons == ["r vs x", "r vs y"]
    assert seq.Design(("r", "x", "y")).comparisons == ["r vs x", "r vs y", "x vs y"]
    assert seq.Design(("x", "y"), per_look=5).seeds(3, offset=100) == (110, 111, 112, 113, 114)
    assert seq.cost(seq.Design(("x", "y", "z"), per_look=5, looks=4), envs=1) == (15, 60)


def test_tost_by_hand():
    x, y = np.array([0.50, 0.52, 0.48, 0.51, 0.49]), np.array([0.50, 0.51, 0.49, 0.50, 0.50])
    test = seq.tost(x, y, margin=0.05, alpha=0.05)
    # difference 0; SEs sqrt(0.00025/5) and sqrt(0.00005/5); Welch df = 5.54, where t_.95 = 1.973
    se = math.sqrt(0.00025 / 5 + 0.00005 / 5)
    assert test["difference"] == pytest.approx(0.0, abs=1e-12)
    assert test["interval"][1] == pytest.approx(1.973 * se, rel=1e-3)
    assert test["equivalent"]
    assert not seq.tost(x, y + 0.04, margin=0.05, alpha=0.05)["equivalent"]


# --- simulation: error rate and power ----------------------------------------------------------------


def _check_case(name: str, result: dict, alpha: float = 0.05) -> None:
    """The guarantees a case shows: family-wise error at most alpha within Monte Carlo error (two
    standard errors), except for the pitfall, which must exceed it."""
    studies, rate = result["studies"], result["familywise_error"]
    if rate is None:
        return
    limit = alpha + 2 * standard_error(alpha, studies)
    if "signed boundary" in name:
        assert rate > limit, (name, rate)
    else:
        assert rate <= limit, (name, rate, limit)


@pytest.mark.parametrize(
    ("name", "studies", "permutations"),
    [
        ("identical, 2 arms", 1000, 2000),
        ("identical, 3 arms", 300, 2000),
        ("identical, 2 arms, signed boundary (AdaStop's pitfall)", 1000, 2000),
        ("effect 2 SD", 300, 2000),
    ],
)
def test_short_simulation_agrees_with_the_committed_one(name, studies, permutations):
    """A few hundred studies with 2,000 relabellings (the guarantee holds for any number): the error rate
    within its Monte Carlo error, the pitfall inflating it, and power and seeds as committed."""
    case = {**CASES[name], "studies": studies, "permutations": permutations, "seed": 100 + CASES[name]["seed"]}
    result = seq.simulate(**case)
    committed = globals()["committed"]()[name]["result"]
    if result["familywise_error"] is not None:
        se = standard_error(committed["familywise_error"], studies)
        assert abs(result["familywise_error"] - committed["familywise_error"]) <= 4 * se
        _check_case(name, result)
    for pair, power in committed["power"].items():
        assert abs(result["power"][pair] - power) <= 4 * standard_error(power, studies) + 0.01
    assert result["mean_seeds_per_arm"] == pytest.approx(committed["mean_seeds_per_arm"], rel=0.1)


@pytest.mark.stats
@pytest.mark.parametrize("name", list(CASES))
def test_simulation_reproduces_the_committed_values(name):
    """The full simulations (thousands of studies, 10,000 relabellings), recomputed: the same numbers as
    committed (they are deterministic given their seeds) and the error-rate guarantee."""
    result = seq.simulate(**CASES[name])
    recorded = committed()[name]
    assert recorded["arguments"] == CASES[name]
    committed_result = recorded["result"]
    for key in ("familywise_error", "power", "mean_seeds_per_arm"):
        assert result[key] == pytest.approx(committed_result[key], abs=2e-3), key
    _check_case(name, result)


def test_committed_values_show_the_guarantee_and_the_pitfall():
    """What the committed simulations say, checked on the file itself (cheap)."""
    cases = committed()
    assert set(cases) == set(CASES)
    for name, case in cases.items():
        _check_case(name, case["result"])
    assert cases["effect 2 SD"]["result"]["power"]["arm0 vs arm1"] > 0.95
    assert cases["effect 2 SD"]["result"]["mean_seeds_per_arm"] < 10  # of at most 20
    assert cases["effect 1 SD"]["result"]["power"]["arm0 vs arm1"] > 0.7
