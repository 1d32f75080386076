"""Latent mixing functions of AMR (Beckham et al., NeurIPS 2019, §2) and its supervised class mixer.

Every mixer takes the codes to mix stacked as ``(k, N, C, H, W)`` — mix ``i`` combines
``codes[0, i], …, codes[k-1, i]`` — and returns the mixed codes ``(N, C, H, W)`` with the weights
``(N, k)`` it used (rows sum to one). Random draws take a ``torch.Generator`` and are made on its
device, so a seeded CPU ``torch.Generator`` gives the same mix for CPU and CUDA codes.
"""

from __future__ import annotations

import torch
from torch import nn

from ..processing._random import dirichlet, uniform

WEIGHT_TOLERANCE = 1e-4


def check_weights(weights: torch.Tensor, n: int, k: int) -> torch.Tensor:
    """``weights`` as an (n, k) float tensor of non-negative rows summing to one, or a clear error."""
    weights = torch.as_tensor(weights, dtype=torch.float32)
    if weights.ndim == 1:
        weights = weights.expand(n, -1)
    if tuple(weights.shape) != (n, k):
        raise ValueError(f"mixing weights must have {k} entries (one per code) for each of the {n} mixes, "
                         f"got shape {tuple(weights.shape)}")
    if (weights < 0).any() or not torch.allclose(weights.sum(1), weights.new_ones(n), atol=WEIGHT_TOLERANCE):
        raise ValueError(f"mixing weights must be >= 0 and sum to one, got row sums {weights.sum(1).tolist()}")
    return weights


def simplex_weights(n: int, k: int, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """(n, k) weights: α ~ U(0, 1) and (α, 1 - α) for k = 2 (Eq. 4); Dirichlet(1, …, 1) otherwise (Eq. 6)."""
    if k == 2:
        alpha = uniform((n,), generator, like)
        return torch.stack([alpha, 1 - alpha], dim=1)
    ones = torch.ones(k, device=generator.device if generator is not None else like.device)
    return dirichlet(ones, n, generator).to(like.device)


def mixup(codes: torch.Tensor, weights=None, generator: torch.Generator | None = None):
    """Convex combination Σ_j α_j h_j (Eq. 4 for k = 2, Eq. 6 for k codes)."""
    k, n = codes.shape[:2]
    weights = simplex_weights(n, k, generator, codes) if weights is None else check_weights(weights, n, k)
    weights = weights.to(device=codes.device, dtype=codes.dtype)
    return torch.einsum("nk,kn...->n...", weights, codes), weights


def bernoulli(codes: torch.Tensor, weights=None, generator: torch.Generator | None = None):
    """Each feature map taken whole from one of the k codes (Eq. 5: m ~ Bernoulli(p), p ~ U(0, 1)).

    For k codes, feature map c of mix i comes from code j with probability w_ij, where
    w_i ~ Dirichlet(1, …, 1); for k = 2 that is Eq. 5 exactly (w_i1 = p). Unlike the paper's public
    code, which overwrites earlier codes when k > 2, the result combines all k codes.
    """
    k, n, c = codes.shape[:3]
    weights = simplex_weights(n, k, generator, codes) if weights is None else check_weights(weights, n, k)
    weights = weights.to(codes.device)
    u = uniform((n, c), generator, codes)
    edges = weights.float().cumsum(1)[:, None, :-1]                      # (n, 1, k-1) category edges
    choice = (u[..., None] >= edges).sum(-1)                              # (n, c) in [0, k)
    masks = nn.functional.one_hot(choice, k).permute(2, 0, 1).to(codes.dtype)  # (k, n, c)
    mixed = (masks[..., None, None] * codes).sum(0)
    return mixed, weights.to(codes.dtype)


def no_mix(codes: torch.Tensor, weights=None, generator=None):
    """The AE+GAN baseline (Eq. 1-2): no mixing; the 'mix' of each row is its first code."""
    k, n = codes.shape[:2]
    weights = torch.zeros(n, k, device=codes.device, dtype=codes.dtype)
    weights[:, 0] = 1
    return codes[0], weights


MIXER_FUNCTIONS = {"mixup": mixup, "bernoulli": bernoulli, "none": no_mix}


class ClassMixer(nn.Module):
    """The supervised mixer of §2.2: ``embed(y)``, an MLP from an attribute / class vector y to one
    Bernoulli parameter per feature map; the mix is m·h1 + (1 - m)·h2 with m ~ Bernoulli(p).

    Gradients pass the Bernoulli sample by the **straight-through** estimator: the forward value is
    the hard 0/1 mask, the backward pass treats ∂m/∂p as 1, so ``embed`` learns from whatever loss
    the decoded mix feeds (Eq. 7: the discriminator's realism and class terms).

    Example:
        >>> mixer = ClassMixer(num_classes=10, channels=2)
        >>> p = mixer(torch.eye(10)[:3])                     # Bernoulli parameters, (3, 2)
        >>> h1, h2 = torch.zeros(3, 2, 4, 4), torch.ones(3, 2, 4, 4)
        >>> mixer.mix(h1, h2, torch.eye(10)[:3]).shape
        torch.Size([3, 2, 4, 4])
    """

    def __init__(self, num_classes: int, channels: int, hidden: int = 256):
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Sequential(nn.Linear(num_classes, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def forward(self, attributes: torch.Tensor) -> torch.Tensor:
        if attributes.ndim != 2 or attributes.shape[1] != self.num_classes:
            raise ValueError(f"attribute vectors must have shape (N, {self.num_classes}), got {tuple(attributes.shape)}")
        return torch.sigmoid(self.embed(attributes))

    def mix(self, h1: torch.Tensor, h2: torch.Tensor, attributes: torch.Tensor,
            generator: torch.Generator | None = None) -> torch.Tensor:
        p = self(attributes.to(h1.dtype))
        hard = (uniform(p.shape, generator, p) < p).to(p.dtype)
        mask = hard + p - p.detach()  # straight-through: forward 0/1, gradient as if m = p
        return mask[..., None, None] * h1 + (1 - mask[..., None, None]) * h2
