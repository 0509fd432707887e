"""Ray: checkpoint stores, the backend's usage errors, and a real local Ray cluster on 127.0.0.1 (a head
node and a worker node, each a `ray start` of its own) running compare and tune through the CLI, one
of them losing its worker node mid-run."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import optuna
import pandas as pd
import pytest
import torch

from postgres import bindir
from postgres import cluster as postgres_cluster

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]' (make test installs .[dev])")

from harness.errors import UsageError  # noqa: E402
from harness.run import checkpoint  # noqa: E402

pytestmark = pytest.mark.ray
STEPS, EVAL, EVERY = 3000, 1000, 400
STUDY_ARGS = [
    *"--env Pendulum-v1 --algos td3 --steps".split(),
    str(STEPS),
    "--eval-freq",
    str(EVAL),
    *"--eval-episodes 1 --seeds 2 --hp net_arch=[16,16] --hp batch_size=32 --checkpoint-every".split(),
    str(EVERY),
    *"--study s --progress quiet --no-estimate --no-report".split(),
]
RAY_BIN = Path(sys.executable).parent / "ray"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_marked(marks: list[str]) -> set[int]:
    """Pids whose command line contains one of ``marks``, and all their descendants."""
    found, parents = set(), {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if any(mark in cmdline for mark in marks):
            found.add(int(entry))
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        found |= children
        grew = bool(children)
    return found


def kill_marked(marks: list[str]) -> None:
    for pid in processes_marked(marks):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def ray_env() -> dict[str, str]:
    """The environment of every Ray process a test starts: token authentication with a token of its
    own (given to every node and driver, as on a real cluster; ~/.ray is left alone), no usage stats."""
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex}
    env.pop("RAY_ADDRESS", None)
    return env


class LocalCluster:
    """Ray nodes on this machine, each started by `ray start` with a temp dir of its own under /tmp
    (short: Ray's socket paths must fit in 107 bytes). Every process of a node is found again by
    that temp dir in its command line, or as a descendant of such a process, and killed by pid."""

    def __init__(self) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = ray_env()
        self.dirs: list[str] = []

    def start_node(self, head: bool = False) -> str:
        """Start a node with one CPU; returns its temp dir, the mark of its processes."""
        temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
        self.dirs.append(temp)
        # The head declares a silent node dead after about 3 s instead of Ray's default 15 s or more.
        where = (
            [
                "--head",
                f"--port={self.port}",
                "--include-dashboard=false",
                f"--dashboard-port={free_port()}",
                '--system-config={"health_check_period_ms": 1000, "health_check_failure_threshold": 3}',
            ]
            if head
            else [f"--address={self.address}"]
        )
        scratch = Path(temp) / "scratch"  # the runs' scratch directories: a killed node's go with it
        scratch.mkdir()
        out = subprocess.run(
            [
                str(RAY_BIN),
                "start",
                *where,
                "--node-ip-address=127.0.0.1",
                "--num-cpus=1",
                f"--temp-dir={temp}",
                "--object-store-memory=100000000",
                f"--dashboard-agent-listen-port={free_port()}",
                "--disable-usage-stats",
            ],
            env={**self.env, "TMPDIR": str(scratch)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        return temp

    def wait_for_nodes(self, count: int, timeout: float = 120.0) -> None:
        """Until the head counts ``count`` nodes alive (a killed one is declared dead after a few beats)."""
        probe = "import ray; ray.init(logging_level='ERROR'); print('alive', sum(n['Alive'] for n in ray.nodes()))"
        deadline, alive = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            out = subprocess.run(
                [sys.executable, "-c", probe],
                env={**self.env, "RAY_ADDRESS": self.address},
                capture_output=True,
                text=True,
                timeout=60,
            )
            found = re.search(r"^alive (\d+)$", out.stdout, re.MULTILINE)
            alive = int(found.group(1)) if found else None
            if alive == count:
                return
            time.sleep(0.5)
        raise AssertionError(f"{alive} node(s) alive after {timeout:.0f} s, expected {count}")

    def stop(self) -> None:
        kill_marked([*self.dirs, self.address])
        for temp in self.dirs:
            shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def head():
    cluster = LocalCluster()
    try:
        cluster.start_node(head=True)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster(head):
    """The head and a fresh worker node: two nodes of one CPU each."""
    node = head.start_node()
    try:
        head.wait_for_nodes(2)
        yield head, node
    finally:
        kill_marked([node])
        head.wait_for_nodes(1)


def harness_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness", *map(str, args)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The study run by the local process pool: what every Ray run of it must reproduce."""
    root = tmp_path_factory.mktemp("local")
    out = subprocess.run(
        harness_cmd("compare", *STUDY_ARGS, "--jobs", "2", "--results", root),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    return root


def run_dir(root: Path, seed: int) -> Path:
    return root / "s" / "td3" / f"Pendulum-v1_{seed}"


def assert_same_as_reference(root: Path, reference: Path) -> None:
    """Complete runs whose evaluations, training episodes and final actor are those of the local run:
    our TD3 is deterministic on CPU, resumed or not, so nothing is missing, duplicated or different."""
    for seed in (0, 1):
        meta = json.loads((run_dir(root, seed) / "meta.json").read_text())
        assert meta["status"] == "complete" and meta["result"]["env_steps"] == STEPS
        cols = ["step", "updates", "return_mean", "return_0"]
        ours, theirs = (pd.read_csv(run_dir(r, seed) / "evals.csv")[cols] for r in (root, reference))
        assert ours["step"].tolist() == list(range(0, STEPS + 1, EVAL))
        pd.testing.assert_frame_equal(ours, theirs)
        monitor = pd.read_csv(run_dir(root, seed) / "0.monitor.csv", skiprows=1)
        assert monitor["l"].tolist() == [200] * (STEPS // 200)
        mine, ref = (torch.load(run_dir(r, seed) / "model.pt", weights_only=False)["actor"] for r in (root, reference))
        assert all(torch.equal(mine[k], ref[k]) for k in ref)
        assert not (run_dir(root, seed) / "checkpoints").exists()  # a complete run keeps none
        assert _files(run_dir(root, seed)) == _files(run_dir(reference, seed))


def fake_spec(seed: int = 0, spec_hash: str = "abc") -> SimpleNamespace:
    return SimpleNamespace(
        study="s",
        key=f"td3/Pendulum-v1_{seed}",
        spec_hash=lambda: spec_hash,
        run_dir=lambda root: Path(root) / "s" / "td3" / f"Pendulum-v1_{seed}",
    )


def snapshot_of(step: int) -> dict[str, bytes]:
    return {
        "meta.json": b'{"status": "running"}',
        "evals.csv": f"step\n{step}\n".encode(),
        f"checkpoints/step_{step:012d}.pt": bytes([step % 256]) * 1000,
    }


@pytest.mark.parametrize("uri", ["file://{tmp}/ckpt", "{tmp}/plain", "memory://ckpt-test"])
def test_uri_store_keeps_the_newest_snapshots_per_spec(tmp_path, uri):
    store = checkpoint.UriStore(uri.format(tmp=tmp_path))
    store.check()
    spec = fake_spec()
    assert store.newest(spec) is None
    for step in (400, 800, 1200):
        store.save(spec, step, snapshot_of(step))
    assert store.newest(spec) == (1200, snapshot_of(1200))
    assert [s for s, _ in store._archives(store._folder(spec))] == [800, 1200]  # the newest KEEP=2
    assert store.newest(fake_spec(spec_hash="other")) is None  # another spec of the same run
    with store.fs.open_output_stream(f"{store._folder(spec)}/step_{1600:012d}.tar") as out:
        out.write(b"cut short by a crash")
    assert store.newest(spec)[0] == 1200
    if not uri.startswith("memory"):  # a process of its own sees the same store
        assert pickle.loads(pickle.dumps(store)).newest(spec)[0] == 1200
    store.clear(spec)
    assert store.newest(spec) is None


def test_run_dir_store_writes_where_a_local_run_resumes(tmp_path):
    store, spec = checkpoint.RunDirStore(tmp_path), fake_spec()
    for step in (400, 800, 1200):
        store.save(spec, step, snapshot_of(step))
    folder = spec.run_dir(tmp_path)
    assert [s for s, _ in checkpoint.checkpoints(folder)] == [800, 1200]
    assert checkpoint.snapshot(folder) == (1200, snapshot_of(1200)) == store.newest(spec)
    store.clear(spec)
    assert store.newest(spec) is None and (folder / "evals.csv").exists()


def test_unknown_checkpoint_scheme_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"bogus:// is not a filesystem pyarrow or fsspec knows"):
        checkpoint.UriStore("bogus://bucket/ckpt")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["compare", "--backend", "ray", "--ray-address", "127.0.0.1:{port}"], "no Ray head answers there"),
        (["compare", "--backend", "ray", "--ray-address", "nonsense"], "expected host:port of the head node"),
        (["compare", "--backend", "ray", "--checkpoint-uri", "bogus://x"], "bogus:// is not a filesystem"),
        (["compare", "--checkpoint-uri", "{tmp}/ckpt"], "--checkpoint-uri applies to --backend ray"),
        (["tune", "--backend", "ray", "--ray-address", "127.0.0.1:{port}"], "needs --storage postgresql://"),
    ],
)
def test_backend_usage_errors(run_cli, tmp_path, argv, fragment):
    argv = [a.format(port=free_port(), tmp=tmp_path) for a in argv]
    extra = (
        ["--env", "Pendulum-v1", "--algos", "td3", "--dry-run", "--no-estimate"]
        if argv[0] == "compare"
        else ["--env", "Pendulum-v1", "--algo", "td3"]
    )
    code, _, err = run_cli(*argv, *extra, "--results", tmp_path)
    assert code == 2 and fragment in err, err


def test_compare_on_a_cluster_matches_a_local_run(cluster, reference, tmp_path):
    head, _ = cluster
    store = tmp_path / "shared-ckpt"
    out = subprocess.run(
        harness_cmd(
            "compare",
            *STUDY_ARGS,
            "--backend",
            "ray",
            "--results",
            tmp_path / "results",
            "--checkpoint-uri",
            f"file://{store}",
        ),
        env={**head.env, "RAY_ADDRESS": head.address},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert f"backend: the Ray cluster at {head.address}: 2 node(s), 2 CPU(s), 0 GPU(s)" in out.stdout
    assert "2 process(es) x 1 torch thread(s)" in out.stdout
    assert_same_as_reference(tmp_path / "results", reference)
    assert store.is_dir() and not list(store.rglob("*.tar"))  # used, and cleared once the runs completed


def test_a_worker_node_killed_mid_run(cluster, reference, tmp_path):
    head, node = cluster
    root = tmp_path / "results"
    proc = subprocess.Popen(
        harness_cmd("compare", *STUDY_ARGS, "--backend", "ray", "--results", root),
        env={**head.env, "RAY_ADDRESS": head.address},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        # Checkpoints reach the driver's results tree: both runs have one, so both are under way.
        if all(checkpoint.latest(run_dir(root, seed)) for seed in (0, 1)):
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    kill_marked([node])  # not the head: Ray attaches a driver (and so its Sink) to the head node of its host
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "so the task will be retried" in out + err  # Ray says so; the driver goes on
    metas = [json.loads((run_dir(root, seed) / "meta.json").read_text()) for seed in (0, 1)]
    resumed = [m["resumes"] for m in metas if "resumes" in m]
    assert len(resumed) == 1 and len(resumed[0]) == 1  # the run of the lost node, once
    assert resumed[0][0]["from_step"] >= EVERY and resumed[0][0]["from_step"] % 200 == 0
    lost = next(seed for seed, m in enumerate(metas) if "resumes" in m)
    resumed_at = out.index(
        f"start  td3/Pendulum-v1_{lost}  ({STEPS:,} steps, resumed at step {resumed[0][0]['from_step']:,})"
    )
    # One CPU left: the retried run waits for the other run, which never lent it its CPU.
    assert out.index(f"done   td3/Pendulum-v1_{1 - lost}") < resumed_at
    assert_same_as_reference(root, reference)


@pytest.mark.skipif(
    bindir() is None, reason="PostgreSQL is not installed (apt-get install postgresql; .ci/run installs it)"
)
def test_tune_workers_as_ray_tasks_share_a_postgresql_study(cluster, tmp_path):
    head, _ = cluster
    space = tmp_path / "space.yml"
    space.write_text("learning_rate: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}\n")
    with postgres_cluster() as url:
        out = subprocess.run(
            harness_cmd(
                *"tune --backend ray --jobs 2 --storage".split(),
                url,
                *"--env Pendulum-v1 --algo td3 --trials 3 --steps 400 --eval-freq 200 --eval-episodes 1 --hp net_arch=[16] --space".split(),
                space,
                *"--pruner none --study t --results".split(),
                tmp_path / "results",
                "--promote",
                "--tuned-dir",
                tmp_path / "tuned",
            ),
            env={**head.env, "RAY_ADDRESS": head.address},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stderr
        trials = optuna.load_study(study_name="t", storage=url).trials
    assert "2 node(s)" in out.stdout
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert 3 <= len(complete) <= 4  # a worker already in a trial when the third completes finishes it
    folder = tmp_path / "results" / "tuning" / "t"
    for trial in complete:  # every trial's run came back from the node that ran it
        meta = json.loads(
            (
                folder
                / f"trial_{trial.number:04d}"
                / "td3"
                / f"Pendulum-v1_{trial.user_attrs['seeds'][0]}"
                / "meta.json"
            ).read_text()
        )
        assert meta["status"] == "complete" and meta["result"]["final_return_mean"] == pytest.approx(trial.value)
    assert (folder / "summary.md").exists() and (tmp_path / "tuned" / "td3" / "Pendulum-v1.yml").exists()


def test_embedded_ray_matches_a_local_run(reference, tmp_path):
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    env = {**ray_env(), "RAY_TMPDIR": temp}
    try:
        out = subprocess.run(
            harness_cmd("compare", *STUDY_ARGS, *"--backend ray --jobs 2 --results".split(), tmp_path),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        kill_marked([temp])
        shutil.rmtree(temp, ignore_errors=True)
    assert out.returncode == 0, out.stderr
    assert "backend: Ray embedded on this machine: 1 node(s), 2 CPU(s)" in out.stdout
    assert_same_as_reference(tmp_path, reference)


def _files(run: Path) -> set[str]:
    """A run directory's file names; TensorBoard names its event files by time, host and pid."""
    return {"events.out.tfevents" if p.name.startswith("events.out.tfevents.") else p.name for p in run.iterdir()}


def test_a_seed_group_runs_as_one_task_on_the_cluster(cluster, tmp_path):
    """`--seed-groups 2` on the cluster: one task trains both members, and the runs are those of the
    same group run by the local process pool (a group's batched update rounds as one process's does)."""
    head, _ = cluster
    grouped = [*STUDY_ARGS, "--seed-groups", "2"]
    local = subprocess.run(
        harness_cmd("compare", *grouped, "--jobs", "1", "--results", tmp_path / "local"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert local.returncode == 0, local.stderr
    out = subprocess.run(
        harness_cmd("compare", *grouped, "--backend", "ray", "--progress", "log", "--results", tmp_path / "ray"),
        env={**head.env, "RAY_ADDRESS": head.address},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "seed groups: at most 2 runs per process; 1 group(s) (td3 on Pendulum-v1 seeds 0,1)" in out.stdout
    assert_same_as_reference(tmp_path / "ray", tmp_path / "local")
    for seed in (0, 1):
        meta = json.loads((run_dir(tmp_path / "ray", seed) / "meta.json").read_text())
        assert meta["seed_group"] == ["td3/Pendulum-v1_0", "td3/Pendulum-v1_1"]
