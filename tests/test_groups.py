"""The compact letter display (harness.report.groups): known letterings, the defining property on every
decision pattern of up to five arms, and the ranking built from the report's own pairwise decisions."""

import re
import shutil
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.report import groups, write

ARMS = ["a1", "a2", "a3", "a4"]


def test_nothing_separated_is_one_letter():
    assert groups.letters(ARMS, set()) == dict.fromkeys(ARMS, "a")


def test_everything_separated_is_one_letter_each():
    every = {frozenset(p) for p in combinations(ARMS, 2)}
    assert groups.letters(ARMS, every) == {"a1": "a", "a2": "b", "a3": "c", "a4": "d"}


def test_a_chain_gives_the_middle_arm_both_letters():
    # a1 and a3 are separated; a2 is separated from neither: a, ab, b
    assert groups.letters(["a1", "a2", "a3"], {frozenset(("a1", "a3"))}) == {"a1": "a", "a2": "ab", "a3": "b"}


def test_a_longer_chain_and_a_lone_arm():
    # a1-a3, a1-a4, a2-a4 separated (a chain of overlapping neighbours), a5 separated from all of them
    order = ["a1", "a2", "a3", "a4", "a5"]
    pairs = {frozenset(p) for p in (("a1", "a3"), ("a1", "a4"), ("a2", "a4"))}
    pairs |= {frozenset((a, "a5")) for a in order[:4]}
    assert groups.letters(order, pairs) == {"a1": "a", "a2": "ab", "a3": "bc", "a4": "c", "a5": "d"}


def test_the_best_arm_holds_a_and_letters_follow_the_order():
    # the separated pair is the best and second arm: the third shares with both
    assert groups.letters(["x", "y", "z"], {frozenset(("x", "y"))}) == {"x": "a", "y": "b", "z": "ab"}


def test_bad_pairs_are_refused():
    with pytest.raises(ValueError, match=r"separated pair \['a1', 'zz'\] is not two of the arms"):
        groups.letters(ARMS, {frozenset(("a1", "zz"))})
    with pytest.raises(ValueError, match="arms named twice"):
        groups.letters(["a1", "a1"], set())


def _maximal_cliques(n, separated):
    """Brute force: the maximal sets of arms no two of which are separated."""
    sets = [
        frozenset(s)
        for k in range(1, n + 1)
        for s in combinations(range(n), k)
        if not any(frozenset(p) in separated for p in combinations(s, 2))
    ]
    return {s for s in sets if not any(s < t for t in sets)}


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_share_a_letter_exactly_when_not_separated_on_every_pattern(n):
    """Every one of the 2^(n choose 2) decision patterns: two arms share a letter iff they are not
    separated, no letter is redundant (each is a maximal group: the maximal cliques of "not separated"),
    and the order of the pairs does not matter."""
    pairs = list(combinations(range(n), 2))
    order = [f"arm{i}" for i in range(n)]
    for mask in range(2 ** len(pairs)):
        sep_idx = {frozenset(p) for b, p in enumerate(pairs) if mask >> b & 1}
        sep = {frozenset(order[i] for i in p) for p in sep_idx}
        cld = groups.letters(order, sep)
        for i, j in pairs:
            shares = bool(set(cld[order[i]]) & set(cld[order[j]]))
            assert shares == (frozenset((i, j)) not in sep_idx), (mask, cld)
        found = {frozenset(i for i in range(n) if c in cld[order[i]]) for c in set("".join(cld.values()))}
        assert found == _maximal_cliques(n, sep_idx), (mask, cld)
        ordered = sorted(sep, key=sorted)
        assert groups.letters(order, ordered) == groups.letters(order, ordered[::-1]) == cld


def test_separated_is_the_pair_sentences_rule():
    far = np.array([10.0, 11.0, 12.0, 13.0, 14.0])
    finals = {"td3": far, "sb3-td3": far - 100, "sb3-ddpg": far - 100.5, "random": far[:3] - 1000}
    pairs = groups.separated(finals, reps=500, seed=0)
    # td3 beats both SB3 arms in every resample; the SB3 arms interleave; random has only 3 runs
    assert pairs == {frozenset(("td3", "sb3-td3")), frozenset(("td3", "sb3-ddpg"))}


def test_ranking_with_ties_and_letters():
    finals = {
        "td3": np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        "sb3-td3": np.array([5.0, 4.0, 3.0, 2.0, 1.0]),  # the same IQM as td3: a tie
        "sb3-sac": np.array([100.0, 101.0, 102.0, 103.0, 104.0]),
    }
    ranking = groups.rank(finals, reps=500, seed=0)
    assert ranking.order == ["sb3-sac", "td3", "sb3-td3"]  # the tie keeps report order
    assert ranking.rank == {"sb3-sac": 1, "td3": 2, "sb3-td3": 2}
    assert ranking.groups == {"sb3-sac": "a", "td3": "b", "sb3-td3": "b"}
    table = pd.DataFrame({"arm": ["td3", "sb3-td3", "sb3-sac"], "IQM": ["3.0", "3.0", "102.0"]})
    shown = groups.ranked(table, ranking)
    assert shown.columns.tolist() == ["rank", "arm", "groups", "IQM"]
    assert shown.values.tolist() == [[1, "sb3-sac", "a", "102.0"], [2, "td3", "b", "3.0"], [2, "sb3-td3", "b", "3.0"]]
    assert "the seeds separate" not in groups.legend(ranking, 5)  # neither none nor all pairs separated


def test_legend_says_when_no_pair_is_separated():
    three = {a: np.array([1.0, 2.0, 3.0]) + i * 100 for i, a in enumerate(["td3", "sb3-td3", "sb3-sac"])}
    ranking = groups.rank(three, reps=200, seed=0)
    assert set(ranking.groups.values()) == {"a"}
    assert "the seeds separate no two arms (with 3 runs per arm no interval is read as a difference)" in (
        groups.legend(ranking, 3)
    )


FIXTURES = Path(__file__).parent / "fixtures"
EIGHT = {  # arm: its 5 seeds' final scores on Pendulum-v1 (best first)
    "sb3-tqc": [-100.0, -101.0, -102.0, -103.0, -104.0],
    "sb3-sac": [-100.5, -101.5, -102.5, -103.5, -104.5],  # interleaves with sb3-tqc: not separated
    "td3": [-150.0, -151.0, -152.0, -153.0, -154.0],
    "td3-per-n3": [-151.5, -152.5, -153.5, -155.5, -156.5],  # between td3 and sb3-td3
    "sb3-td3": [-154.0, -155.0, -156.0, -157.0, -158.0],
    "sb3-crossq": [-300.0, -301.0, -302.0, -303.0, -304.0],
    "sb3-ddpg": [-400.0, -401.0, -402.0, -403.0, -404.0],
    "random": [-1200.0, -1201.0, -1202.0, -1203.0, -1204.0],
}


def test_an_eight_arm_report_ranks_with_letters_and_says_seven_pairs(tmp_path, monkeypatch):
    sys.path.insert(0, str(FIXTURES))
    import make_fixture

    for arm in EIGHT:
        monkeypatch.setitem(make_fixture.HP, arm, {"gamma": 0.98})
    study = tmp_path / "eight"
    for arm, scores in EIGHT.items():
        for seed, final in enumerate(scores):
            make_fixture.write_run(arm, "Pendulum-v1", seed, [-1200.0, -800.0, -400.0, final], root=study)
    md = write.write_report(study, reps=2000, seed=0).read_text()
    verdict = md.split("### Verdict")[1].split("![")[0]
    rows = re.findall(r"^\| +(\d) \| ([\w-]+) +\| ([a-z]+) +\|", verdict, flags=re.M)
    assert rows == [
        ("1", "sb3-tqc", "a"),
        ("2", "sb3-sac", "a"),
        ("3", "td3", "b"),
        ("4", "td3-per-n3", "bc"),
        ("5", "sb3-td3", "c"),
        ("6", "sb3-crossq", "d"),
        ("7", "sb3-ddpg", "e"),
        ("8", "random", "f"),
    ]
    sentences = re.findall(r"^- (\S+) vs (\S+):", md, flags=re.M)
    assert sentences == [
        ("td3", y) for y in ["td3-per-n3", "sb3-td3", "sb3-ddpg", "sb3-sac", "sb3-tqc", "sb3-crossq", "random"]
    ]
    appendix = md.split("## Appendix: P(X > Y) for every pair on Pendulum-v1")[1]
    assert len(re.findall(r"^\| [\w-]+ +\| [\w-]+ +\| [0-9.]+ \[", appendix, flags=re.M)) == 28
    assert "Every pair with its 95% CI is in the appendix" in md


def test_fewer_than_five_arms_read_as_before(tmp_path):
    study = tmp_path / "study"
    shutil.copytree(FIXTURES / "study", study)
    md = write.write_report(study, reps=200, seed=0).read_text()
    assert "**Groups**" not in md and "| rank" not in md and "Appendix: P(X > Y)" not in md
    assert "- sb3-td3 vs sb3-ddpg:" in md  # every pair in words
