"""Experience replay: uniform (Lin 1992) and proportional prioritized (Schaul et al. 2015).

Both buffers store already-formed transitions (s, a, R, s', done, discount), where R may be an
n-step return and discount = gamma**k for the k rewards summed in R (see ``nstep.py``), so the
learner's target is always ``R + discount * (1 - done) * Q'(s', pi'(s'))``.

Storage is one preallocated float32 array per field, written circularly: a 1M-transition
BipedalWalker buffer (obs_dim 24, act_dim 4) takes 1e6 * (2*24 + 4 + 3) * 4 B = 220 MB.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from custom_td3.sumtree import SumTree


class Batch(NamedTuple):
    """A sampled minibatch of B transitions; tensors are float32 on the buffer's device."""

    observations: torch.Tensor  # (B, obs_dim)
    actions: torch.Tensor  # (B, act_dim), normalized to [-1, 1]
    rewards: torch.Tensor  # (B, 1): the (n-step) discounted return stored with the transition
    next_observations: torch.Tensor  # (B, obs_dim): the observation to bootstrap from
    dones: torch.Tensor  # (B, 1): 1.0 if the episode terminated within the window; truncation is 0.0
    discounts: torch.Tensor  # (B, 1): gamma**k, k = number of rewards summed in `rewards`
    weights: torch.Tensor  # (B, 1): importance-sampling weights (all ones for uniform replay)
    indices: np.ndarray  # (B,) int64 buffer slots, for update_priorities


class ReplayBuffer:
    """Uniform replay over the last ``capacity`` transitions. Float32 numpy storage, circular.

    All randomness comes from ``rng``, whose state is part of ``state_dict``, so a restored
    buffer draws exactly the batches the original would have drawn.
    """

    _FIELDS: tuple[str, ...] = ("observations", "actions", "rewards", "next_observations", "dones", "discounts")

    def __init__(
        self,
        capacity: int,
        obs_dim: int,
        act_dim: int,
        rng: np.random.Generator,
        device: str | torch.device = "cpu",
    ):
        for name, value in (("capacity", capacity), ("obs_dim", obs_dim), ("act_dim", act_dim)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} = {value!r}; accepted: a positive integer")
        self.capacity, self.obs_dim, self.act_dim = int(capacity), int(obs_dim), int(act_dim)
        self.rng = rng
        self.device = torch.device(device)
        self.observations = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros((capacity, act_dim), dtype=np.float32)
        self.rewards = np.zeros((capacity, 1), dtype=np.float32)
        self.next_observations = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.dones = np.zeros((capacity, 1), dtype=np.float32)
        self.discounts = np.zeros((capacity, 1), dtype=np.float32)
        self.pos = 0  # the slot the next transition goes to
        self.size = 0  # filled slots are always 0 .. size-1

    def __len__(self) -> int:
        """Number of transitions stored (at most ``capacity``)."""
        return self.size

    @property
    def nbytes(self) -> int:
        """Bytes of storage allocated by this buffer (its arrays, whatever their fill)."""
        return sum(getattr(self, field).nbytes for field in self._FIELDS)

    def add(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: float,
        next_obs: np.ndarray,
        done: bool,
        discount: float,
    ) -> None:
        """Store one (already n-step) transition: obs and next_obs (obs_dim,), action (act_dim,).

        When the buffer is full the oldest transition is overwritten.
        """
        slot = self.pos
        self.observations[slot] = obs
        self.actions[slot] = action
        self.rewards[slot, 0] = reward
        self.next_observations[slot] = next_obs
        self.dones[slot, 0] = float(done)
        self.discounts[slot, 0] = discount
        self.pos = (slot + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        self._on_add(slot)

    def _on_add(self, slot: int) -> None:
        """Hook for subclasses that keep per-slot state (priorities)."""

    def sample(self, batch_size: int, beta: float = 1.0) -> Batch:
        """``batch_size`` transitions drawn uniformly with replacement; weights are ones, beta unused."""
        return self._gather(*self.draw(batch_size, beta))

    def draw(self, batch_size: int, beta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """What ``sample`` draws, before it gathers: slots (B,) int64 and importance weights (B, 1) float32."""
        self._check_sample(batch_size)
        indices = self.rng.integers(0, self.size, size=batch_size)
        return indices, np.ones((batch_size, 1), dtype=np.float32)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """Uniform replay keeps no priorities: nothing to do."""

    def _check_sample(self, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size = {batch_size}; accepted: a positive integer")
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")

    def _gather(self, indices: np.ndarray, weights: np.ndarray) -> Batch:
        """The Batch at slots ``indices`` (B,) with importance weights ``weights`` (B, 1) float32."""

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(array).to(self.device)

        return Batch(
            observations=tensor(self.observations[indices]),
            actions=tensor(self.actions[indices]),
            rewards=tensor(self.rewards[indices]),
            next_observations=tensor(self.next_observations[indices]),
            dones=tensor(self.dones[indices]),
            discounts=tensor(self.discounts[indices]),
            weights=tensor(weights),
            indices=indices,
        )

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to restore this buffer exactly: copies of the filled part of every
        array, the write position, the size and the random generator's state."""
        state: dict[str, Any] = {
            "capacity": self.capacity,
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "pos": self.pos,
            "size": self.size,
            "rng": self.rng.bit_generator.state,
        }
        for field in self._FIELDS:
            state[field] = getattr(self, field)[: self.size].copy()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from ``state_dict()`` output; the buffer must have the same capacity and dims."""
        for key in ("capacity", "obs_dim", "act_dim"):
            if state[key] != getattr(self, key):
                raise ValueError(f"state has {key} = {state[key]}, this buffer has {getattr(self, key)}")
        size = int(state["size"])
        for field in self._FIELDS:
            array = getattr(self, field)
            array[:size] = state[field]
            array[size:] = 0.0
        self.pos, self.size = int(state["pos"]), size
        self.rng.bit_generator.state = state["rng"]


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay: slot i is drawn with probability P(i) = p_i / sum_j p_j.

    The sum tree holds p_i = (|delta_i| + eps) ** alpha for the last TD error delta_i seen for
    slot i; a new transition enters at the largest (|delta| + eps) seen so far (1.0 at first)
    so that every transition is replayed at least once with high probability.
    """

    def __init__(
        self,
        capacity: int,
        obs_dim: int,
        act_dim: int,
        rng: np.random.Generator,
        device: str | torch.device = "cpu",
        alpha: float = 0.6,
        eps: float = 1e-6,
    ):
        if not alpha >= 0:
            raise ValueError(f"alpha = {alpha}; accepted: a number >= 0 (0 is uniform replay)")
        if not eps > 0:
            raise ValueError(f"eps = {eps}; accepted: a number > 0 (keeps every priority positive)")
        super().__init__(capacity, obs_dim, act_dim, rng, device)
        self.alpha, self.eps = float(alpha), float(eps)
        self.tree = SumTree(self.capacity)
        self.max_priority = 1.0  # max of |delta| + eps, before the exponent alpha

    @property
    def nbytes(self) -> int:
        """Bytes of the transition arrays plus the sum tree."""
        return super().nbytes + self.tree.nodes.nbytes

    def _on_add(self, slot: int) -> None:
        self.tree.update(np.array([slot]), self.max_priority**self.alpha)

    def draw(self, batch_size: int, beta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """``batch_size`` slots, stratified: [0, total) is split into batch_size equal segments and one
        prefix sum is drawn uniformly in each; ``sample`` gathers them.

        Weights are w_i = (N * P(i)) ** -beta divided by the largest w in the batch, N = len(self).
        """
        self._check_sample(batch_size)
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta = {beta}; accepted: a number in [0, 1]")
        total = self.tree.total
        values = (np.arange(batch_size) + self.rng.random(batch_size)) * (total / batch_size)
        # Rounding may push the last value a hair past the total, outside find's domain.
        np.minimum(values, total, out=values)
        indices = self.tree.find(values)
        probabilities = self.tree.get(indices) / total
        weights = (self.size * probabilities) ** -beta
        weights /= weights.max()
        return indices, weights.astype(np.float32).reshape(-1, 1)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """Set p_i = (|td_error_i| + eps) ** alpha for slots ``indices`` (B,); td_errors (B,) or (B, 1).

        A slot repeated in ``indices`` keeps its last TD error.
        """
        magnitudes = np.abs(np.asarray(td_errors, dtype=np.float64).reshape(-1)) + self.eps
        self.tree.update(indices, magnitudes**self.alpha)
        if magnitudes.size:
            self.max_priority = max(self.max_priority, float(magnitudes.max()))

    def state_dict(self) -> dict[str, Any]:
        """The uniform buffer's state plus alpha, eps, the priorities p_i of the filled slots and
        the max priority."""
        state = super().state_dict()
        state["alpha"], state["eps"] = self.alpha, self.eps
        state["priorities"] = self.tree.get(np.arange(self.size))
        state["max_priority"] = self.max_priority
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from ``state_dict()`` output; alpha and eps must match (the tree stores p**alpha)."""
        for key in ("alpha", "eps"):
            if state[key] != getattr(self, key):
                raise ValueError(f"state has {key} = {state[key]}, this buffer has {getattr(self, key)}")
        super().load_state_dict(state)
        # Sums are recomputed from the leaves, so the tree is bit-identical to the saved one.
        self.tree = SumTree(self.capacity)
        self.tree.update(np.arange(self.size), state["priorities"])
        self.max_priority = float(state["max_priority"])


def stack_batches(buffers: list[ReplayBuffer], draws: list[tuple[np.ndarray, np.ndarray]]) -> Batch:
    """One Batch with a leading member axis from K buffers and what each drew (``draw``): tensors
    (K, B, ...) on the first buffer's device, made with one host-to-device copy per field; indices (K, B)."""
    device = buffers[0].device

    def tensor(arrays: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(arrays)).to(device)

    fields = {
        f: tensor([getattr(b, f)[idx] for b, (idx, _) in zip(buffers, draws, strict=True)])
        for f in ReplayBuffer._FIELDS
    }
    return Batch(**fields, weights=tensor([w for _, w in draws]), indices=np.stack([idx for idx, _ in draws]))
