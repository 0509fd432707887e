"""``compare --sequential`` look by look: which seeds run, what sequential.json holds, resuming, refusing a
changed design, and the report's Decisions section. Runs are written by a fake executor with scores drawn
from a known distribution per arm (no training), except one real smoke study through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib

import numpy as np
import pytest

from harness import sequential as seq
from harness.errors import UsageError
from harness.execution.progress import Display
from harness.report.write import write_report
from harness.run import record, rundir, runner
from harness.study.spec import StudySpec

ARMS = ("td3", "sb3-ddpg", "random")
#: Final scores per arm: N(mean, sd). td3 and sb3-ddpg alike, random far below both.
SCORES = {"td3": (-200.0, 30.0), "sb3-ddpg": (-200.0, 30.0), "random": (-1200.0, 30.0)}


class FakeExecutor:
    """Writes each run as complete (meta.json, evals.csv) with its arm's score for that seed; ``fail`` names
    runs to leave failed. Remembers what it was asked to run."""

    def __init__(self, scores=SCORES, fail=()):
        self.scores, self.fail, self.ran = scores, set(fail), []

    def run(self, specs, results_root, display):
        out = []
        for spec in specs:
            self.ran.append(spec.key)
            run_dir = spec.run_dir(results_root)
            run_dir.mkdir(parents=True, exist_ok=True)
            meta = runner._new_record(spec, 1)
            mean, sd = self.scores[spec.arm]
            rng = np.random.default_rng([zlib.crc32(spec.arm.encode()), spec.seed])
            score = float(mean + sd * rng.standard_normal())
            log = rundir.EvalLog(run_dir, spec.budget.eval_episodes)
            log.append(
                spec.budget.total_steps,
                1,
                0.1,
                0.1,
                np.full(spec.budget.eval_episodes, score),
                np.full(spec.budget.eval_episodes, 200),
            )
            status = rundir.STATUS_FAILED if spec.key in self.fail else rundir.STATUS_COMPLETE
            meta.status, meta.result = status, record.Result(final_return_mean=score)
            meta.timings.wall_s, meta.timings.steps_per_s = 1.0, 100.0
            rundir.write_record(run_dir, meta)
            out.append({"key": spec.key, "status": status})
        return out


def study(arms=ARMS, env="Pendulum-v1"):
    return StudySpec("seq", (env,), arms, (0,), steps=1000, eval_freq=1000, eval_episodes=2)


def run(tmp_path, executor, design=None, **kw):
    from harness.cli.options import RunOptions
    from harness.cli.sequential import run_sequential

    design = design or seq.Design(ARMS, per_look=5, looks=4)
    spec = kw.pop("spec", study(design.arms))
    options = RunOptions(
        1,
        1,
        Display(),
        estimate=False,
        matmul_backend="default",
        executor=executor,
        report=kw.pop("report", False),
        **kw,
    )
    return run_sequential(spec, tmp_path, options, design)


def test_a_study_runs_look_by_look_and_stops_seeding_decided_arms(tmp_path):
    fake = FakeExecutor()
    assert run(tmp_path, fake) == 0
    record = json.loads((tmp_path / "seq" / "sequential.json").read_text())
    looks = record["looks"]
    # Look 1: both comparisons with random are decided (complete separation of 5 against 5 runs).
    assert looks[0]["decided"] == {"td3 vs random": "td3 better", "sb3-ddpg vs random": "sb3-ddpg better"}
    assert sorted(looks[0]["scores"]) == sorted(ARMS)
    # random gets no more seeds; td3 and sb3-ddpg go on with seeds 5-9, 10-14, 15-19.
    assert [sorted(lk["scores"]) for lk in looks[1:]] == [["sb3-ddpg", "td3"]] * (len(looks) - 1)
    assert looks[1]["seeds"]["td3"] == [5, 6, 7, 8, 9]
    assert [k for k in fake.ran if k.startswith("random")] == [f"random/Pendulum-v1_{s}" for s in range(5)]
    assert record["seeds_per_arm"]["random"] == 5
    for lk in looks:  # statistics and boundaries at every look, for every comparison open at it
        assert set(lk["statistics"]) == {s for step in lk["steps"][:1] for s in step["open"]}
        assert all(step["boundary"] > 0 for step in lk["steps"])
    assert record["finished"]
    assert record["verdicts"]["td3 vs random"] == {"verdict": "td3 better", "look": 1}
    assert record["verdicts"]["td3 vs sb3-ddpg"]["verdict"] in ("not distinguished", "td3 better", "sb3-ddpg better")
    # The record replays to itself: its decisions are a function of its scores and design.
    assert seq.analyze(record)["verdicts"] == record["verdicts"]
    # A repeated command runs nothing more.
    again = FakeExecutor()
    assert run(tmp_path, again) == 0 and again.ran == []


def test_an_incomplete_look_is_not_decided_and_the_same_command_continues_it(tmp_path):
    design = seq.Design(("td3", "sb3-ddpg"), per_look=5, looks=3)
    broken = FakeExecutor(fail={"sb3-ddpg/Pendulum-v1_2"})
    assert run(tmp_path, broken, design) == 1
    record = json.loads((tmp_path / "seq" / "sequential.json").read_text())
    assert record["looks"] == [] and record["design"]["per_look"] == 5
    fixed = FakeExecutor()
    assert run(tmp_path, fixed, design) == 0
    assert fixed.ran[0] == "sb3-ddpg/Pendulum-v1_2"  # the failed run again; the complete ones are kept
    assert not any(k.endswith("_0") for k in fixed.ran)
    record = json.loads((tmp_path / "seq" / "sequential.json").read_text())
    assert [lk["look"] for lk in record["looks"]] == [1, 2, 3]


def test_a_changed_design_is_refused_and_nothing_is_lost(tmp_path):
    design = seq.Design(("td3", "sb3-ddpg"), per_look=5, looks=2)
    assert run(tmp_path, FakeExecutor(), design) == 0
    before = (tmp_path / "seq" / "sequential.json").read_bytes()
    for changed, words in [
        (seq.Design(("td3", "sb3-ddpg"), per_look=3, looks=2), "--per-look was 5, now 3"),
        (seq.Design(("td3", "sb3-ddpg"), per_look=5, looks=3), "--looks was 2, now 3"),
        (seq.Design(("td3", "sb3-ddpg"), per_look=5, looks=2, alpha=0.01), "--alpha was 0.05, now 0.01"),
        (
            seq.Design(("td3", "sb3-ddpg", "random"), per_look=5, looks=2),
            "--algos was td3,sb3-ddpg, now td3,sb3-ddpg,random",
        ),
        (seq.Design(("td3", "sb3-ddpg"), 5, 2, compare="reference", equivalence_margin=0.1), "--equivalence-margin"),
    ]:
        fake = FakeExecutor()
        with pytest.raises(UsageError, match="started with another design") as err:
            run(tmp_path, fake, changed)
        assert words in str(err.value) and "Nothing was changed" in str(err.value)
        assert fake.ran == []
    other_budget = StudySpec(
        "seq", ("Pendulum-v1",), ("td3", "sb3-ddpg"), (0,), steps=2000, eval_freq=1000, eval_episodes=2
    )
    with pytest.raises(UsageError, match="--steps was 1000, now 2000"):
        run(tmp_path, FakeExecutor(), design, spec=other_budget)
    assert (tmp_path / "seq" / "sequential.json").read_bytes() == before


def test_runs_made_outside_a_sequential_design_are_not_taken_over(tmp_path):
    spec = study(("td3", "sb3-ddpg"))
    FakeExecutor().run(spec.expand(), tmp_path, Display())  # a fixed study's runs under that name
    with pytest.raises(UsageError, match="runs made outside a sequential design"):
        run(tmp_path, FakeExecutor(), seq.Design(("td3", "sb3-ddpg")))
    assert not (tmp_path / "seq" / "sequential.json").exists()


def test_equivalence_only_inside_a_declared_margin(tmp_path):
    # Two arms scoring alike with little spread: never distinguished, equivalent within 0.1 of the
    # normalized range (BipedalWalker-v3: random -99.99, threshold 300), not within 0.001.
    scores = {"td3": (200.0, 3.0), "sb3-ddpg": (200.0, 3.0)}
    for margin, expected in [
        (0.1, "equivalent within ±0.1"),
        (0.001, "not distinguished"),
        (None, "not distinguished"),
    ]:
        root = tmp_path / str(margin)
        design = seq.Design(("td3", "sb3-ddpg"), per_look=5, looks=2, equivalence_margin=margin)
        assert run(root, FakeExecutor(scores), design, spec=study(design.arms, "BipedalWalker-v3")) == 0
        record = json.loads((root / "seq" / "sequential.json").read_text())
        assert record["verdicts"]["td3 vs sb3-ddpg"]["verdict"] == expected
        assert ("equivalence" in record["verdicts"]["td3 vs sb3-ddpg"]) == (margin is not None)


def test_the_report_opens_with_the_decisions(tmp_path):
    assert run(tmp_path, FakeExecutor()) == 0
    md = write_report(tmp_path / "seq", reps=200).read_text()
    assert md.index("## Decisions (sequential design)") < md.index("- runs:") < md.index("## Pendulum-v1")
    assert "| td3 vs random" in md and "**td3 better**" in md
    assert "### Statistic against boundary at every look" in md
    assert "Seeds each arm used: td3 20, sb3-ddpg 20, random 5; 45 runs in all, against 60" in md
    assert "not adjusted for its stopping" in md
    # A cell per look: decided comparisons show their statistic over the boundary, then nothing.
    decision, row = [line for line in md.splitlines() if line.startswith("| td3 vs random")][:2]
    assert float(decision.split("|")[-2].replace(",", "")) == pytest.approx(1000, abs=60)  # mean X - mean Y
    assert "> " in row and ": td3 better" in row and row.rstrip(" |").endswith("-")


def test_cli_sequential_options(run_cli, tmp_path):
    base = ["compare", "--env", "Pendulum-v1", "--algos", "td3,random", "--results", tmp_path, "--no-estimate"]
    code, out, err = run_cli(*base, "--sequential", "--seeds", "3")
    assert code == 2 and "--seeds and --sequential exclude each other" in err
    code, out, err = run_cli(*base, "--per-look", "3")
    assert code == 2 and "--per-look: only with --sequential" in err
    code, out, err = run_cli(*base, "--sequential", "--compare", "reference", "--budget", "quick", "--dry-run")
    assert code == 0, err
    assert "sequential design: 5 seeds per arm per look, at most 4 looks (20 seeds per arm)" in out
    assert "1 comparison(s), td3 against each other arm: td3 vs random" in out
    assert "cost: at best 10 runs (everything decided at the first look), at worst 40 runs" in out
    assert "look 1 of 4: seeds 0-4 for td3, random" in out
    assert not (tmp_path / "Pendulum-v1-quick").exists()  # a dry run writes nothing


@pytest.mark.systems  # real training through the CLI, about a minute: `make test-systems`
def test_a_real_sequential_study_through_the_cli(tmp_path):
    """Two looks of two seeds of td3 and random at a tiny budget: real runs, the record and the report."""
    tiny = tmp_path / "tiny.yml"
    tiny.write_text("td3:\n  all:\n    net_arch: [8, 8]\n    batch_size: 16\n")
    args = [
        *"compare --env Pendulum-v1 --algos td3,random --sequential --per-look 2 --looks 2".split(),
        *"--steps 300 --eval-freq 300 --eval-episodes 1 --jobs 2 --study real --progress quiet".split(),
        "--hp-file",
        str(tiny),
        "--results",
        str(tmp_path),
    ]
    out = subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    record = json.loads((tmp_path / "real" / "sequential.json").read_text())
    # 2 runs per arm can never be decided (smallest p-value 1/3): both looks run, nothing decided.
    assert [lk["look"] for lk in record["looks"]] == [1, 2]
    assert record["verdicts"]["td3 vs random"]["verdict"] == "not distinguished"
    assert sorted(p.name for p in (tmp_path / "real" / "td3").iterdir()) == [f"Pendulum-v1_{s}" for s in range(4)]
    assert "## Decisions (sequential design)" in (tmp_path / "real" / "report.md").read_text()
    again = subprocess.run(
        [sys.executable, "-m", "harness", *args, "--no-report"], capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0 and "sequential study complete" in again.stdout
    assert "runs:" not in again.stdout  # nothing planned: the study was finished


def test_a_margin_needs_a_normalized_score(tmp_path):
    # Pendulum-v1 has no threshold (hyperparams/reference_scores.yml): its scores cannot be normalized.
    with pytest.raises(UsageError, match="--equivalence-margin is on the normalized score"):
        run(tmp_path, FakeExecutor(), seq.Design(("td3", "sb3-ddpg"), equivalence_margin=0.1))


def test_a_dry_run_fixes_nothing(tmp_path):
    design = seq.Design(("td3", "sb3-ddpg"), per_look=5, looks=2)
    assert run(tmp_path, FakeExecutor(), design, dry_run=True) == 0
    assert not (tmp_path / "seq" / "sequential.json").exists()
    other = FakeExecutor()
    assert run(tmp_path, other, seq.Design(("td3", "sb3-ddpg"), per_look=6, looks=1)) == 0  # not refused
    assert len(other.ran) == 12
