"""Published references (hyperparams/published.yml, harness.config.published, harness.report.published):
the file as transcribed, the loader's errors, the report's section on fixture studies, the algorithm each
run records (outside its identity), and no network at report time."""

import dataclasses
import json
import re
import shutil
import socket
import sys
from pathlib import Path

import pytest

from harness.config import published
from harness.errors import ConfigError
from harness.report import load, write
from harness.report import published as section
from harness.run.record import RunRecord
from harness.study.spec import StudySpec

FIXTURES = Path(__file__).parent / "fixtures"
URL = "https://example.org/benchmark.md"


def _file(tmp_path, results, sources=None):
    path = tmp_path / "published.yml"
    data = {"sources": sources if sources is not None else {URL: {"caveat": "one run"}}, "results": results}
    path.write_text(json.dumps(data))  # JSON is YAML
    return path


def _entry(**changes):
    entry = {"algo": "td3", "env": "Hopper-v3", "mean": 3606.39, "std": 4.027, "timesteps": 1000000}
    return {**entry, "eval_episodes": 150, "source": URL, **changes}


def test_the_committed_file_holds_the_published_figures():
    found = {(r.algo, r.env): r for r in published.load()}
    expected = {  # rl-zoo3 benchmark.md, as the issue quotes it
        ("td3", "BipedalWalker-v3"): (305.990, 56.886, 1_000_000, 224),
        ("sac", "BipedalWalker-v3"): (297.668, 33.060, 500_000, 136),
        ("tqc", "BipedalWalker-v3"): (329.808, 45.083, 500_000, 254),
        ("ddpg", "BipedalWalker-v3"): (197.486, 141.580, 1_000_000, 227),
        ("td3", "Hopper-v3"): (3606.390, 4.027, 1_000_000, 150),
        ("td3", "Walker2d-v3"): (4717.823, 46.303, 1_000_000, 150),
        ("td3", "Pendulum-v1"): (-151.855, 90.227, 20_000, 750),
    }
    for key, (mean, std, steps, episodes) in expected.items():
        r = found[key]
        assert (r.mean, r.std, r.timesteps, r.eval_episodes) == (mean, std, steps, episodes)
        assert r.source.caveat == "not a quantitative benchmark as it corresponds to only one run"
        assert r.source.url.startswith("https://github.com/DLR-RM/rl-baselines3-zoo/blob/")
    assert {r.algo for r in found.values()} == {"td3", "ddpg", "sac", "tqc"}


@pytest.mark.parametrize(
    ("results", "message"),
    [
        (
            [_entry(mean="abc")],
            r"\[results #1\] \(td3 on Hopper-v3\): field 'mean' is 'abc'; accepted: a finite number",
        ),
        (
            [_entry(std=-1.0)],
            r"\[results #1\] \(td3 on Hopper-v3\): field 'std' is -1.0; a standard deviation is 0 or more",
        ),
        ([_entry(timesteps=1.5e6)], r"field 'timesteps' is 1500000.0; accepted: a whole number of 1 or more"),
        ([_entry(eval_episodes=True)], r"field 'eval_episodes' is True; accepted: a whole number"),
        ([_entry(env="Hopper")], r"field 'env' is 'Hopper'; accepted: an env id with its version \(Hopper-v3\)"),
        ([_entry(algo="TD3")], r"field 'algo' is 'TD3'; accepted: rl-zoo3's lower-case name"),
        (
            [_entry(source="https://elsewhere")],
            r"field 'source' is 'https://elsewhere', not one of the URLs under 'sources'",
        ),
        (
            [{k: v for k, v in _entry().items() if k != "std"}],
            r"missing field\(s\) std; accepted: algo, env, mean, std",
        ),
        ([_entry(seeds=1)], r"unknown field\(s\) seeds; accepted:"),
        ([_entry(), _entry(mean=1.0)], r"\[results #2\]: td3 on Hopper-v3 is listed twice \(also #1\)"),
        ([["td3", "Hopper-v3"]], r"\[results #1\]: an entry is a mapping with the fields algo, env"),
    ],
)
def test_the_loader_names_file_entry_and_field(tmp_path, results, message):
    path = _file(tmp_path, results)
    with pytest.raises(ConfigError, match=message) as caught:
        published.load(path)
    assert str(caught.value).startswith(str(path))


def test_the_loader_refuses_a_bad_shape(tmp_path):
    path = tmp_path / "published.yml"
    path.write_text("results: []\n")
    with pytest.raises(ConfigError, match=r"exactly the keys 'sources' and 'results', got \['results'\]"):
        published.load(path)
    with pytest.raises(ConfigError, match=r"\[sources: example\.org\]: a source is named by its URL"):
        published.load(_file(tmp_path, [], {"example.org": {}}))
    with pytest.raises(ConfigError, match=r"accepted keys are 'caveat' and 'evaluation'"):
        published.load(_file(tmp_path, [], {URL: {"note": "x"}}))
    assert published.load(tmp_path / "absent.yml") == []


def test_lookup_prefers_the_same_version_then_the_newest_other():
    path_results = [
        published.Published("td3", "Hopper-v3", 1.0, 0.0, 10, 1, None, published.Source(URL, None, None)),
        published.Published("td3", "Hopper-v4", 2.0, 0.0, 10, 1, None, published.Source(URL, None, None)),
    ]
    assert published.lookup("td3", "Hopper-v3", path_results).mean == 1.0
    assert published.lookup("td3", "Hopper-v5", path_results).env == "Hopper-v4"
    assert published.lookup("sac", "Hopper-v3", path_results) is None
    assert published.lookup("td3", "Walker2d-v3", path_results) is None


def _flat(text):
    """Markdown with runs of spaces as one, so assertions do not depend on column widths."""
    return re.sub(r" +", " ", text)


def _write_run():
    sys.path.insert(0, str(FIXTURES))
    from make_fixture import write_run

    return write_run


def test_the_section_places_each_arm_beside_its_algorithm(tmp_path):
    study = tmp_path / "study"
    shutil.copytree(FIXTURES / "study", study)
    md = write.write_report(study, reps=200, seed=0).read_text()
    part = md.split("## Published references")[1].split("\n## ")[0]
    assert 'it says of itself: "not a quantitative benchmark as it corresponds to only one run"' in part
    walker = _flat(part.split("### BipedalWalker-v3")[1].split("###")[0])
    assert "This study: 3,000 env steps per run, each run scored on 2 evaluation episodes." in walker
    # td3 scored 310, 290, 250; sb3-td3 100, 120, 150; sb3-ddpg: one diverged run (its start, -100) and a broken one
    assert (
        "| td3 | TD3: our implementation of the same algorithm | 283.3 (3 runs: 250.0 to 310.0)"
        " | 306.0 ± 56.9 (224 episodes, 1 run) | BipedalWalker-v3 | published at 1M steps; this study 3k |"
    ) in walker
    assert (
        "| sb3-td3 | TD3: the implementation rl-zoo3 trained (stable-baselines3) | 123.3 (3 runs: 100.0 to 150.0)"
        in walker
    )
    assert "| sb3-ddpg | DDPG: the implementation rl-zoo3 trained (stable-baselines3) | -100.0 (1 run)" in walker
    assert "197.5 ± 141.6 (227 episodes, 1 run)" in walker
    pendulum = part.split("### Pendulum-v1")[1]
    assert "-151.9 ± 90.2 (750 episodes, 1 run)" in pendulum and "published at 20k steps; this study 3k" in pendulum
    assert "The env version differs" not in part


def test_another_env_version_is_said_not_hidden(tmp_path):
    write_run = _write_run()
    study = tmp_path / "hopper"
    for seed in range(2):
        write_run("sb3-td3", "Hopper-v5", seed, [10.0, 50.0, 90.0, 100.0 + seed], root=study)
    md = write.write_report(study, reps=200, seed=0).read_text()
    part = _flat(md.split("## Published references")[1])
    assert (
        "**The env version differs**: the source published on Hopper-v3, this study ran Hopper-v5. A different "
        "version of an env may change its dynamics or rewards: the figures are not directly comparable."
    ) in part
    assert "| 3606.4 ± 4.0 (150 episodes, 1 run) | **Hopper-v3** | published at 1M steps; this study 3k |" in part


def test_a_recorded_algorithm_wins_and_arms_without_one_are_named(tmp_path, monkeypatch):
    write_run = _write_run()
    study = tmp_path / "own"
    import make_fixture

    for arm in ("mine", "theirs", "td3-per"):
        monkeypatch.setitem(make_fixture.HP, arm, {"gamma": 0.98})
    sac = {"algorithm": {"name": "sac", "library": "my-rl"}}
    write_run("mine", "Pendulum-v1", 0, [-1200.0, -800.0, -400.0, -170.0], extra=sac, root=study)
    write_run("theirs", "Pendulum-v1", 0, [-1200.0, -800.0, -400.0, -180.0], root=study)
    variant = {"algorithm": {"name": "td3", "library": "td3-harness", "settings": {"prioritized": True}}}
    write_run("td3-per", "Pendulum-v1", 0, [-1200.0, -800.0, -400.0, -160.0], extra=variant, root=study)
    md = write.write_report(study, reps=200, seed=0).read_text()
    part = _flat(md.split("## Published references")[1])
    assert "| mine | SAC: another implementation of the same algorithm (my-rl)" in part
    assert "-157.0 ± 88.7 (750 episodes, 1 run)" in part
    assert (
        "TD3: our implementation of the same algorithm; a variant (prioritized=True): not the published settings"
        in part
    )
    assert "No published figure: theirs (no published algorithm recorded for it)." in part


def test_an_older_variant_run_is_matched_by_name():
    assert section.algorithm_of("td3-per-n3", None) == {
        "name": "td3",
        "library": "td3-harness",
        "settings": {"prioritized": True, "n_steps": 3},
    }
    assert section.algorithm_of("sb3-tqc", None) == {"name": "tqc", "library": "sb3-contrib"}
    assert section.algorithm_of("examples.cleanrl_td3:TD3", None) == {}


def test_no_section_without_a_match(tmp_path):
    write_run = _write_run()
    study = tmp_path / "none"
    write_run("sb3-td3", "ProbeConstant-v0", 0, [1.0, 1.0, 1.0, 1.0], root=study)
    assert section.published_section(load.load_study(study)) == []


def test_the_report_reads_no_network(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the report opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    study = tmp_path / "study"
    shutil.copytree(FIXTURES / "study", study)
    assert "306.0 ± 56.9" in write.write_report(study, reps=200, seed=0).read_text()


def test_each_run_records_its_algorithm_outside_its_identity():
    runs = StudySpec("s", ("Pendulum-v1",), ("td3", "td3-per-n3", "sb3-tqc", "random"), (0,), budget="smoke").expand()
    by_arm = {r.arm: r for r in runs}
    assert by_arm["td3"].algorithm == {"name": "td3", "library": "td3-harness"}
    assert by_arm["td3-per-n3"].algorithm["settings"] == {"prioritized": True, "n_steps": 3}
    assert by_arm["sb3-tqc"].algorithm == {"name": "tqc", "library": "sb3-contrib"}
    assert by_arm["random"].algorithm == {}
    run = by_arm["td3"]
    assert "algorithm" not in run.identity()
    assert dataclasses.replace(run, algorithm={}).spec_hash() == run.spec_hash()
    record = RunRecord({"arm": "td3"}, "h", "complete", algorithm=dict(run.algorithm))
    assert RunRecord.from_dict(json.loads(json.dumps(record.to_dict()))).algorithm == run.algorithm
    assert "algorithm" not in RunRecord({"arm": "random"}, "h", "complete").to_dict()
