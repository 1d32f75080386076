"""Negative data augmentations (NDA), as defined in Appendix B of Sinha et al., ICLR 2021.

Each transform works on the whole batch at once (no per-image Python loop) and takes an optional
``torch.Generator``; see :mod:`hf_nda.processing.base` for the calling contract.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import torch

from . import _random as rnd
from .base import BatchTransform, register


def _partner(images, other, generator):
    """A fresh tensor holding the second image of a two-image transform: ``other``, or another
    image of the batch for each row."""
    if other is not None:
        return other.clone()
    return images.index_select(0, rnd.other_index(images.shape[0], generator, images))


def _random_box(images, generator, min_frac: float, max_frac: float):
    """One random rectangle per image, each side in [min_frac, max_frac] of the image side, placed
    uniformly where it fits. Returns float 0/1 row and column indicators, N,1,H,1 and N,1,1,W."""
    n, _, h, w = images.shape
    axes = []
    for side in (h, w):
        lo, hi = max(1, math.ceil(side * min_frac)), max(1, math.floor(side * max_frac))
        if lo > hi:
            raise ValueError(f"image side {side} is too small for a patch between {min_frac:.3g} and "
                             f"{max_frac:.3g} of it")
        length = rnd.randint(lo, hi + 1, (n,), generator, images)
        start = rnd.randint(0, side - length + 1, (n,), generator, images)
        pos = torch.arange(side, device=images.device)
        axes.append(((pos >= start[:, None]) & (pos < (start + length)[:, None])).to(images.dtype))
    rows, cols = axes
    return rows[:, None, :, None], cols[:, None, None, :]


@functools.lru_cache(maxsize=32)
def _tile_tables(c: int, h: int, k: int, device: torch.device):
    """Index tables for :func:`_gather_tiles`: which output tile each tile-row lies in, the offset of
    a tile-row inside its tile, and each channel's offset."""
    th = h // k
    y = torch.arange(h, device=device)[:, None]
    jx = torch.arange(k, device=device)[None, :]
    slot = ((y // th) * k + jx).reshape(-1)
    within = ((y % th) * k + 0 * jx).reshape(-1)
    channel = (torch.arange(c, device=device) * (h * k))[None, :, None]
    return slot, within, channel


def _gather_tiles(images, k: int, src_image: torch.Tensor, src_tile: torch.Tensor) -> torch.Tensor:
    """Tile ``s`` (row-major in a k×k grid) of output image ``b`` is tile ``src_tile[b, s]`` of input
    image ``src_image[b, s]``.

    Done as one ``index_select`` over tile rows (runs of W/k contiguous pixels): one pass over
    memory. A per-pixel gather or a permute-copy-permute costs several times more on CPU.
    """
    n, c, h, w = images.shape
    th, tw = h // k, w // k
    slot, within, channel = _tile_tables(c, h, k, images.device)
    tile_offset = src_image * (c * h * k) + (src_tile // k) * (th * k) + src_tile % k  # n, k*k
    rows = tile_offset[:, slot] + within  # n, h*k
    index = (rows[:, None, :] + channel).reshape(-1)
    return images.reshape(-1, tw).index_select(0, index).view(n, c, h, w)


def non_identity_permutations(n: int, size: int, generator, like) -> torch.Tensor:
    """``n`` uniform random permutations of ``range(size)``, none of them the identity."""
    if size < 2:
        raise ValueError("a permutation of fewer than 2 items is always the identity")
    perms = torch.argsort(rnd.uniform((n, size), generator, like), dim=1)
    identity = torch.arange(size, device=like.device)
    redo = (perms == identity).all(dim=1)
    while redo.any():  # rejection keeps the draw uniform over the size! - 1 non-identity ones
        perms[redo] = torch.argsort(rnd.uniform((int(redo.sum()), size), generator, like), dim=1)
        redo = (perms == identity).all(dim=1)
    return perms


def _check_grid(name: str, images, k: int) -> None:
    h, w = images.shape[-2:]
    if h % k or w % k:
        raise ValueError(f"{name} needs image sides divisible by {k}, got {h}x{w}; resize the images "
                         f"(NDAImageProcessor size=...)" + (" or pick a k that divides both sides" if k > 2 else ""))


@register("jigsaw")
@dataclasses.dataclass
class Jigsaw(BatchTransform):
    """Cut each image into a k×k grid and shuffle the tiles with a random non-identity permutation.

    Example:
        >>> x = torch.rand(8, 3, 32, 32) * 2 - 1
        >>> Jigsaw(k=2)(x, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([8, 3, 32, 32])
    """

    k: int = 2

    def __post_init__(self):
        if int(self.k) != self.k or self.k < 2:
            raise ValueError(f"Jigsaw needs an integer grid size k >= 2, got k={self.k}")
        self.k = int(self.k)

    def apply(self, images, other, generator, labels):
        _check_grid(f"Jigsaw k={self.k}", images, self.k)
        n = images.shape[0]
        perms = non_identity_permutations(n, self.k * self.k, generator, images)
        same_image = torch.arange(n, device=images.device)[:, None].expand_as(perms)
        return _gather_tiles(images, self.k, same_image, perms)


@register("stitch")
@dataclasses.dataclass
class Stitch(BatchTransform):
    """Join one half of an image with the other half of a different image, cut horizontally
    (H/2 × W halves) or vertically (H × W/2) at random.

    Example:
        >>> Stitch()(torch.zeros(4, 1, 28, 28), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 1, 28, 28])
    """

    needs_pair = True

    def apply(self, images, other, generator, labels):
        _check_grid("Stitch", images, 2)
        n = images.shape[0]
        if other is not None:  # stitch against a separate batch: stack it after this one
            images, partner = torch.cat([images, other]), torch.arange(n, 2 * n, device=images.device)
        else:
            partner = rnd.other_index(n, generator, images)
        horizontal = rnd.uniform((n,), generator, images) < 0.5
        # 2×2 tiles 0 1 / 2 3: a horizontal cut takes tiles 2, 3 from the partner, a vertical one 1, 3
        second_half = torch.where(horizontal[:, None], torch.tensor([False, False, True, True], device=images.device),
                                  torch.tensor([False, True, False, True], device=images.device))
        own = torch.arange(n, device=images.device)
        src_image = torch.where(second_half, partner[:, None], own[:, None])
        same_tile = torch.arange(4, device=images.device).expand(n, 4)
        return _gather_tiles(images, 2, src_image, same_tile)


@register("cutout")
@dataclasses.dataclass
class Cutout(BatchTransform):
    """Fill a random patch (sides between ``min_frac`` and ``max_frac`` of the image) with the
    patch's own mean value per channel (App. B; DeVries & Taylor zero-fill it instead).

    Example:
        >>> Cutout()(torch.rand(4, 3, 32, 32), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 3, 32, 32])
    """

    min_frac: float = 1 / 3
    max_frac: float = 1 / 2

    def apply(self, images, other, generator, labels):
        rows, cols = _random_box(images, generator, self.min_frac, self.max_frac)
        box_sum = rows.transpose(2, 3) @ images @ cols.transpose(2, 3)  # N,C,1,1
        mean = box_sum / (rows.sum(dim=2, keepdim=True) * cols.sum(dim=3, keepdim=True))
        mask = rows * cols
        # lerp with a 0/1 weight is exact at both ends, and in place it needs no temporary batch
        # (fresh multi-MB temporaries cost page faults on CPU, more than the arithmetic)
        return images.clone().lerp_(mean.expand_as(images), mask)


@register("cutmix")
@dataclasses.dataclass
class CutMix(BatchTransform):
    """Paste the same random patch from another image (patch sides as :class:`Cutout`).

    Example:
        >>> CutMix()(torch.rand(4, 3, 32, 32), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 3, 32, 32])
    """

    min_frac: float = 1 / 3
    max_frac: float = 1 / 2
    needs_pair = True

    def apply(self, images, other, generator, labels):
        rows, cols = _random_box(images, generator, self.min_frac, self.max_frac)
        outside = 1 - rows * cols
        return _partner(images, other, generator).lerp_(images, outside)  # fresh copy, edited in place


@register("mixup")
@dataclasses.dataclass
class Mixup(BatchTransform):
    """γ·x + (1-γ)·y with γ ~ Beta(α, α) per image. App. B picks α so the density peaks at 0.5,
    which needs α > 1; the default α = 2 gives a smooth bump around 0.5.

    Example:
        >>> Mixup(alpha=2.0)(torch.rand(4, 3, 32, 32), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 3, 32, 32])
    """

    alpha: float = 2.0
    needs_pair = True

    def __post_init__(self):
        if not self.alpha > 0:
            raise ValueError(f"Mixup needs alpha > 0, got {self.alpha}")

    def apply(self, images, other, generator, labels):
        gamma = rnd.beta(self.alpha, self.alpha, images.shape[0], generator, images)
        gamma = gamma.to(images.dtype).view(-1, 1, 1, 1)
        return _partner(images, other, generator).lerp_(images, gamma)  # γ·x + (1-γ)·y


@register("otherclass")
@dataclasses.dataclass
class OtherClass(BatchTransform):
    """Use images of *other* classes as negatives (App. A): row i becomes a random batch image whose
    label differs from ``labels[i]``; with ``negative_labels`` set, only images of those classes.

    Example:
        >>> x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 0, 1, 1, 2, 2])
        >>> OtherClass()(x, labels=y, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([6, 1, 8, 8])
    """

    negative_labels: list | None = None

    def apply(self, images, other, generator, labels):
        if labels is None:
            raise ValueError("OtherClass needs the batch labels: call it as t(images, labels=labels)")
        labels = torch.as_tensor(labels, device=images.device)
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
        allowed = labels[None, :] != labels[:, None]
        if self.negative_labels is not None:
            negative = torch.as_tensor(self.negative_labels, device=labels.device)
            allowed &= torch.isin(labels, negative)[None, :]
        if not allowed.any(dim=1).all():
            raise ValueError("some images have no image of another (allowed) class in the batch; "
                             "use bigger or class-mixed batches")
        weights = allowed.to(torch.float32).to(rnd.draw_device(generator, images))
        picks = torch.multinomial(weights, 1, generator=generator).squeeze(1).to(images.device)
        return images[picks]
