"""The report on a committed fixture (tests/fixtures/study, made by make_fixture.py) whose
statistics are computed by hand here."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.report import load, tables, write

FIXTURE = Path(__file__).parent / "fixtures" / "study"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    study = tmp_path_factory.mktemp("r") / "study"
    shutil.copytree(FIXTURE, study)
    write.write_report(study, reps=2000, seed=0)
    return study


def test_loading_names_and_skips_the_broken_run():
    study = load.load_study(FIXTURE)
    assert len(study.runs) == 13  # 12 complete + 1 diverged; the truncated one is skipped
    assert study.problems == [
        "sb3-ddpg/BipedalWalker-v3_1: evals.csv is truncated or corrupted (row 4 incomplete); run skipped"
    ]
    assert study.finals("BipedalWalker-v3")["td3"].tolist() == [310.0, 290.0, 250.0]
    # Diverged at step 1,500 after a finite evaluation at 0 and a NaN one at 1,000: a result of its arm,
    # scored by its last finite evaluation, held to the end of the budget in its curve.
    assert study.finals("BipedalWalker-v3")["sb3-ddpg"].tolist() == [-100.0]
    ddpg = study.evals[(study.evals["arm"] == "sb3-ddpg") & (study.evals["seed"] == 0)]
    assert ddpg["step"].tolist() == [0, 1000, 2000, 3000] and ddpg["return_mean"].tolist() == [-100.0] * 4
    assert ddpg["wall_s"].isna().tolist() == [False, True, True, True]


def test_final_table_hand_computed():
    finals = {"td3": np.array([310.0, 290.0, 250.0]), "sb3-td3": np.array([100.0, 120.0, 150.0])}
    table = tables.final_table(finals, 300.0, reps=2000, seed=0).set_index("arm")
    # IQM of 3 runs trims nothing (25% of 3 < 1): the mean. Gap: mean(0, 10, 50) = 20.
    assert table.loc["td3", "IQM"].startswith("283.3 [") and table.loc["td3", "mean"].startswith("283.3 [")
    assert table.loc["td3", "median"].startswith("290.0 [")
    assert table.loc["td3", "optimality gap"].startswith("20.0 [")
    assert table.loc["sb3-td3", "optimality gap"].startswith("176.7 [")  # mean(200, 180, 150)
    lo, hi = map(float, re.findall(r"\[(.*), (.*)\]", table.loc["td3", "mean"])[0])
    assert 250.0 <= lo < 283.4 < hi <= 310.0
    assert list(table.index) == ["td3", "sb3-td3"]  # registry order


def test_probability_of_improvement_hand_computed():
    pend = {"td3": [np.array([-150.0, -160.0, -170.0])], "sb3-td3": [np.array([-150.0, -200.0, -250.0])]}
    table = tables.improvement_table(pend, reps=2000, seed=0)
    row = table[(table["X"] == "td3") & (table["Y"] == "sb3-td3")].iloc[0]
    assert row["P(X > Y)"].startswith("0.72 [")  # (2.5 + 2 + 2) / 9: one tie counts half
    back = table[(table["X"] == "sb3-td3") & (table["Y"] == "td3")].iloc[0]
    assert back["P(X > Y)"].startswith("0.28 [")


def test_report_sections(written):
    md = (written / "report.md").read_text()
    for heading in (
        "## BipedalWalker-v3",
        "## Pendulum-v1",
        "### Final performance",
        "### Probability of improvement",
        "### Sample efficiency (env steps to reach 300)",
        "## Cost per run",
        "## Provenance",
        "### Hyperparameters on BipedalWalker-v3",
        "## Diverged runs (results of their arm, in every statistic above)",
        "### How many seeds",
        "## Problems reading results",
        "## All envs together (min-max normalized)",
    ):
        assert heading in md, heading
    pendulum = md.split("## Pendulum-v1")[1].split("\n## ")[0]
    assert "**Single runs.**" not in pendulum and "no CI" not in pendulum  # three seeds per arm
    walker = md.split("## BipedalWalker-v3")[1].split("\n## ")[0]
    # sb3-ddpg's one result is its diverged run (the other is unreadable): in the tables, and flagged.
    assert "**Unequal runs.**" in walker and "sb3-ddpg 1" in walker and "**Single runs.**" in walker
    assert re.search(r"\| sb3-ddpg +\| 1 \(1 diverged\) +\| -100\.0 \(1 run: no CI\)", walker)
    assert re.search(r"\| td3 +\| 0: 3,000, 1: never, 2: never +\| 3,000 +\| 2 of 3", md)
    assert re.search(r"\| sb3-td3 +\| 0: never, 1: never, 2: never +\| - +\| 3 of 3", md)
    assert "threshold 300 (gymnasium reward_threshold)" in md and "Pendulum-v1" in md
    assert "- sb3-ddpg/BipedalWalker-v3_0: diverged at step 1,500: critic_loss is nan at update 1000" in md
    assert "Not computed: Pendulum-v1 lack" in md  # no threshold: no normalization, said plainly
    assert re.search(r"\| \*\*n_steps\*\* +\| \*\*3\*\* +\| \*\*1\*\*", md)  # differences in bold
    assert re.search(r"\| gamma +\| 0.98 +\| 0.98 ", md)  # equal values plain
    assert re.search(r"\| BipedalWalker-v3 \| td3 +\| +0 \| complete +\| +100 \| +2500 \| 31s", md)
    assert re.search(r"\| BipedalWalker-v3 \| sb3-ddpg +\| +0 \| diverged +\|", md)  # its cost counts too


def test_figures_and_self_contained_html(written):
    pngs = sorted(p.name for p in written.glob("*.png"))
    assert pngs == [
        "curves_BipedalWalker-v3.png",
        "curves_Pendulum-v1.png",
        "profile_BipedalWalker-v3.png",
        "profile_Pendulum-v1.png",
    ]
    for name in pngs:
        assert (written / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (written / "report.html").read_text()
    assert html.count('src="data:image/png;base64,') == 4 and '.png"' not in html
    assert "<table>" in html and "<strong>n_steps</strong>" in html


def test_report_is_deterministic(written, tmp_path):
    again = tmp_path / "study"
    shutil.copytree(FIXTURE, again)
    write.write_report(again, reps=2000, seed=0)
    strip = lambda text: re.sub(r"Generated .* from `[^`]*`", "", text)  # noqa: E731
    assert strip((again / "report.md").read_text()) == strip((written / "report.md").read_text())


def test_aggregate_over_envs_normalizes_and_stratifies(tmp_path, monkeypatch):
    from harness.config import reference

    refs = tmp_path / "refs.yml"
    refs.write_text("BipedalWalker-v3: {random: -100.0}\nPendulum-v1: {random: -1200.0, threshold: -150.0}\n")
    monkeypatch.setattr(reference, "REFERENCE_FILE", refs)
    study = tmp_path / "study"
    shutil.copytree(FIXTURE, study)
    md = Path(write.write_report(study, reps=500, seed=0)).read_text()
    section = md.split("## All envs together (min-max normalized)")[1].split("## Cost per run")[0]
    # td3 normalized: BipedalWalker (310, 290, 250) -> 1.025, 0.975, 0.875; Pendulum (-150, -160, -170)
    # -> 1.0, 0.990476, 0.980952. IQM of the 6 pooled: drop one at each end, mean of the middle 4.
    expected = (0.975 + 0.980952 + 0.990476 + 1.0) / 4
    row = next(line for line in section.splitlines() if line.startswith("| td3"))
    assert f"| {expected:.3f} [" in row
    assert "profile_all.png" in section and (study / "profile_all.png").exists()


def test_single_runs_get_no_interval_and_a_warning(tmp_path):
    finals = {"td3": np.array([39.0]), "sb3-td3": np.array([171.2])}
    table = tables.final_table(finals, None, reps=200, seed=0).set_index("arm")
    assert table.loc["td3", "IQM"] == "39.0 (1 run: no CI)"
    poi = tables.improvement_table({a: [x] for a, x in finals.items()}, reps=200, seed=0)
    assert poi.iloc[0]["P(X > Y)"] == "0.00 (1 run: no CI)"
    study = tmp_path / "study"  # the fixture study cut to one seed per arm
    shutil.copytree(FIXTURE, study, ignore=shutil.ignore_patterns("*_1", "*_2"))
    text = write.write_report(study, reps=200, seed=0).read_text()
    assert "**Single runs.**" in text and "(1 run: no CI)" in text


def test_diverged_runs_are_results_and_change_the_verdict(tmp_path):
    """td3 diverges in 2 of 5 seeds: judged on its 3 survivors it beats sb3-td3 in every pair; judged
    on all 5 (the diverged ones at their last finite evaluation) the seeds cannot tell them apart."""
    import sys

    sys.path.insert(0, str(FIXTURE.parent))
    from make_fixture import write_run

    study = tmp_path / "verdict"
    for seed in range(5):
        write_run("sb3-td3", "Pendulum-v1", seed, [-1200.0, -700.0, -400.0, -200.0 - seed], root=study)
    for seed in range(3):
        write_run("td3", "Pendulum-v1", seed, [-1200.0, -600.0, -300.0, -150.0 - seed], root=study)
    for seed in (3, 4):
        write_run(
            "td3",
            "Pendulum-v1",
            seed,
            [-1200.0, -900.0, float("nan"), float("nan")],
            status="diverged",
            extra={"divergence": {"step": 1800, "cause": "critic loss is nan"}},
            root=study,
        )
    loaded = load.load_study(study)
    finals = loaded.finals("Pendulum-v1")
    assert sorted(finals["td3"].tolist()) == [-900.0, -900.0, -152.0, -151.0, -150.0]
    survivors = {"td3": [finals["td3"][finals["td3"] > -900]], "sb3-td3": [finals["sb3-td3"]]}
    alive = tables.improvement_table(survivors, reps=2000, seed=0)
    assert alive[alive["X"] == "td3"].iloc[0]["P(X > Y)"].startswith("1.00 [1.00, 1.00]")
    md = write.write_report(study, reps=2000, seed=0).read_text()
    row = re.search(r"\| td3 +\| sb3-td3 +\| ([0-9.]+) \[([0-9.]+), ([0-9.]+)\]", md)
    assert float(row.group(1)) == pytest.approx(0.6)  # 15 of 25 pairs
    assert float(row.group(2)) < 0.5 < float(row.group(3))  # no longer a difference the seeds support
    assert re.search(r"\| td3 +\| 5 \(2 diverged\)", md)
    assert (
        "- td3/Pendulum-v1_3: diverged at step 1,800: critic loss is nan; scored -900.0, its last finite evaluation (step 1,000)"
        in md
    )


def test_seeds_table_by_hand():
    finals = {
        "td3": np.array([-150.0, -160.0, -170.0]),
        "sb3-td3": np.array([-150.0, -200.0, -250.0]),
        "random": np.array([-1200.0]),
    }
    table = tables.seeds_table(finals).set_index("X vs Y")
    row = table.loc["td3 vs sb3-td3"]
    # SDs 10 and 50; Welch df = (100/3 + 2500/3)^2 / ((100/3)^2/2 + (2500/3)^2/2) = 2.1597, where
    # t_.975 = 4.0116 and t_.8 = 1.0416: (4.0116 + 1.0416) * sqrt(100/3 + 2500/3) = 148.8
    assert row["difference of means"] == "40.0" and row["runs"] == "3 vs 3"
    assert row["smallest difference these seeds detect"] == "148.8"
    assert row["seeds per arm to detect the observed difference"] == "15"
    assert (
        table.loc["td3 vs random", "seeds per arm to detect the observed difference"]
        == "needs 2 runs per arm to estimate"
    )
