"""n-step accumulator: returns by hand at termination and truncation, n = 1, wrap-around in a
buffer, checkpoints, and parity with Stable-Baselines3's NStepReplayBuffer."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.buffers import NStepReplayBuffer

from custom_td3.nstep import NStepAccumulator, Transition
from custom_td3.replay import ReplayBuffer


def obs_at(t: int) -> np.ndarray:
    return np.array([t, -t], dtype=np.float64)


def run_episode(acc: NStepAccumulator, rewards: list[float], end: str, t0: int = 0) -> list[list[Transition]]:
    """Push one episode of len(rewards) steps (observations obs_at(t0 + k)) ending with ``end``
    ('terminated', 'truncated' or 'open'); return what each push returned."""
    out = []
    for k, reward in enumerate(rewards):
        last = k == len(rewards) - 1
        t = t0 + k
        terminated, truncated = last and end == "terminated", last and end == "truncated"
        out.append(acc.push(obs_at(t), np.array([t / 10]), reward, obs_at(t + 1), terminated, truncated))
    return out


def as_tuples(transitions: list[Transition]) -> list[tuple]:
    return [(t.obs[0], t.action[0], t.reward, t.next_obs[0], t.done, t.discount) for t in transitions]


@pytest.mark.parametrize("end", ["terminated", "truncated"])
def test_three_step_returns_by_hand(end: str):
    acc = NStepAccumulator(n_steps=3, gamma=0.5)
    pushes = run_episode(acc, [1.0, 2.0, 4.0, 8.0], end)
    assert [len(p) for p in pushes] == [0, 0, 1, 3]
    done = end == "terminated"  # truncation: bootstrap from the final observation, done False
    assert as_tuples(pushes[2] + pushes[3]) == [
        # (s_t, a_t, R, s', done, gamma**K)
        (0, 0.0, 1 + 0.5 * 2 + 0.25 * 4, 3, False, 0.125),  # a full window ends before the episode does
        (1, 0.1, 2 + 0.5 * 4 + 0.25 * 8, 4, done, 0.125),
        (2, 0.2, 4 + 0.5 * 8, 4, done, 0.25),  # partial windows: K = 2, then K = 1
        (3, 0.3, 8.0, 4, done, 0.5),
    ]


def test_episode_shorter_than_n_and_the_next_episode_starts_clean():
    acc = NStepAccumulator(n_steps=5, gamma=0.9)
    first = run_episode(acc, [1.0, 1.0], "truncated")
    assert as_tuples(first[1]) == [(0, 0.0, 1.9, 2, False, 0.81), (1, 0.1, 1.0, 2, False, 0.9)]
    second = run_episode(acc, [3.0], "terminated", t0=10)
    assert as_tuples(second[0]) == [(10, 1.0, 3.0, 11, True, 0.9)]


def test_one_step_is_the_plain_transition():
    acc = NStepAccumulator(n_steps=1, gamma=0.99)
    pushes = run_episode(acc, [0.5, -1.5], "terminated") + run_episode(acc, [2.0], "truncated", t0=5)
    assert [as_tuples(p) for p in pushes] == [
        [(0, 0.0, 0.5, 1, False, 0.99)],
        [(1, 0.1, -1.5, 2, True, 0.99)],
        [(5, 0.5, 2.0, 6, False, 0.99)],
    ]


def test_accumulator_feeding_a_small_buffer_across_wraparound():
    acc = NStepAccumulator(n_steps=2, gamma=0.5)
    buffer = ReplayBuffer(3, 2, 1, np.random.default_rng(0))
    rewards = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    pushes = run_episode(acc, rewards[:4], "terminated") + run_episode(acc, rewards[4:], "open", t0=4)
    for transitions in pushes:
        for tr in transitions:
            buffer.add(tr.obs, tr.action, tr.reward, tr.next_obs, tr.done, tr.discount)
    # Stored in order: steps 0, 1, 2, 3 (episode end), 4, 5 (step 6 waits for its window):
    # six transitions in three slots, so steps 3, 4, 5 remain, at slots 0, 1, 2.
    assert (len(buffer), buffer.pos) == (3, 0)
    assert buffer.observations[:, 0].tolist() == [3.0, 4.0, 5.0]
    assert buffer.rewards[:, 0].tolist() == [8.0, 16 + 0.5 * 32, 32 + 0.5 * 64]
    assert buffer.next_observations[:, 0].tolist() == [4.0, 6.0, 7.0]
    assert buffer.dones[:, 0].tolist() == [1.0, 0.0, 0.0]
    assert buffer.discounts[:, 0].tolist() == [0.5, 0.25, 0.25]


def test_state_dict_round_trip_resumes_the_window():
    acc = NStepAccumulator(n_steps=3, gamma=0.5)
    run_episode(acc, [1.0, 2.0], "open")
    state = acc.state_dict()
    run_episode(acc, [100.0], "terminated", t0=2)  # must not leak into the saved state
    restored = NStepAccumulator(n_steps=3, gamma=0.5)
    restored.load_state_dict(state)
    pushes = run_episode(restored, [4.0], "terminated", t0=2)
    assert as_tuples(pushes[0]) == [
        (0, 0.0, 1 + 0.5 * 2 + 0.25 * 4, 3, True, 0.125),
        (1, 0.1, 2 + 0.5 * 4, 3, True, 0.25),
        (2, 0.2, 4.0, 3, True, 0.5),
    ]
    with pytest.raises(ValueError, match="n_steps = 3, this accumulator has 2"):
        NStepAccumulator(n_steps=2, gamma=0.5).load_state_dict(state)
    with pytest.raises(ValueError, match="n_steps = 0"):
        NStepAccumulator(n_steps=0, gamma=0.5)


def test_parity_with_stable_baselines3_nstep_replay_buffer():
    """Same stream into SB3 (n-step at sample time) and into our accumulator + buffer (n-step at
    storage time): every transition of a completed episode must match SB3's _get_samples."""
    n_steps, gamma, obs_dim, act_dim = 3, 0.9, 4, 2
    rng = np.random.default_rng(7)
    # Episodes: (length, how it ends). Short ones test partial windows; the last stays open.
    episodes = [
        (6, "terminated"),
        (5, "truncated"),
        (2, "terminated"),
        (1, "truncated"),
        (4, "truncated"),
        (7, "terminated"),
        (3, "open"),
    ]
    observation_space = spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
    action_space = spaces.Box(-1, 1, (act_dim,), np.float32)
    sb3 = NStepReplayBuffer(
        100,
        observation_space,
        action_space,
        device="cpu",
        n_envs=1,
        handle_timeout_termination=True,
        n_steps=n_steps,
        gamma=gamma,
    )
    acc = NStepAccumulator(n_steps, gamma)
    ours = ReplayBuffer(100, obs_dim, act_dim, np.random.default_rng(0))
    completed = 0
    for length, end in episodes:
        obs = rng.normal(size=obs_dim).astype(np.float32)
        for k in range(length):
            action = rng.uniform(-1, 1, size=act_dim).astype(np.float32)
            # Positive rewards: no cancellation, so SB3's float32 sums and our float64 ones
            # agree to rtol 1e-6.
            reward = float(np.float32(rng.uniform(0.5, 2.0)))
            next_obs = rng.normal(size=obs_dim).astype(np.float32)
            terminated = k == length - 1 and end == "terminated"
            truncated = k == length - 1 and end == "truncated"
            sb3.add(
                obs[None],
                next_obs[None],
                action[None],
                np.array([reward]),
                np.array([terminated or truncated]),
                [{"TimeLimit.truncated": truncated}],
            )
            for tr in acc.push(obs, action, reward, next_obs, terminated, truncated):
                ours.add(tr.obs, tr.action, tr.reward, tr.next_obs, tr.done, tr.discount)
            obs = next_obs
        if end != "open":
            completed += length
    assert completed == 25 and len(ours) == 25 + 1  # the open episode's first window is complete too
    # Our slot i holds the transition starting at stream step i, as SB3's index i does.
    indices = np.arange(completed)
    expected = sb3._get_samples(indices)
    np.testing.assert_array_equal(ours.observations[:completed], expected.observations.numpy())
    np.testing.assert_array_equal(ours.actions[:completed], expected.actions.numpy())
    np.testing.assert_allclose(ours.rewards[:completed], expected.rewards.numpy(), rtol=1e-6, atol=0)
    np.testing.assert_allclose(ours.discounts[:completed], expected.discounts.numpy(), rtol=1e-6, atol=0)
    np.testing.assert_array_equal(ours.dones[:completed], expected.dones.numpy())
    np.testing.assert_array_equal(ours.next_observations[:completed], expected.next_observations.numpy())
    # The stream exercised every case: full windows, partial ones, both kinds of episode end.
    assert np.unique(ours.discounts[:completed]).tolist() == [np.float32(g) for g in (0.729, 0.81, 0.9)]
    assert ours.dones[:completed].sum() == 3 + 2 + 3  # windows ending at the three terminations
