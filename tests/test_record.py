"""meta.json has one type, read back from every committed study; statuses are one enum."""

import json
from pathlib import Path

import pytest

from harness.run import rundir
from harness.run.record import FINAL, RESULTS, RunRecord, Status

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted((ROOT / "results").glob("**/meta.json"))


def test_every_committed_run_record_reads_back_with_what_it_holds():
    assert len(COMMITTED) > 100
    for path in COMMITTED:
        data = json.loads(path.read_text())
        record = rundir.read_record(path.parent)
        assert record is not None, path
        assert record.status == data["status"] and record.spec == data["spec"]
        assert record.spec_hash == data["spec_hash"]
        assert record.timings.wall_s == data.get("timings", {}).get("wall_s")
        assert record.result is None or record.result.final_return_mean == data["result"]["final_return_mean"]
        again = record.to_dict()
        kept = {k: v for k, v in again.items() if k in data}
        # What was there is written back as it was (a result gains only an explicit critic: None).
        for key, value in kept.items():
            if key == "result":
                assert {k: v for k, v in value.items() if k in data[key]} == data[key], path
            else:
                assert value == data[key], (path, key)
        # CPU time as recorded; None for runs made before it was ("not recorded", never guessed).
        assert record.timings.cpu_s == data.get("timings", {}).get("cpu_s")


def test_keys_of_other_versions_survive_a_round_trip():
    data = json.loads(next(p for p in COMMITTED if "relabelled" in p.read_text()).read_text())
    record = RunRecord.from_dict(data)
    assert record.extra["relabelled"] == data["relabelled"] and record.to_dict()["relabelled"] == data["relabelled"]


def test_statuses_are_one_enum_including_those_never_written():
    assert {s.value for s in Status} == {
        "running",
        "complete",
        "failed",
        "interrupted",
        "diverged",
        "stopped",
        "busy",
        "cancelled",
    }
    assert {Status.COMPLETE, Status.DIVERGED, Status.STOPPED} == FINAL and {Status.COMPLETE, Status.DIVERGED} == RESULTS
    assert json.dumps({"status": Status.COMPLETE}) == '{"status": "complete"}' and Status.BUSY == "busy"


@pytest.mark.parametrize(
    "broken, why",
    [({"status": "complete"}, "no spec"), ({"spec": {}, "status": "finished"}, "unknown status 'finished'")],
)
def test_a_record_that_is_not_one_is_refused_by_name(broken, why):
    with pytest.raises(ValueError, match=why):
        RunRecord.from_dict(broken)
