"""Factorized Gaussian noisy linear layers (Fortunato et al. 2017, "Noisy Networks for Exploration").

A noisy layer computes ``y = (mu_w + sigma_w * eps_w) x + mu_b + sigma_b * eps_b``: mu and sigma
are learned, eps is noise, so the network learns how much to explore and where. In the
factorized variant (the paper's choice for DQN) a layer with p inputs and q outputs draws
only p + q unit Gaussians, ``eps_in`` and ``eps_out``, and forms

    eps_w = f(eps_out) f(eps_in)^T,    eps_b = f(eps_out),    f(x) = sgn(x) sqrt(|x|).

Outside a ``perturbed`` block every layer uses its mean weights mu: that is the policy that
is evaluated and the one a target network follows. Inside the block the layers use one noise
draw, made on entry from a generator the caller owns, so the caller decides when noise is
resampled and can checkpoint the generator.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


def factorized_noise(size: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """f(x) = sgn(x) sqrt(|x|) applied to ``size`` draws of x ~ N(0, 1)."""
    x = torch.randn(size, generator=generator, device=device)
    return x.sign() * x.abs().sqrt()


class NoisyLinear(nn.Module):
    """A Linear layer whose weights and biases are ``mu + sigma * eps`` inside a ``perturbed`` block.

    Initialisation follows the paper's factorized case, with p = ``in_features``: every mu is
    drawn from U(-1/sqrt(p), 1/sqrt(p)) (the range nn.Linear uses) and every sigma starts at
    ``sigma0 / sqrt(p)``.
    """

    def __init__(self, in_features: int, out_features: int, sigma0: float):
        super().__init__()
        self.in_features, self.out_features, self.sigma0 = in_features, out_features, sigma0
        bound = 1.0 / math.sqrt(in_features)
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.bias_mu = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        self.weight_sigma = nn.Parameter(torch.full((out_features, in_features), sigma0 * bound))
        self.bias_sigma = nn.Parameter(torch.full((out_features,), sigma0 * bound))
        #: (f(eps_in), f(eps_out)) while perturbed; None: the mean weights.
        self.noise: tuple[torch.Tensor, torch.Tensor] | None = None

    def sample_noise(self, generator: torch.Generator) -> None:
        """Draw f(eps_in) of shape (p,) then f(eps_out) of shape (q,) from ``generator``."""
        device = self.weight_mu.device
        self.noise = (
            factorized_noise(self.in_features, generator, device),
            factorized_noise(self.out_features, generator, device),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, p) -> (B, q), one noise draw shared by the whole batch."""
        if self.noise is None:
            return F.linear(x, self.weight_mu, self.bias_mu)
        eps_in, eps_out = self.noise
        weight = self.weight_mu + self.weight_sigma * torch.outer(eps_out, eps_in)
        bias = self.bias_mu + self.bias_sigma * eps_out
        return F.linear(x, weight, bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, sigma0={self.sigma0}"


@contextmanager
def perturbed(module: nn.Module, generator: torch.Generator) -> Iterator[None]:
    """Inside the block, every NoisyLinear of ``module`` uses one fresh noise draw; after it, its mean weights.

    A graph built inside the block keeps its noise, so ``backward`` may run after the block.
    """
    layers = [m for m in module.modules() if isinstance(m, NoisyLinear)]
    for layer in layers:
        layer.sample_noise(generator)
    try:
        yield
    finally:
        for layer in layers:
            layer.noise = None
