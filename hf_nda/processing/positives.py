"""Positive data augmentations (PDA): the baselines the NDA paper compares against (Table 1/2).

Same calling contract as the negatives (:mod:`hf_nda.processing.base`).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from . import _random as rnd
from .base import BatchTransform, register


@register("randomcrop")
@dataclasses.dataclass
class RandomCrop(BatchTransform):
    """Reflect-pad by ``padding`` pixels and crop back to the original size at a random offset.

    Example:
        >>> RandomCrop(padding=4)(torch.rand(4, 3, 32, 32), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 3, 32, 32])
    """

    padding: int = 4

    def apply(self, images, other, generator, labels):
        n, c, h, w = images.shape
        p = int(self.padding)
        padded = F.pad(images, (p, p, p, p), mode="reflect")
        top = rnd.randint(0, 2 * p + 1, (n,), generator, images)
        left = rnd.randint(0, 2 * p + 1, (n,), generator, images)
        rows = (top[:, None] + torch.arange(h, device=images.device))[:, :, None]
        cols = (left[:, None] + torch.arange(w, device=images.device))[:, None, :]
        batch = torch.arange(n, device=images.device)[:, None, None]
        return padded[batch, :, rows, cols].permute(0, 3, 1, 2).contiguous()


@register("flip")
@dataclasses.dataclass
class HorizontalFlip(BatchTransform):
    """Mirror each image left-right with probability ``p``.

    Example:
        >>> HorizontalFlip(p=1.0)(torch.arange(4.).view(1, 1, 1, 4))
        tensor([[[[3., 2., 1., 0.]]]])
    """

    p: float = 0.5

    def apply(self, images, other, generator, labels):
        flip = rnd.uniform((images.shape[0],), generator, images) < self.p
        return torch.where(flip[:, None, None, None], images.flip(-1), images)


@register("gaussian")
@dataclasses.dataclass
class GaussianNoise(BatchTransform):
    """Add N(0, std²) noise and clip back to [-1, 1].

    Example:
        >>> GaussianNoise(std=0.1)(torch.zeros(2, 1, 4, 4), generator=torch.Generator().manual_seed(0)).abs().max() <= 1
        tensor(True)
    """

    std: float = 0.1

    def apply(self, images, other, generator, labels):
        noise = rnd.normal(images.shape, generator, images)
        return (images + self.std * noise).clamp_(-1, 1)
