"""CIFAR-10-C style corruptions (Hendrycks & Dietterich, 2019) for out-of-distribution suites.

Batched torch versions of the reference numpy/Pillow code, with its severity constants for 32-px
images. They work in [0, 1] like the reference and take and return [-1, 1] batches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _random as rnd
from .base import check_batch, check_generator, check_number

SEVERITY = {
    "gaussian_noise": [0.04, 0.06, 0.08, 0.09, 0.10],
    "shot_noise": [500, 250, 100, 75, 50],
    "impulse_noise": [0.01, 0.02, 0.03, 0.05, 0.07],
    "gaussian_blur": [0.4, 0.6, 0.7, 0.8, 1.0],
    "defocus_blur": [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1.0, 0.2), (1.5, 0.1)],  # (radius, alias blur)
    "contrast": [0.75, 0.5, 0.4, 0.3, 0.15],
    "pixelate": [0.95, 0.9, 0.85, 0.75, 0.65],
}


def _gaussian_noise(x, c, g):
    return x + c * rnd.normal(x.shape, g, x)


def _shot_noise(x, c, g):
    rate = (x * c).to(rnd.draw_device(g, x))
    return torch.poisson(rate, generator=g).to(x.device) / c


def _impulse_noise(x, amount, g):
    u = rnd.uniform(x.shape, g, x)
    salt = rnd.uniform(x.shape, g, x) < 0.5
    hit = u < amount
    return torch.where(hit, salt.to(x.dtype), x)


def _blur(x, kernel_2d):
    c = x.shape[1]
    k = kernel_2d.to(x)[None, None].expand(c, 1, -1, -1)
    pad = kernel_2d.shape[-1] // 2
    return F.conv2d(F.pad(x, (pad,) * 4, mode="reflect"), k, groups=c)


def _gaussian_kernel(sigma: float, radius: int) -> torch.Tensor:
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k1 = torch.exp(-(t**2) / (2 * sigma**2))
    k1 = k1 / k1.sum()
    return k1[:, None] * k1[None, :]


def _gaussian_blur(x, sigma, g):
    return _blur(x, _gaussian_kernel(sigma, max(1, int(3 * sigma + 0.5))))


def _defocus_blur(x, params, g):
    """A disk kernel smoothed by a 3×3 Gaussian ("alias blur"), as the reference ``disk()``."""
    radius, alias_blur = params
    r = max(1, int(radius))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    disk = ((t[:, None] ** 2 + t[None, :] ** 2) <= radius**2).float()
    disk = disk / disk.sum()
    smooth = F.conv2d(F.pad(disk[None, None], (1, 1, 1, 1)), _gaussian_kernel(alias_blur, 1)[None, None])[0, 0]
    return _blur(x, smooth / smooth.sum())


def _contrast(x, c, g):
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * c + mean


def _pixelate(x, c, g):
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(max(1, int(h * c)), max(1, int(w * c))), mode="area")
    return F.interpolate(small, size=(h, w), mode="nearest")


CORRUPTIONS = {
    "gaussian_noise": _gaussian_noise,
    "shot_noise": _shot_noise,
    "impulse_noise": _impulse_noise,
    "gaussian_blur": _gaussian_blur,
    "defocus_blur": _defocus_blur,
    "contrast": _contrast,
    "pixelate": _pixelate,
}


def corrupt(images: torch.Tensor, kind: str, severity: int = 5, generator: torch.Generator | None = None):
    """Apply corruption ``kind`` at ``severity`` 1-5 to a [-1, 1] batch.

    Example:
        >>> corrupt(torch.zeros(2, 1, 32, 32), "contrast", severity=3).shape
        torch.Size([2, 1, 32, 32])
    """
    check_batch(images)
    check_generator(generator)
    if not isinstance(kind, str) or kind not in CORRUPTIONS:
        raise ValueError(f"unknown corruption kind={kind!r}; known: {sorted(CORRUPTIONS)}")
    severity = check_number("corrupt", "severity", severity, low=1, high=5, integer=True)
    x = (images + 1) / 2
    out = CORRUPTIONS[kind](x, SEVERITY[kind][severity - 1], generator)
    return (out.clamp(0, 1) * 2 - 1).to(images.dtype)
