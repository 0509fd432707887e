"""Replay buffers: layout, circular overwrite, memory, PER probabilities and weights, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from custom_td3.replay import Batch, PrioritizedReplayBuffer, ReplayBuffer

OBS_DIM, ACT_DIM = 3, 2


def fill(buffer: ReplayBuffer, count: int, start: int = 0) -> None:
    """Transition k has obs = [k, k+0.5, k+0.25], action = [k/100, -k/100], reward k, etc."""
    for k in range(start, start + count):
        buffer.add(
            obs=np.array([k, k + 0.5, k + 0.25]),
            action=np.array([k / 100, -k / 100]),
            reward=float(k),
            next_obs=np.array([k + 1, k + 1.5, k + 1.25]),
            done=k % 3 == 0,
            discount=0.9 ** (1 + k % 3),
        )


def assert_batches_equal(a: Batch, b: Batch) -> None:
    assert np.array_equal(a.indices, b.indices)
    for name in Batch._fields[:-1]:
        assert torch.equal(getattr(a, name), getattr(b, name)), name


def test_uniform_batch_layout_and_contents():
    buffer = ReplayBuffer(10, OBS_DIM, ACT_DIM, np.random.default_rng(0))
    fill(buffer, 6)
    assert len(buffer) == 6
    batch = buffer.sample(32)
    shapes = {"observations": (32, 3), "actions": (32, 2), "next_observations": (32, 3)}
    for name in Batch._fields[:-1]:
        tensor = getattr(batch, name)
        assert tensor.dtype == torch.float32 and tensor.shape == shapes.get(name, (32, 1)), name
    assert batch.indices.dtype == np.int64 and batch.indices.shape == (32,)
    assert set(batch.indices.tolist()) <= set(range(6))
    k = torch.from_numpy(batch.indices).float().unsqueeze(1)
    assert torch.equal(batch.observations, torch.cat([k, k + 0.5, k + 0.25], dim=1))
    assert torch.equal(batch.actions, torch.cat([k / 100, -k / 100], dim=1).float())
    assert torch.equal(batch.rewards, k)
    assert torch.equal(batch.next_observations, batch.observations + 1)
    assert torch.equal(batch.dones, (k % 3 == 0).float())
    # Discounts come back as stored (float32 of 0.9**j), not recomputed.
    expected = torch.tensor([[np.float32(0.9 ** (1 + j % 3))] for j in batch.indices.tolist()])
    assert torch.equal(batch.discounts, expected)
    assert torch.equal(batch.weights, torch.ones(32, 1))
    assert torch.equal(buffer.sample(4, beta=0.3).weights, torch.ones(4, 1))  # beta is ignored
    buffer.update_priorities(batch.indices, np.ones(32))  # a no-op, accepted


def test_uniform_wraparound_overwrites_the_oldest():
    buffer = ReplayBuffer(4, OBS_DIM, ACT_DIM, np.random.default_rng(0))
    fill(buffer, 6)  # transitions 0..5 into 4 slots: 4 and 5 overwrite 0 and 1
    assert (len(buffer), buffer.pos) == (4, 2)
    assert buffer.rewards[:, 0].tolist() == [4.0, 5.0, 2.0, 3.0]
    assert buffer.observations[:, 0].tolist() == [4.0, 5.0, 2.0, 3.0]
    drawn = buffer.sample(400)
    assert set(drawn.rewards[:, 0].tolist()) == {2.0, 3.0, 4.0, 5.0}


def test_one_million_bipedal_walker_transitions_fit_well_under_a_gibibyte():
    """1e6 * (24 + 24 + 4 + 3) * 4 B = 220,000,000 B (209.8 MiB) uniform; PER adds a
    2**21 - 1 node float64 sum tree (16,777,208 B): 236,777,208 B (225.8 MiB). numpy's zeros
    are lazily mapped, so allocating them here costs nothing until written."""
    uniform = ReplayBuffer(1_000_000, 24, 4, np.random.default_rng(0))
    assert uniform.nbytes == 220_000_000
    prioritized = PrioritizedReplayBuffer(1_000_000, 24, 4, np.random.default_rng(0))
    assert prioritized.nbytes == 236_777_208 < 2**30 // 4
    assert all(getattr(uniform, f).dtype == np.float32 for f in ReplayBuffer._FIELDS)


def exact_priorities_buffer(rng_seed: int = 0) -> PrioritizedReplayBuffer:
    """Four transitions with priorities p**alpha = [1, 2, 3, 4] exactly (alpha = 0.5).

    eps = 2**-20 and |td| = k**2 - eps make |td| + eps = k**2 exactly in float64.
    """
    rng = np.random.default_rng(rng_seed)
    buffer = PrioritizedReplayBuffer(8, OBS_DIM, ACT_DIM, rng, alpha=0.5, eps=2**-20)
    fill(buffer, 4)
    signs = np.array([1.0, -1.0, 1.0, -1.0])
    buffer.update_priorities(np.arange(4), signs * (np.array([1.0, 4.0, 9.0, 16.0]) - 2**-20))
    assert buffer.tree.get(np.arange(4)).tolist() == [1.0, 2.0, 3.0, 4.0]
    return buffer


def test_per_new_transitions_enter_at_max_priority():
    buffer = PrioritizedReplayBuffer(8, OBS_DIM, ACT_DIM, np.random.default_rng(0), alpha=0.5)
    fill(buffer, 2)
    assert buffer.tree.get(np.arange(2)).tolist() == [1.0, 1.0]  # max priority starts at 1
    buffer = exact_priorities_buffer()
    assert buffer.max_priority == 16.0
    fill(buffer, 1, start=4)
    assert buffer.tree.get(np.arange(5)).tolist() == [1.0, 2.0, 3.0, 4.0, 4.0]  # 16 ** 0.5
    buffer.update_priorities(np.array([0]), np.array([0.0]))  # lower errors leave the max alone
    fill(buffer, 1, start=5)
    assert buffer.tree.get(np.array([0, 5])).tolist() == [2**-10, 4.0]


def test_per_weights_and_update_priorities_by_hand():
    buffer = PrioritizedReplayBuffer(8, OBS_DIM, ACT_DIM, np.random.default_rng(0), alpha=0.5)
    fill(buffer, 4)
    # Equal priorities: four strata of [0, 4) hold one slot each, weights are all 1.
    batch = buffer.sample(4, beta=0.4)
    assert batch.indices.tolist() == [0, 1, 2, 3]
    assert torch.equal(batch.weights, torch.ones(4, 1))
    buffer = exact_priorities_buffer()
    # Total 10 in 10 strata of width 1: slot i (mass i+1) owns exactly i+1 strata, whatever the draws.
    batch = buffer.sample(10, beta=1.0)
    assert batch.indices.tolist() == [0, 1, 1, 2, 2, 2, 3, 3, 3, 3]
    # w_i = (N P(i))**-beta / max w = (p_0 / p_i)**beta, with P = p / 10 and N = 4.
    expected = [1 / p for p in (1, 2, 2, 3, 3, 3, 4, 4, 4, 4)]
    assert batch.weights[:, 0].tolist() == pytest.approx(expected, rel=1e-7)
    batch = buffer.sample(10, beta=0.4)
    expected = [(1 / p) ** 0.4 for p in (1, 2, 2, 3, 3, 3, 4, 4, 4, 4)]
    assert batch.weights[:, 0].tolist() == pytest.approx(expected, rel=1e-7)
    # New priorities [4, 3, 2, 1] reverse the ownership of the strata.
    buffer.update_priorities(np.array([0, 3, 1, 2]), np.array([16.0, 1.0, 9.0, 4.0]) - 2**-20)
    batch = buffer.sample(10, beta=1.0)
    assert batch.indices.tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 3]
    expected = [1 / p for p in (4, 4, 4, 4, 3, 3, 3, 2, 2, 1)]
    assert batch.weights[:, 0].tolist() == pytest.approx(expected, rel=1e-7)


def test_per_sampling_frequencies_match_priorities():
    """Over 200,000 stratified draws (fixed seed), each slot's frequency is within 5 binomial
    standard errors of p_i**alpha / sum_j p_j**alpha. Stratification only lowers the variance,
    so the binomial bound is conservative."""
    buffer = PrioritizedReplayBuffer(16, OBS_DIM, ACT_DIM, np.random.default_rng(1), alpha=0.6, eps=1e-6)
    fill(buffer, 7)
    td_errors = np.array([0.1, -2.0, 0.5, 0.0, 3.0, -1.0, 0.25])
    buffer.update_priorities(np.arange(7), td_errors)
    expected = (np.abs(td_errors) + 1e-6) ** 0.6
    expected /= expected.sum()
    draws = np.concatenate([buffer.sample(100).indices for _ in range(2000)])
    frequencies = np.bincount(draws, minlength=16) / draws.size
    standard_errors = np.sqrt(expected * (1 - expected) / draws.size)
    assert frequencies[7:].sum() == 0.0  # empty slots are never drawn
    assert np.all(np.abs(frequencies[:7] - expected) < 5 * standard_errors), (frequencies[:7], expected)


@pytest.mark.parametrize("kind", [ReplayBuffer, PrioritizedReplayBuffer])
def test_state_dict_round_trip_gives_identical_samples(kind: type[ReplayBuffer]):
    def make(seed: int) -> ReplayBuffer:
        return kind(8, OBS_DIM, ACT_DIM, np.random.default_rng(seed))

    def continue_training(buffer: ReplayBuffer) -> list[Batch]:
        batches = []
        for step in range(5):
            batch = buffer.sample(6, beta=0.5)
            buffer.update_priorities(batch.indices, batch.rewards[:, 0].numpy() - 3.0)
            fill(buffer, 1, start=100 + step)  # wraps the 8 slots
            batches.append(batch)
        return batches

    original = make(0)
    fill(original, 11)
    original.update_priorities(np.arange(8), np.linspace(-2, 2, 8))
    original.sample(6)
    state = original.state_dict()
    expected = continue_training(original)
    restored = make(123)
    fill(restored, 3, start=50)
    restored.load_state_dict(state)
    assert (restored.pos, len(restored)) == (3, 8)
    for got, want in zip(continue_training(restored), expected, strict=True):
        assert_batches_equal(got, want)
    if kind is PrioritizedReplayBuffer:
        assert np.array_equal(restored.tree.nodes, original.tree.nodes)
        assert restored.max_priority == original.max_priority


def test_state_dict_keeps_only_the_filled_part_and_checks_shapes():
    buffer = ReplayBuffer(100, OBS_DIM, ACT_DIM, np.random.default_rng(0))
    fill(buffer, 5)
    state = buffer.state_dict()
    assert state["observations"].shape == (5, 3) and state["rewards"].shape == (5, 1)
    with pytest.raises(ValueError, match="capacity = 100, this buffer has 50"):
        ReplayBuffer(50, OBS_DIM, ACT_DIM, np.random.default_rng(0)).load_state_dict(state)


def test_invalid_arguments_raise_clearly():
    with pytest.raises(ValueError, match="capacity = 0"):
        ReplayBuffer(0, OBS_DIM, ACT_DIM, np.random.default_rng(0))
    with pytest.raises(ValueError, match="empty replay buffer"):
        ReplayBuffer(4, OBS_DIM, ACT_DIM, np.random.default_rng(0)).sample(2)
    with pytest.raises(ValueError, match="eps = 0"):
        PrioritizedReplayBuffer(4, OBS_DIM, ACT_DIM, np.random.default_rng(0), eps=0)
    buffer = PrioritizedReplayBuffer(4, OBS_DIM, ACT_DIM, np.random.default_rng(0))
    fill(buffer, 2)
    with pytest.raises(ValueError, match=r"beta = 1\.5"):
        buffer.sample(2, beta=1.5)
    with pytest.raises(ValueError, match="batch_size = 0"):
        buffer.sample(0)
