"""``enjoy`` and ``record``: watch any arm's saved model act, from its run directory alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness import results
from harness.agents import get_arm
from harness.envs import make_env
from harness.errors import UsageError
from harness.spec import EVAL_SEED


def load_run(run_dir: Path, render_mode: str | None = None):
    """(agent, env, meta) for a run directory holding meta.json and its model file."""
    run_dir = Path(run_dir)
    meta = results.read_meta(run_dir)
    if meta is None:
        raise UsageError(f"{run_dir}: no readable meta.json; expected a run directory results/<study>/<arm>/<env>_<seed>")
    model = (meta.get("result") or {}).get("model")
    if model is None or not (run_dir / model).exists():
        raise UsageError(f"{run_dir}: no saved model (status {meta.get('status')}); only complete runs have one")
    spec = meta["spec"]
    env = make_env(spec["env_id"], render_mode=render_mode)
    agent = get_arm(spec["arm"]).load(run_dir / model, env, "cpu")
    return agent, env, meta


def enjoy(run_dir: Path, episodes: int = 5) -> np.ndarray:
    """Returns of ``episodes`` deterministic episodes, on the evaluation protocol's episode seeds."""
    agent, env, _ = load_run(run_dir)
    returns = np.zeros(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED + i)
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.predict(obs, deterministic=True))
            returns[i] += float(reward)
            done = terminated or truncated
    env.close()
    return returns


def record(run_dir: Path, out_dir: Path | None = None, episodes: int = 1, gif_every: int = 3,
           gif_width: int = 300) -> tuple[Path, Path, float]:
    """An mp4 of ``episodes`` deterministic episodes (gymnasium RecordVideo) and a small GIF of the
    first (every ``gif_every``-th frame, ``gif_width`` pixels wide); returns (mp4, gif, first return)."""
    import imageio.v2 as imageio
    from gymnasium.wrappers import RecordVideo
    from PIL import Image

    agent, env, meta = load_run(run_dir, render_mode="rgb_array")
    name = f"{meta['spec']['arm']}-{meta['spec']['env_id'].rpartition(':')[2]}-{meta['spec']['seed']}"
    out_dir = Path(out_dir or Path(run_dir) / "videos")
    env = RecordVideo(env, str(out_dir), name_prefix=name, episode_trigger=lambda i: i < episodes,
                      disable_logger=True)
    frames, first_return = [], 0.0
    for i in range(episodes):
        obs, _ = env.reset(seed=EVAL_SEED + i)
        done, total, t = False, 0.0, 0
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.predict(obs, deterministic=True))
            total += float(reward)
            done = terminated or truncated
            if i == 0 and t % gif_every == 0:
                frame = Image.fromarray(env.render())
                frames.append(np.asarray(frame.resize((gif_width, int(frame.height * gif_width / frame.width)))))
            t += 1
        first_return = total if i == 0 else first_return
    env.close()
    gif = out_dir / f"{name}.gif"
    imageio.mimsave(gif, frames, duration=gif_every / 50, loop=0)
    mp4 = sorted(out_dir.glob(f"{name}-episode-*.mp4"))[0]
    return mp4, gif, first_return
