"""n-step returns (Sutton 1988; used with replay as in Hessel et al. 2018), formed before storage.

For the window of K steps starting at step t the stored transition is

    (s_t, a_t, R = sum_{k<K} gamma**k r_{t+k}, s_{t+K}, done, gamma**K),

with K = n normally and K < n for the windows still open when the episode ends; done is true
only if the episode terminated at step t+K-1. On a time-limit truncation the episode did not
end in the MDP, so done is false and the learner bootstraps from the true final observation.
"""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

import numpy as np


class Transition(NamedTuple):
    """One transition ready for a replay buffer: obs and next_obs (obs_dim,), action (act_dim,)."""

    obs: np.ndarray
    action: np.ndarray
    reward: float  # discounted sum of the K rewards in the window, in float64
    next_obs: np.ndarray  # the observation after the window's last step
    done: bool  # the episode terminated at the window's last step: no bootstrap
    discount: float  # gamma**K


class NStepAccumulator:
    """Sits in front of any buffer, for a single environment: ``push`` each step, store what it returns.

    Every pushed step comes back exactly once, as the start of one transition, in time order.
    """

    def __init__(self, n_steps: int, gamma: float):
        if not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
            raise ValueError(f"n_steps = {n_steps!r}; accepted: a positive integer")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma = {gamma}; accepted: a number in [0, 1]")
        self.n_steps, self.gamma = int(n_steps), float(gamma)
        self._window: deque[tuple[np.ndarray, np.ndarray, float]] = deque()  # (obs, action, reward)

    def push(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: float,
        next_obs: np.ndarray,
        terminated: bool,
        truncated: bool,
    ) -> list[Transition]:
        """Add step (obs, action, reward, next_obs); return the transitions now complete, oldest first.

        That is one transition once the window holds n steps, every pending one when the
        episode ends (``terminated`` or ``truncated``; on truncation ``next_obs`` must be the
        true final observation), and none otherwise.
        """
        # Copies: environments may reuse their observation arrays in place.
        self._window.append((np.array(obs, copy=True), np.array(action, copy=True), float(reward)))
        next_obs = np.array(next_obs, copy=True)
        ready = []
        if terminated or truncated:
            while self._window:
                ready.append(self._pop_transition(next_obs, bool(terminated)))
        elif len(self._window) == self.n_steps:
            ready.append(self._pop_transition(next_obs, False))
        return ready

    def _pop_transition(self, next_obs: np.ndarray, done: bool) -> Transition:
        """The transition from the oldest pending step over the whole window, which it leaves."""
        ret = 0.0
        for k, (_, _, reward) in enumerate(self._window):
            ret += self.gamma**k * reward
        discount = self.gamma ** len(self._window)
        obs, action, _ = self._window.popleft()
        return Transition(obs, action, ret, next_obs, done, discount)

    def state_dict(self) -> dict[str, Any]:
        """n_steps, gamma and copies of the pending steps, for checkpoints."""
        return {
            "n_steps": self.n_steps,
            "gamma": self.gamma,
            "window": [(obs.copy(), action.copy(), reward) for obs, action, reward in self._window],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the pending steps saved by ``state_dict``; n_steps and gamma must match."""
        for key in ("n_steps", "gamma"):
            if state[key] != getattr(self, key):
                raise ValueError(f"state has {key} = {state[key]}, this accumulator has {getattr(self, key)}")
        if len(state["window"]) >= self.n_steps:
            raise ValueError(f"state holds {len(state['window'])} pending steps; at most {self.n_steps - 1} fit")
        self._window = deque(
            (np.array(obs, copy=True), np.array(action, copy=True), float(reward))
            for obs, action, reward in state["window"]
        )
