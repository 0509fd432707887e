"""make bench's arithmetic and measurements, on tiny budgets (speed itself is measured by make bench, not here)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.run import bench, matmul

ROOT = Path(__file__).resolve().parent.parent


def test_summary_ratios_are_medians_of_per_round_ratios():
    rates = {
        ("sb3-td3", 1, "default"): [50.0, 100.0, 60.0],
        ("td3 uniform 1-step", 1, "default"): [60.0, 110.0, 90.0],  # ratios 1.2, 1.1, 1.5 -> 1.2
        ("td3 PER 3-step", 1, "default"): [30.0, 55.0, 45.0],  # half of uniform in every round
        (bench.SBX, 1, "jax"): [40.0, 100.0, 100.0],  # ours/SBX: 1.5, 1.1, 0.9 -> 1.1
        ("td3 uniform 1-step, bf16", 1, "default"): [90.0, 165.0, 99.0],  # 1.5, 1.5, 1.1 -> 1.5
        ("sb3-td3, bf16", 1, "default"): [80.0, 100.0, 120.0],  # 1.6, 1.0, 2.0 -> 1.6
    }
    lines = bench.summary(rates, "Pendulum-v1", "default", floor=(2.0, 5.0))
    words = [" ".join(line.split()) for line in lines]
    assert "median td3 uniform 1-step, 1 thread, default 90.0 env steps/s (1.20x sb3-td3 default)" in words
    assert "PER + 3-step cost vs uniform 1-step (default, 1 thread): +100.0% time per step" in lines
    assert "ours vs SBX at 1 thread: 1.10x" in lines
    assert "bf16 updates vs fp32 (default, 1 thread): td3 uniform 1-step 1.50x, sb3-td3 1.60x env steps/s" in lines
    assert any(
        line.startswith("matmul floor (default, 1 thread): the update's matrix products take 2.00 ms of its 5.00 ms")
        for line in lines
    )
    assert lines[-1] == "speedup_vs_sb3: 1.20"


def test_measurements_run_on_the_backend_asked_and_restore_the_previous_one():
    before = matmul.current()
    for backend in matmul.available():
        rate = bench.measure(
            "td3",
            {"prioritized": False, "n_steps": 1},
            "Pendulum-v1",
            warmup=100,
            steps=50,
            threads=1,
            seed=0,
            backend=backend,
        )
        assert rate > 0 and matmul.current() == before


def test_the_matmul_floor_is_part_of_the_update():
    products, update = bench.matmul_floor("Pendulum-v1", "default", threads=1, updates=10)
    assert 0 < products < update


def test_sbx_takes_sb3_td3s_settings():
    if not bench.sbx_available():
        pytest.skip("SBX is not installed (make venv EXTRAS=dev,sbx)")
    kwargs = bench.sbx_kwargs("BipedalWalker-v3")
    assert kwargs["policy_kwargs"] == {"net_arch": [400, 300]}
    assert (kwargs["batch_size"], kwargs["policy_delay"], kwargs["target_noise_clip"], kwargs["gamma"]) == (
        256,
        2,
        0.5,
        0.98,
    )
    assert kwargs["action_noise"] is not None


def test_a_bf16_measurement_runs_the_updates_in_bf16(monkeypatch):
    from custom_td3.td3 import TD3

    seen = []
    monkeypatch.setattr(TD3, "set_precision", lambda self, precision: seen.append(precision))
    bench.measure("td3", {}, "Pendulum-v1", warmup=100, steps=20, threads=1, seed=0, precision="bf16")
    assert seen == ["bf16"]


def test_a_rate_per_cpu_second_counts_the_process_work_not_the_wait(monkeypatch):
    import time

    clock = {"wall": 0.0, "cpu": 0.0}

    def wall():  # the wall-clock runs four times faster than the process's CPU time: a busy machine
        clock["wall"] += 4e-3
        return clock["wall"]

    def cpu():
        clock["cpu"] += 1e-3
        return clock["cpu"]

    monkeypatch.setattr(time, "perf_counter", wall)
    monkeypatch.setitem(bench.CLOCKS, "wall", wall)
    monkeypatch.setitem(bench.CLOCKS, "cpu", cpu)
    rates = {
        c: bench.measure("td3", {}, "Pendulum-v1", warmup=100, steps=20, threads=1, seed=0, clock=c)
        for c in bench.CLOCKS
    }
    assert rates["cpu"] == pytest.approx(4 * rates["wall"])


def test_group_summary_gives_totals_per_member_and_paired_ratios():
    rates = {1: [50.0, 40.0, 60.0], 4: [100.0, 120.0, 90.0]}  # ratios 2.0, 3.0, 1.5 -> 2.0
    lines = [" ".join(line.split()) for line in bench.group_summary(rates, 1, "default")]
    assert lines[0] == (
        "median seed group of 1 50.0 env steps/s in total, 50.0 per member (1.00x the group of 1; cpu, 1 thread, default)"
    )
    assert lines[1].startswith("median seed group of 4 100.0 env steps/s in total, 25.0 per member (2.00x the group")
    alone = {bench.ALONE: [40.0, 60.0, 45.0], **rates}  # against one seed alone: 2.5, 2.0, 2.0 -> 2.0 for 4
    lines = [" ".join(line.split()) for line in bench.group_summary(alone, 1, "default", "cuda")]
    assert lines[0] == "median one seed alone (TD3.learn) 45.0 env steps/s"
    assert "(2.00x one seed alone; cuda, 1 thread, default)" in lines[2]


def test_a_seed_group_is_measured_per_member_and_in_total():
    rate = bench.measure_group("Pendulum-v1", 2, warmup=100, steps=20, threads=1, seed=0)
    assert rate > 0


def test_the_batched_update_is_checked_on_the_device_of_the_groups():
    gaps = bench.group_update_gaps("cpu")
    assert set(gaps) == {"uniform", "PER", "3-step"}
    assert all(0 < gap <= bench.GROUP_CHECK_RTOL for gap in gaps.values()), gaps  # rounded otherwise, closely


def test_group_bench_refuses_a_device_it_cannot_use(run_cli, monkeypatch):
    code, _, err = run_cli("bench", "--device", "cuda")
    assert code == 2 and "--device cuda: applies to --groups only" in err
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    code, _, err = run_cli("bench", "--groups", "1,2", "--device", "cuda")
    assert code == 2 and "--device cuda: torch" in err and "sees no CUDA device" in err


def test_group_bench_measures_nothing_when_the_batched_update_is_off(run_cli, monkeypatch):
    monkeypatch.setattr(bench, "group_update_gaps", lambda device: {"uniform": 1e-7, "PER": 3e-3, "3-step": 1e-7})
    monkeypatch.setattr(bench, "run_groups", lambda *a, **k: pytest.fail("measured despite the failed check"))
    code, out, err = run_cli("bench", "--groups", "1,2", "--env", "Pendulum-v1")
    assert code == 1 and "PER 0.003" in out and "(not within 1e-05)" in out
    assert "the batched update is off on cpu for PER: no speed is measured" in err


@pytest.mark.long
def test_the_gpu_script_checks_then_measures_on_the_cpu(tmp_path):
    """.ci/gpu-groups, the one call a GPU machine gets, run here on the CPU with small sizes."""
    env = {**os.environ, "PYTHON": sys.executable, "DEVICE": "cpu", "SIZES": "1,2", "STEPS": "20", "WARMUP": "100"}
    done = subprocess.run(
        ["bash", ".ci/gpu-groups", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "gpu-groups.txt").read_text()
    assert "BipedalWalker-v3: seed groups of 1, 2 members of our TD3" in text
    assert "check on cpu: a group of 3's batched update against each member's own train()" in text
    assert "(within 1e-05)" in text and "median  seed group of 2" in text and "x one seed alone; cpu, 1 thread" in text
    assert "median  one seed alone (TD3.learn)" in text
