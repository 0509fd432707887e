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
    # IQM of 3 runs trims nothing (25% of 3 < 1): the mean, so the two collapse into one column.
    # Gap: mean(0, 10, 50) = 20.
    assert "IQM" not in table.columns and "mean" not in table.columns
    assert table.loc["td3", "IQM = mean"].startswith("283.3 [")
    assert table.loc["td3", "median"].startswith("290.0 [")
    assert table.loc["td3", "optimality gap"].startswith("20.0 [")
    assert table.loc["sb3-td3", "optimality gap"].startswith("176.7 [")  # mean(200, 180, 150)
    lo, hi = map(float, re.findall(r"\[(.*), (.*)\]", table.loc["td3", "IQM = mean"])[0])
    assert 250.0 <= lo < 283.4 < hi <= 310.0
    assert list(table.index) == ["td3", "sb3-td3"]  # registry order


def test_probability_of_improvement_hand_computed():
    pend = {"td3": [np.array([-150.0, -160.0, -170.0])], "sb3-td3": [np.array([-150.0, -200.0, -250.0])]}
    table = tables.improvement_table(pend, reps=2000, seed=0)
    row = table[(table["X"] == "td3") & (table["Y"] == "sb3-td3")].iloc[0]
    assert row["P(X > Y)"].startswith("0.72 [")  # (2.5 + 2 + 2) / 9: one tie counts half
    assert len(table) == 1  # once per pair: P(sb3-td3 > td3) is 1 - P(td3 > sb3-td3)
    back, _ = tables.poi_ci(pend["sb3-td3"], pend["td3"], reps=200, seed=0)
    assert f"{back:.2f}" == "0.28"


def test_report_sections(written):
    md = (written / "report.md").read_text()
    for heading in (
        "## BipedalWalker-v3",
        "## Pendulum-v1",
        "### Final performance",
        "### Probability of improvement",
        "### Sample efficiency (env steps to reach 300)",
        "## Cost per run",
        "## Appendix: cost of every run",
        "### Verdict",
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
    assert re.search(r"\| sb3-ddpg +\| 0 / 1 +\| -100\.0 \(1 run: no CI\)", walker)  # the verdict row
    assert "**Few runs.**" in pendulum and "with 3 or fewer no interval" in pendulum
    assert re.search(r"\| td3 +\| 0: 3,000, 1: never, 2: never +\| 3,000 +\| 1 of 3 runs", md)
    assert re.search(r"\| sb3-td3 +\| 0: never, 1: never, 2: never +\| - +\| 0 of 3 runs", md)
    assert "threshold 300 (gymnasium reward_threshold)" in md and "Pendulum-v1" in md
    assert "- sb3-ddpg/BipedalWalker-v3_0: diverged at step 1,500: critic_loss is nan at update 1000" in md
    assert "Not computed: Pendulum-v1 lack" in md  # no threshold: no normalization, said plainly
    assert re.search(r"\| n_steps +\| \*\*3\*\* +\| \*\*1\*\*", md)  # differences in bold
    assert re.search(r"\| gamma +\| 0.98 +\|", md)  # shared values once, plain
    assert re.search(r"\| BipedalWalker-v3 \| td3 +\| +0 \| complete +\| not recorded +\| 31s +\| +100 \| +2500 \|", md)
    appendix = md.split("## Appendix: cost of every run")[1]
    assert "| BipedalWalker-v3 | td3 " in appendix  # per-run rows in the appendix, a summary per arm above
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
    assert "<table>" in html and "<strong>3</strong>" in html


def test_report_is_deterministic(written, tmp_path):
    again = tmp_path / "study"
    shutil.copytree(FIXTURE, again)
    write.write_report(again, reps=2000, seed=0)
    strip = lambda text: re.sub(r"From the runs in `[^`]*`", "", text)  # noqa: E731  (the folders differ)
    assert strip((again / "report.md").read_text()) == strip((written / "report.md").read_text())
    # The same runs again give the same bytes: a regenerated committed report leaves the checkout clean.
    before = {p.name: p.read_bytes() for p in again.iterdir() if p.is_file()}
    write.write_report(again, reps=2000, seed=0)
    assert {p.name: p.read_bytes() for p in again.iterdir() if p.is_file()} == before


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
    assert table.loc["td3", "IQM = mean = median"] == "39.0 (1 run: no CI)"
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


def test_pairs_in_plain_words_never_call_a_difference_from_three_runs():
    far = {
        "td3": np.array([-150.0, -151.0, -152.0, -153.0, -154.0]),
        "sb3-td3": np.array([-200.0, -201, -202, -203, -204]),
    }
    assert tables.pair_verdict("td3", "sb3-td3", far, reps=500, seed=0).startswith(
        "td3 vs sb3-td3: **td3 better**, a difference the seeds support (P(td3 > sb3-td3) = 1.00 [1.00, 1.00], 5 runs per arm)"
    )
    mixed = {"td3": np.array([1.0, 3.0, 5.0, 7.0, 9.0]), "sb3-td3": np.array([2.0, 4.0, 6.0, 8.0, 10.0])}
    assert "no difference the seeds can detect (P(td3 > sb3-td3) = 0.40 [" in tables.pair_verdict(
        "td3", "sb3-td3", mixed, reps=500, seed=0
    )
    three = {a: x[:3] for a, x in far.items()}
    words = tables.pair_verdict("td3", "sb3-td3", three, reps=500, seed=0)
    assert "td3 ahead, but too few runs to call it a difference" in words and "supports" not in words
    assert "better" not in words
    one = {a: x[:1] for a, x in far.items()}
    assert "one run, no interval: cannot tell" in tables.pair_verdict("td3", "sb3-td3", one, reps=500, seed=0)


def test_verdict_table_compares_every_arm_with_the_reference(written):
    md = (written / "report.md").read_text()
    verdict = md.split("## Pendulum-v1")[1].split("### Verdict")[1].split("![")[0]
    assert re.search(
        r"\| arm +\| runs \(completed / diverged\) +\| final score, IQM \[95% CI\] +\| P\(td3 > arm\)", verdict
    )
    assert re.search(r"\| td3 +\| 3 / 0 +\| -160\.0 \[[-0-9., ]+\] +\| \(reference\)", verdict)
    # P = 0.72 from 3 runs per arm, an interval that includes 0.5: said as such, not as a difference
    assert "- td3 vs sb3-td3: no difference these few runs can detect (P(td3 > sb3-td3) = 0.72 [" in verdict


def test_report_reference_can_be_chosen(tmp_path):
    study = tmp_path / "study"
    shutil.copytree(FIXTURE, study)
    md = write.write_report(study, reps=200, seed=0, reference="sb3-td3").read_text()
    assert "P(sb3-td3 > arm)" in md
    from harness.errors import UsageError

    with pytest.raises(UsageError, match="'nope' is not an arm of this study; its arms: td3, sb3-td3, sb3-ddpg"):
        write.write_report(study, reps=200, seed=0, reference="nope")


def test_budget_label_names_a_hand_set_size():
    import pandas as pd

    full = pd.Series({"total_steps": 20_000, "full_steps": 20_000, "budget": "full"})
    assert write.budget_label(full) == "full budget, 20,000 env steps per run"
    quick = pd.Series({"total_steps": 2_000, "full_steps": 20_000, "budget": "quick"})
    assert write.budget_label(quick) == "quick budget, 2,000 env steps per run"
    steps = pd.Series({"total_steps": 5_000, "full_steps": 20_000, "budget": "full"})
    assert write.budget_label(steps) == "STEPS=5,000 (25% of the full 20,000)"


def test_many_arms_get_distinct_colours_styles_and_a_matrix(tmp_path):
    from harness.report import plots
    from harness.report.arms import arm_colors, arm_styles

    arms = ["td3", "sb3-td3", "sb3-ddpg", "sb3-sac", "mine", "theirs", "yours", "random"]
    colours, styles = arm_colors(arms), arm_styles(arms)
    assert len(set(colours.values())) == 8 and len(set(styles.values())) == 8
    rng = np.random.default_rng(0)
    finals = {a: [rng.normal(i, 1.0, 5)] for i, a in enumerate(arms)}
    path = plots.improvement_matrix(finals, "P(row > column)", tmp_path / "poi.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    profile = plots.performance_profile(
        {a: x for a, x in finals.items() if a != "random"},
        "profile",
        "score",
        tmp_path / "profile.png",
        200,
        0,
        floor={"random": -1000.0},
        dots={a: x[0] for a, x in finals.items()},
    )
    assert profile.read_bytes()[:4] == b"\x89PNG"
