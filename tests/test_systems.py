"""Every system README's table lists runs through `compare` end to end: Box2D, MuJoCo, PyBullet.

Each compare is the smoke protocol cut to tiny networks and 1,000 steps (the harness's
minimum): what is checked is that every default arm trains and is evaluated on the env
through the same factory, not that it learns. The PyBullet envs need the optional extra
`bullet`; without it their test is skipped and the error a user would see is checked instead.
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ARMS = ("td3", "sb3-td3", "sb3-ddpg")
HAS_BULLET = all(importlib.util.find_spec(m) for m in ("pybullet", "pybullet_envs_gymnasium", "gym"))
needs_bullet = pytest.mark.skipif(
    not HAS_BULLET,
    reason="the optional extra 'bullet' is not installed (make venv EXTRAS=dev,bullet); .ci/run installs it",
)


def smoke_compare(root: Path, envs: tuple[str, ...], study: str) -> subprocess.CompletedProcess:
    hp = root / "tiny.yml"
    hp.write_text("all:\n  all:\n    net_arch: [16, 16]\n    batch_size: 32\n    buffer_size: 2000\n")
    args = [
        "compare",
        "--env",
        ",".join(envs),
        *"--budget smoke --steps 1000 --eval-freq 1000 --eval-episodes 1 --seeds 1 --jobs 2 --hp-file".split(),
        str(hp),
        "--results",
        str(root),
        "--study",
        study,
        *"--progress quiet --no-estimate --no-report".split(),
    ]
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, timeout=900)


def check_study(root: Path, study: str, envs: tuple[str, ...]) -> None:
    for env in envs:
        for arm in ARMS:
            run = root / study / arm / f"{env}_0"
            evals = pd.read_csv(run / "evals.csv")
            assert evals["step"].tolist() == [0, 1000], (arm, env)
            assert np.isfinite(evals["return_mean"]).all()
            assert (run / "evaluations.npz").exists() and (run / "0.monitor.csv").exists()


@pytest.mark.systems
def test_box2d_and_mujoco_envs_run_through_compare(tmp_path):
    envs = ("BipedalWalker-v3", "BipedalWalkerHardcore-v3", "Hopper-v5", "Walker2d-v5")
    out = smoke_compare(tmp_path, envs, "systems")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    check_study(tmp_path, "systems", envs)
    # MuJoCo v5 envs take the zoo's v4 entry, and say so in the plan.
    assert "td3.yml [Hopper-v4 for Hopper-v5]" in out.stdout


@needs_bullet
@pytest.mark.systems
def test_pybullet_envs_run_through_compare(tmp_path):
    envs = ("Walker2DBulletEnv-v0", "MinitaurBulletEnv-v0")
    out = smoke_compare(tmp_path, envs, "bullet")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    check_study(tmp_path, "bullet", envs)


@needs_bullet
def test_minitaur_adapter_speaks_gymnasium_and_repeats_seeded_episodes():
    from gymnasium.utils.env_checker import check_env

    from harness.run.envs import make_env

    env = make_env("MinitaurBulletEnv-v0")
    check_env(env.unwrapped, skip_render_check=True)
    assert env.spec.max_episode_steps == 1000 and env.spec.reward_threshold == 15.0

    def rollout(seed: int) -> tuple[np.ndarray, list[float]]:
        obs, _ = env.reset(seed=seed)
        rng, rewards = np.random.default_rng(0), []
        for _ in range(20):
            obs, reward, _terminated, truncated, _ = env.step(rng.uniform(-1, 1, 8).astype(np.float32))
            assert obs.dtype == np.float32 and isinstance(reward, float) and truncated is False
            rewards.append(reward)
        return obs, rewards

    first, again, other = rollout(7), rollout(7), rollout(8)
    assert np.array_equal(first[0], again[0]) and first[1] == again[1]
    assert first[1] != other[1]  # the seed draws the robot's masses, voltage, damping and friction


def test_a_missing_extra_is_named(tmp_path):
    """A bullet env without the extra: exit 2 and the pip command, not a traceback."""
    fake = tmp_path / "pybullet_envs_gymnasium"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'pybullet'\", name='pybullet')\n")
    out = subprocess.run(
        [
            sys.executable,
            *"-m harness compare --env Walker2DBulletEnv-v0 --dry-run --no-estimate --results".split(),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)},
    )
    assert out.returncode == 2, out.stderr
    assert "optional extra 'bullet'" in out.stderr and "pip install -e '.[bullet]'" in out.stderr
    assert "missing: pybullet" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.skipif(
    ctypes.util.find_library("EGL") is None,
    reason="no libEGL: MuJoCo cannot render headless "
    "(Debian: apt-get install libegl1 libegl-mesa0; .ci/run installs them)",
)
def test_mujoco_renders_headless():
    from harness.run.envs import make_env

    env = make_env("Hopper-v5", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (480, 480, 3) and frame.std() > 10  # a scene, not a blank buffer
    env.close()


@pytest.mark.systems
@pytest.mark.parametrize("env_id", ["Hopper-v5", pytest.param("MinitaurBulletEnv-v0", marks=needs_bullet)])
def test_tune_runs_on_the_new_systems(run_cli, tmp_path, env_id):
    space = tmp_path / "space.yml"
    space.write_text("learning_rate: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}\n")
    code, _out, err = run_cli(
        "tune",
        "--env",
        env_id,
        *"--algo td3 --trials 2 --steps 1000 --eval-freq 1000 --eval-episodes 1 --space".split(),
        space,
        "--results",
        tmp_path / "results",
        "--promote",
        "--tuned-dir",
        tmp_path / "tuned",
        *"--study sys --pruner none --hp net_arch=[16,16] --hp batch_size=32".split(),
    )
    assert code == 0, err
    tuned = yaml.safe_load((tmp_path / "tuned" / "td3" / f"{env_id}.yml").read_text())
    assert set(tuned["hyperparameters"]) == {"learning_rate"} and tuned["provenance"]["trials"]["complete"] == 2
