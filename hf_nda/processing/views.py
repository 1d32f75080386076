"""Positive views for contrastive learning: the MoCo-v2 / SimCLR augmentation, batched on the
batch's device and seeded (random resized crop + flip through one ``grid_sample``, colour jitter and
grayscale where there is colour, Gaussian blur with a per-image sigma as one grouped convolution)."""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from . import _random as rnd
from .base import BatchTransform, check_number, register


def _sample_crop(x, generator, scale, ratio, flip_p) -> dict:
    """RandomResizedCrop + flip draws: crop size as a fraction of the side, centre in [-1, 1]."""
    n = x.shape[0]
    area = scale[0] + (scale[1] - scale[0]) * rnd.uniform((n,), generator, x)
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * rnd.uniform((n,), generator, x)
    aspect = torch.exp(log_r)
    w = torch.sqrt(area * aspect).clamp(max=1.0)
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (1 - w) * (2 * rnd.uniform((n,), generator, x) - 1)
    cy = (1 - h) * (2 * rnd.uniform((n,), generator, x) - 1)
    flip = rnd.uniform((n,), generator, x) < flip_p
    return {"crop_w": w, "crop_h": h, "crop_x": cx, "crop_y": cy, "flip": flip}


def _resized_crop_and_flip(x, p):
    n = x.shape[0]
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0] = p["crop_w"] * torch.where(p["flip"], -1.0, 1.0)
    theta[:, 0, 2] = p["crop_x"]
    theta[:, 1, 1], theta[:, 1, 2] = p["crop_h"], p["crop_y"]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _sample_jitter(x, generator, strength, p, grayscale_p) -> dict:
    n, c = x.shape[:2]
    out = {"jitter": rnd.uniform((n,), generator, x) < p}
    for key in ("brightness", "contrast", "saturation"):
        out[key] = 1 + strength * (2 * rnd.uniform((n,), generator, x) - 1)
    if c == 3:
        return {**out, "grayscale": rnd.uniform((n,), generator, x) < grayscale_p}
    return {**out, "grayscale": torch.zeros(n, dtype=torch.bool, device=x.device)}  # no colour: nothing drawn


def _jitter(x, p):
    """x in [0, 1]. Brightness, contrast, saturation (RGB) in one fixed order; hue is not jittered."""
    n, c = x.shape[:2]
    per_image = lambda v: v.to(x.dtype).view(n, 1, 1, 1)  # noqa: E731
    y = x * per_image(p["brightness"])
    mean = y.mean(dim=(1, 2, 3), keepdim=True)
    y = (y - mean) * per_image(p["contrast"]) + mean
    if c == 3:
        luma = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        gray = (y * luma).sum(1, keepdim=True)
        y = gray + (y - gray) * per_image(p["saturation"])
        gray = (y * luma).sum(1, keepdim=True)
        y = torch.lerp(y, gray.expand_as(y), per_image(p["grayscale"]))
    return torch.lerp(x, y.clamp(0, 1), per_image(p["jitter"]))


def _sample_blur(x, generator, p, sigma_range) -> dict:
    n = x.shape[0]
    sigma = sigma_range[0] + (sigma_range[1] - sigma_range[0]) * rnd.uniform((n,), generator, x)
    return {"sigma": sigma, "blur": rnd.uniform((n,), generator, x) < p}


def _blur(x, p):
    n, c, h, w = x.shape
    radius = max(1, int(0.05 * min(h, w)))  # kernel ≈ 10 % of the side, as SimCLR
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-(t[None] ** 2) / (2 * p["sigma"][:, None].to(x.dtype) ** 2))
    k = k / k.sum(dim=1, keepdim=True)
    identity = (t == 0).to(x.dtype).expand(n, -1)
    k = torch.where(p["blur"][:, None], k, identity)  # N, 2r+1
    weight = k.repeat_interleave(c, dim=0)  # one kernel per (image, channel) plane
    planes = F.pad(x.reshape(1, n * c, h, w), (radius, radius, radius, radius), mode="reflect")
    planes = F.conv2d(planes, weight.view(n * c, 1, 1, -1), groups=n * c)
    planes = F.conv2d(planes, weight.view(n * c, 1, -1, 1), groups=n * c)
    return planes.view(n, c, h, w)


@register("mocov2")
@dataclasses.dataclass
class MoCoV2Views(BatchTransform):
    """The MoCo-v2 positive-view augmentation: RandomResizedCrop(scale) + flip, colour jitter (p=0.8,
    RGB adds saturation and 20 % grayscale), Gaussian blur (p=0.5, σ ∈ [0.1, 2]).

    Differentiable with respect to the images (and to the float params). Params, N rows each:
    ``crop_w``, ``crop_h`` (crop size as a fraction of the side), ``crop_x``, ``crop_y`` (crop centre in
    [-1, 1]), ``flip``, ``jitter`` (bool: jitter on), ``brightness``, ``contrast``, ``saturation``
    (factors), ``grayscale`` (bool, always False for non-RGB), ``blur`` (bool), ``sigma``.

    Example:
        >>> views = MoCoV2Views()
        >>> a = views(torch.rand(8, 1, 32, 32) * 2 - 1, generator=torch.Generator().manual_seed(0))
        >>> a.shape
        torch.Size([8, 1, 32, 32])
    """

    scale_min: float = 0.2
    jitter: float = 0.4
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    blur_p: float = 0.5
    param_keys = ("crop_w", "crop_h", "crop_x", "crop_y", "flip", "jitter", "brightness", "contrast",
                  "saturation", "grayscale", "blur", "sigma")

    def __post_init__(self):
        owner = "MoCoV2Views"
        # scale_min: smallest crop area fraction; jitter: colour-jitter strength (factors 1 ± jitter); *_p: probabilities
        self.scale_min = check_number(owner, "scale_min", self.scale_min, low=0, high=1, low_open=True)
        for name in ("jitter", "jitter_p", "grayscale_p", "blur_p"):
            setattr(self, name, check_number(owner, name, getattr(self, name), low=0, high=1))

    def _sample(self, images, other, generator, labels):
        crop = _sample_crop(images, generator, (self.scale_min, 1.0), (3 / 4, 4 / 3), 0.5)
        jitter = _sample_jitter(images, generator, self.jitter, self.jitter_p, self.grayscale_p)
        return {**crop, **jitter, **_sample_blur(images, generator, self.blur_p, (0.1, 2.0))}

    def _apply(self, images, params, other):
        x = _resized_crop_and_flip(images, params)
        x = _jitter((x + 1) / 2, params)
        x = _blur(x, params)
        return (x * 2 - 1).clamp(-1, 1)
