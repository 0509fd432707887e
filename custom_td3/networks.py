"""Actor and twin critic, laid out as Stable-Baselines3 lays out its TD3 MLP policy.

The same layer order (``Linear, act, ..., Linear``, a final ``Tanh`` on the actor) lets
weights move between the two implementations, which the parity tests rely on. The actor's
layers may instead be NoisyNets layers (``noisy.py``), passed in as its ``linear`` factory.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

#: (in_features, out_features) -> a linear layer: nn.Linear, or a NoisyLinear with its sigma_0 bound.
LinearFactory = Callable[[int, int], nn.Module]

ACTIVATION_CLASSES = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
#: Activations applied in place: a Linear's output is not needed by its own backward, so
#: overwriting it saves an allocation and a pass over memory per layer.
IN_PLACE = {"relu", "elu", "leaky_relu", "silu"}


def mlp(
    in_dim: int, out_dim: int, hidden: tuple[int, ...], activation: str, linear: LinearFactory = nn.Linear
) -> nn.Sequential:
    """``Linear(in, h0), act, Linear(h0, h1), act, ..., Linear(h_last, out)``, each Linear made by ``linear``."""
    layers: list[nn.Module] = []
    for width in hidden:
        act = (
            ACTIVATION_CLASSES[activation](inplace=True) if activation in IN_PLACE else ACTIVATION_CLASSES[activation]()
        )
        layers += [linear(in_dim, width), act]
        in_dim = width
    layers.append(linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """Deterministic policy mu(s) in [-1, 1]^act_dim (normalized action units).

    With NoisyLinear layers it is deterministic outside a ``noisy.perturbed`` block (the mean weights).
    """

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], activation: str, linear: LinearFactory = nn.Linear
    ):
        super().__init__()
        self.mu = nn.Sequential(*mlp(obs_dim, act_dim, hidden, activation, linear), nn.Tanh())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim) -> (B, act_dim)."""
        action: torch.Tensor = self.mu(obs)
        return action


class Critic(nn.Module):
    """Two independent Q-networks Q1, Q2 over (s, a): TD3's clipped double-Q."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...], activation: str):
        super().__init__()
        self.qf0 = mlp(obs_dim + act_dim, 1, hidden, activation)
        self.qf1 = mlp(obs_dim + act_dim, 1, hidden, activation)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, obs_dim), (B, act_dim) -> (Q1, Q2), each (B, 1)."""
        x = torch.cat([obs, action], dim=1)
        return self.qf0(x), self.qf1(x)

    def q1(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Q1 alone: what the actor ascends."""
        q: torch.Tensor = self.qf0(torch.cat([obs, action], dim=1))
        return q
