"""Positive data augmentations (PDA): the baselines the NDA paper compares against (Table 1/2).

Same calling contract as the negatives (:mod:`hf_nda.processing.base`).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from . import _random as rnd
from .base import BatchTransform, check_number, register


@register("randomcrop")
@dataclasses.dataclass
class RandomCrop(BatchTransform):
    """Reflect-pad by ``padding`` pixels and crop back to the original size at a random offset.

    Params: ``top``, ``left`` (LongTensor N, the window's corner in the padded image, 0..2·padding).

    Example:
        >>> RandomCrop(padding=4)(torch.rand(4, 3, 32, 32), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 3, 32, 32])
    """

    padding: int = 4
    param_keys = ("top", "left")

    def __post_init__(self):
        self.padding = check_number("RandomCrop", "padding", self.padding, low=0, integer=True,
                                    meaning="pixel count")

    def _check_size(self, images):
        h, w = images.shape[-2:]
        if self.padding >= min(h, w):
            raise ValueError(f"RandomCrop reflect-pads by padding={self.padding} pixels, which must be smaller than "
                             f"the image sides ({h}x{w}); use RandomCrop(padding={max(0, min(h, w) - 1)}) or less")

    def _sample(self, images, other, generator, labels):
        self._check_size(images)
        n, p = images.shape[0], int(self.padding)
        top = rnd.randint(0, 2 * p + 1, (n,), generator, images)
        return {"top": top, "left": rnd.randint(0, 2 * p + 1, (n,), generator, images)}

    def _apply(self, images, params, other):
        self._check_size(images)
        n, c, h, w = images.shape
        p = int(self.padding)
        padded = F.pad(images, (p, p, p, p), mode="reflect")
        top, left = params["top"], params["left"]
        rows = (top[:, None] + torch.arange(h, device=images.device))[:, :, None]
        cols = (left[:, None] + torch.arange(w, device=images.device))[:, None, :]
        batch = torch.arange(n, device=images.device)[:, None, None]
        return padded[batch, :, rows, cols].permute(0, 3, 1, 2).contiguous()


@register("flip")
@dataclasses.dataclass
class HorizontalFlip(BatchTransform):
    """Mirror each image left-right with probability ``p``.

    Params: ``flip`` (BoolTensor N).

    Example:
        >>> HorizontalFlip(p=1.0)(torch.arange(4.).view(1, 1, 1, 4))
        tensor([[[[3., 2., 1., 0.]]]])
    """

    p: float = 0.5
    param_keys = ("flip",)

    def __post_init__(self):
        self.p = check_number("HorizontalFlip", "p", self.p, low=0, high=1, meaning="flip probability")

    def _sample(self, images, other, generator, labels):
        return {"flip": rnd.uniform((images.shape[0],), generator, images) < self.p}

    def _apply(self, images, params, other):
        return torch.where(params["flip"][:, None, None, None], images.flip(-1), images)


@register("gaussian")
@dataclasses.dataclass
class GaussianNoise(BatchTransform):
    """Add N(0, std²) noise and clip back to [-1, 1].

    Params: ``noise`` (standard normal, the batch's shape; a video's frames folded into channels).

    Example:
        >>> GaussianNoise(std=0.1)(torch.zeros(2, 1, 4, 4), generator=torch.Generator().manual_seed(0)).abs().max() <= 1
        tensor(True)
    """

    std: float = 0.1
    param_keys = ("noise",)

    def __post_init__(self):
        self.std = check_number("GaussianNoise", "std", self.std, low=0, meaning="noise standard deviation")

    def _sample(self, images, other, generator, labels):
        return {"noise": rnd.normal(images.shape, generator, images)}

    def _apply(self, images, params, other):
        noise = params["noise"].reshape(images.shape).to(images.dtype)
        return (images + self.std * noise).clamp_(-1, 1)
