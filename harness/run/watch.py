"""``enjoy`` and ``record``: watch any arm's saved model act, from its run directory alone."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import ArrayLike

from harness.agents import get_arm
from harness.config.schema import build_config
from harness.errors import UsageError
from harness.run import checkpoint, rundir
from harness.run.envs import make_env
from harness.run.evaluator import rollout
from harness.run.record import RunRecord
from harness.run.spec import EVAL_SEED


def load_run(run_dir: Path, render_mode: str | None = None) -> tuple[Any, gym.Env, RunRecord, str]:
    """(agent, env, record, what acts) for a run directory holding meta.json and its model file.

    A run without a final model yet (still training, interrupted, stopped) acts with the policy
    of its newest checkpoint, so a long run can be watched while it trains; the last element says
    which of the two was loaded.
    """
    run_dir = Path(run_dir)
    meta = rundir.read_record(run_dir)
    if meta is None:
        raise UsageError(
            f"{run_dir}: no readable meta.json; expected a run directory results/<study>/<arm>/<env>_<seed>"
        )
    spec = meta.spec
    arm = get_arm(spec["arm"])
    env = make_env(spec["env_id"], render_mode=render_mode)
    model = meta.result.model if meta.result else None
    if model is not None and (run_dir / model).exists():
        try:
            return arm.load(run_dir / model, env, "cpu"), env, meta, f"final model {model}"
        except Exception as exc:  # garbage, a file cut short, or one holding code: named, never run
            env.close()
            raise UsageError(f"{run_dir / model}: cannot load this model ({_cause(exc)})") from None
    newest = checkpoint.newest_loadable(run_dir)
    if newest.step is None or newest.state is None:
        env.close()
        unreadable = f"; checkpoints that do not load: {'; '.join(newest.skipped)}" if newest.skipped else ""
        raise UsageError(
            f"{run_dir}: no saved model and no checkpoint that loads (status {meta.status}){unreadable}; "
            "complete runs have a model, runs in progress a checkpoint after their first minutes"
        )
    config: Any = build_config(arm.config_cls, spec["hyperparameters"], f"{run_dir}/meta.json [spec.hyperparameters]")
    agent = arm.build(env, config, spec["seed"], "cpu")
    arm.capabilities.checkpointable(agent).load_state_dict(newest.state["agent"])
    skipped = f"; skipped, not loadable: {'; '.join(newest.skipped)}" if newest.skipped else ""
    return agent, env, meta, f"checkpoint at step {newest.step:,} (no final model yet, status {meta.status}){skipped}"


def _cause(exc: BaseException) -> str:
    """One line: torch's refusal reduced to its reason (never its advice to load with weights_only=False)."""
    return checkpoint.unreadable_cause(exc)


def enjoy(run_dir: Path, episodes: int = 5, say: Callable[[str], None] = lambda line: None) -> np.ndarray:
    """Returns of ``episodes`` deterministic episodes, on the evaluation protocol's episode seeds;
    ``say`` hears which policy acts (the final model or a checkpoint)."""
    agent, env, _, watched = load_run(run_dir)
    say(f"acting: {watched}")
    returns = np.array(
        [rollout(env, lambda obs: agent.predict(obs, deterministic=True), EVAL_SEED + i)[0] for i in range(episodes)]
    )
    env.close()
    return returns


def record(
    run_dir: Path,
    out_dir: Path | None = None,
    episodes: int = 1,
    gif_every: int = 3,
    gif_width: int = 300,
    say: Callable[[str], None] = lambda line: None,
) -> tuple[Path, Path, float]:
    """An mp4 of ``episodes`` deterministic episodes (gymnasium RecordVideo) and a small GIF of the
    first (every ``gif_every``-th frame, ``gif_width`` pixels wide); returns (mp4, gif, first return)."""
    import imageio.v2 as imageio
    from gymnasium.wrappers import RecordVideo
    from PIL import Image

    out_dir = Path(out_dir or Path(run_dir) / "videos")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(
            f"--out {out_dir}: cannot write there ({exc.strerror or exc}); choose another folder"
        ) from None
    agent, env, meta, watched = load_run(run_dir, render_mode="rgb_array")
    say(f"acting: {watched}")
    name = f"{meta.spec['arm']}-{meta.spec['env_id'].rpartition(':')[2]}-{meta.spec['seed']}"
    env = RecordVideo(env, str(out_dir), name_prefix=name, episode_trigger=lambda i: i < episodes, disable_logger=True)
    frames: list[ArrayLike] = []

    def gif_frame(env: gym.Env, t: int) -> None:
        if t % gif_every == 0:
            frame = Image.fromarray(np.asarray(env.render()))
            frames.append(np.asarray(frame.resize((gif_width, int(frame.height * gif_width / frame.width)))))

    policy = lambda obs: agent.predict(obs, deterministic=True)  # noqa: E731
    first_return = rollout(env, policy, EVAL_SEED, on_step=gif_frame)[0]
    for i in range(1, episodes):
        rollout(env, policy, EVAL_SEED + i)
    env.close()
    gif = out_dir / f"{name}.gif"
    imageio.mimsave(gif, frames, duration=gif_every / 50, loop=0)
    mp4 = sorted(out_dir.glob(f"{name}-episode-*.mp4"))[0]
    return mp4, gif, first_return
