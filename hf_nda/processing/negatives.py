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
from .base import BatchTransform, check_number, register


def _sample_partner(n, other, generator, like) -> dict:
    """A mixing transform's partner row per image: drawn from the batch, or none with ``other``."""
    return {} if other is not None else {"partner": rnd.other_index(n, generator, like)}


def _partner(images, params, other):
    """A fresh tensor holding each image's second image: row ``params["partner"]`` of ``other`` (when
    given) or of the batch, else ``other`` row for row."""
    partner = params.get("partner")
    if partner is not None:
        return (images if other is None else other).index_select(0, partner)
    if other is None:
        raise _no_partner_error()
    return other.clone()


def _no_partner_error() -> ValueError:
    return ValueError("params have no 'partner' (they were drawn for a separate `other` batch): pass that batch, "
                      "apply(images, params, other), or set params['partner'] to batch row indices")


def _sample_box(images, generator, min_frac: float, max_frac: float) -> dict:
    """One random rectangle per image, each side in [min_frac, max_frac] of the image side, placed
    uniformly where it fits: LongTensors ``top``, ``height``, ``left``, ``width`` (N each)."""
    n, _, h, w = images.shape
    box = {}
    for side, (start_key, length_key) in ((h, ("top", "height")), (w, ("left", "width"))):
        lo, hi = max(1, math.ceil(side * min_frac)), max(1, math.floor(side * max_frac))
        if lo > hi:
            raise ValueError(f"image side {side} is too small for a patch between {min_frac:.3g} and "
                             f"{max_frac:.3g} of it")
        box[length_key] = rnd.randint(lo, hi + 1, (n,), generator, images)
        box[start_key] = rnd.randint(0, side - box[length_key] + 1, (n,), generator, images)
    return box


def _box_indicators(images, box):
    """Float 0/1 row and column indicators of ``box``, N,1,H,1 and N,1,1,W."""
    axes = []
    h, w = images.shape[-2:]
    for side, start, length in ((h, box["top"], box["height"]), (w, box["left"], box["width"])):
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
    n, (c, h, w) = src_image.shape[0], images.shape[1:]  # the source pool may hold more images than the output
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


def permute_tiles(images, k: int, perm: torch.Tensor) -> torch.Tensor:
    """Cut each image into a k×k grid; output tile ``s`` (row-major) is input tile ``perm[b, s]``.

    ``perm``: LongTensor N,k². Shared by :class:`Jigsaw` and the discrete
    :class:`~hf_nda.processing.discrete.JigsawPermutations`.
    """
    _check_grid(f"a {k}x{k} tile permutation", images, k)
    if perm.shape != (images.shape[0], k * k):
        raise ValueError(f"tile permutations must have shape ({images.shape[0]}, {k * k}), one row per image; "
                         f"got {tuple(perm.shape)}")
    same_image = torch.arange(images.shape[0], device=images.device)[:, None].expand_as(perm)
    return _gather_tiles(images, k, same_image, perm)


@register("jigsaw")
@dataclasses.dataclass
class Jigsaw(BatchTransform):
    """Cut each image into a k×k grid and shuffle the tiles with a random non-identity permutation.

    Params: ``perm`` (LongTensor N,k²): output tile s (row-major) is input tile ``perm[:, s]``.
    ``JigsawPermutations(k).index_of(perm)`` numbers them as the discrete set does.

    Example:
        >>> x = torch.rand(8, 3, 32, 32) * 2 - 1
        >>> Jigsaw(k=2)(x, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([8, 3, 32, 32])
        >>> Jigsaw(k=2).apply(x, {"perm": torch.tensor([[1, 0, 3, 2]]).expand(8, 4)}).shape
        torch.Size([8, 3, 32, 32])
    """

    k: int = 2
    param_keys = ("perm",)

    def __post_init__(self):
        self.k = check_number("Jigsaw", "k", self.k, low=2, integer=True, meaning="grid size (k×k tiles)")

    def _sample(self, images, other, generator, labels):
        _check_grid(f"Jigsaw k={self.k}", images, self.k)
        return {"perm": non_identity_permutations(images.shape[0], self.k * self.k, generator, images)}

    def _apply(self, images, params, other):
        return permute_tiles(images, self.k, params["perm"])


@register("stitch")
@dataclasses.dataclass
class Stitch(BatchTransform):
    """Join one half of an image with the other half of a different image, cut horizontally
    (H/2 × W halves) or vertically (H × W/2) at random.

    Params: ``horizontal`` (BoolTensor N: cut across, keeping the top half) and ``partner``
    (LongTensor N, the row of ``other``, or of the batch without it, giving the second half; absent
    when drawn for an ``other`` batch, which then gives row i to image i).

    Example:
        >>> Stitch()(torch.zeros(4, 1, 28, 28), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 1, 28, 28])
    """

    needs_pair = True
    param_keys = ("horizontal",)
    optional_param_keys = ("partner",)

    def _sample(self, images, other, generator, labels):
        _check_grid("Stitch", images, 2)
        params = _sample_partner(images.shape[0], other, generator, images)
        params["horizontal"] = rnd.uniform((images.shape[0],), generator, images) < 0.5
        return params

    def _apply(self, images, params, other):
        _check_grid("Stitch", images, 2)
        n = images.shape[0]
        partner = params.get("partner")
        if other is not None:  # stitch against a separate batch: stack it after this one
            images = torch.cat([images, other])
            partner = n + (torch.arange(n, device=images.device) if partner is None else partner)
        elif partner is None:
            raise _no_partner_error()
        # 2×2 tiles 0 1 / 2 3: a horizontal cut takes tiles 2, 3 from the partner, a vertical one 1, 3
        second_half = torch.where(params["horizontal"][:, None],
                                  torch.tensor([False, False, True, True], device=images.device),
                                  torch.tensor([False, True, False, True], device=images.device))
        own = torch.arange(n, device=images.device)
        src_image = torch.where(second_half, partner[:, None], own[:, None])
        same_tile = torch.arange(4, device=images.device).expand(n, 4)
        return _gather_tiles(images, 2, src_image, same_tile)


_BOX_KEYS = ("top", "height", "left", "width")


def _check_fracs(owner: str, transform) -> None:
    """``min_frac`` and ``max_frac`` (patch side / image side) in (0, 1] with min_frac <= max_frac."""
    for name in ("min_frac", "max_frac"):
        setattr(transform, name, check_number(owner, name, getattr(transform, name), low=0, high=1, low_open=True,
                                              meaning="patch side fraction"))
    if transform.min_frac > transform.max_frac:
        raise ValueError(f"{owner} needs min_frac <= max_frac (the patch side ranges between them), got "
                         f"min_frac={transform.min_frac:g} > max_frac={transform.max_frac:g}")


@register("cutout")
@dataclasses.dataclass
class Cutout(BatchTransform):
    """Fill a random patch (sides between ``min_frac`` and ``max_frac`` of the image) with the
    patch's own mean value per channel (App. B; DeVries & Taylor zero-fill it instead).

    Params: the patch, LongTensors ``top``, ``height``, ``left``, ``width`` (N each, pixels).

    Example:
        >>> Cutout()(torch.rand(4, 3, 32, 32), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 3, 32, 32])
    """

    min_frac: float = 1 / 3
    max_frac: float = 1 / 2
    param_keys = _BOX_KEYS

    def __post_init__(self):
        _check_fracs("Cutout", self)

    def _sample(self, images, other, generator, labels):
        return _sample_box(images, generator, self.min_frac, self.max_frac)

    def _apply(self, images, params, other):
        rows, cols = _box_indicators(images, params)
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

    Params: the patch as :class:`Cutout`'s, and ``partner`` as :class:`Stitch`'s.

    Example:
        >>> CutMix()(torch.rand(4, 3, 32, 32), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 3, 32, 32])
    """

    min_frac: float = 1 / 3
    max_frac: float = 1 / 2
    needs_pair = True
    param_keys = _BOX_KEYS
    optional_param_keys = ("partner",)

    def __post_init__(self):
        _check_fracs("CutMix", self)

    def _sample(self, images, other, generator, labels):
        box = _sample_box(images, generator, self.min_frac, self.max_frac)
        return {**box, **_sample_partner(images.shape[0], other, generator, images)}

    def _apply(self, images, params, other):
        rows, cols = _box_indicators(images, params)
        outside = 1 - rows * cols
        return _partner(images, params, other).lerp_(images, outside)  # fresh copy, edited in place


@register("mixup")
@dataclasses.dataclass
class Mixup(BatchTransform):
    """γ·x + (1-γ)·y with γ ~ Beta(α, α) per image. App. B picks α so the density peaks at 0.5,
    which needs α > 1; the default α = 2 gives a smooth bump around 0.5.

    Params: ``weight`` (float N, γ) and ``partner`` as :class:`Stitch`'s.

    Example:
        >>> Mixup(alpha=2.0)(torch.rand(4, 3, 32, 32), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 3, 32, 32])
    """

    alpha: float = 2.0
    needs_pair = True
    param_keys = ("weight",)
    optional_param_keys = ("partner",)

    def __post_init__(self):
        self.alpha = check_number("Mixup", "alpha", self.alpha, low=0, low_open=True,
                                  meaning="Beta(alpha, alpha) concentration")

    def _sample(self, images, other, generator, labels):
        weight = rnd.beta(self.alpha, self.alpha, images.shape[0], generator, images)
        return {"weight": weight, **_sample_partner(images.shape[0], other, generator, images)}

    def _apply(self, images, params, other):
        gamma = params["weight"].to(images.dtype).view(-1, 1, 1, 1)
        return _partner(images, params, other).lerp_(images, gamma)  # γ·x + (1-γ)·y


@register("otherclass")
@dataclasses.dataclass
class OtherClass(BatchTransform):
    """Use images of *other* classes as negatives (App. A): row i becomes a random batch image whose
    label differs from ``labels[i]``; with ``negative_labels`` set, only images of those classes.

    Params: ``source`` (LongTensor N, the batch row that replaces each image); only drawing them
    needs the labels.

    Example:
        >>> x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 0, 1, 1, 2, 2])
        >>> OtherClass()(x, labels=y, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([6, 1, 8, 8])
    """

    negative_labels: list | None = None
    param_keys = ("source",)

    def __post_init__(self):
        if self.negative_labels is None:
            return
        values = self.negative_labels
        if isinstance(values, torch.Tensor):
            values = values.tolist()
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f"OtherClass needs negative_labels as a non-empty list of class ids (or None for every "
                             f"other class), got negative_labels={self.negative_labels!r:.60}")
        self.negative_labels = [check_number("OtherClass", "negative_labels", v, integer=True, meaning="class id in")
                                for v in values]

    def _sample(self, images, other, generator, labels):
        if labels is None:
            raise ValueError("OtherClass needs the batch labels: call it as t(images, labels=labels)")
        try:
            labels = torch.as_tensor(labels, device=images.device)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"OtherClass labels must be integer class ids, one per image; got "
                             f"{type(labels).__name__}") from None
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise ValueError(f"OtherClass labels must be integer class ids (torch.long), got dtype {labels.dtype}")
        allowed = labels[None, :] != labels[:, None]
        if self.negative_labels is not None:
            negative = torch.as_tensor(self.negative_labels, device=labels.device)
            allowed &= torch.isin(labels, negative)[None, :]
        if not allowed.any(dim=1).all():
            raise ValueError("some images have no image of another (allowed) class in the batch; "
                             "use bigger or class-mixed batches")
        weights = allowed.to(torch.float32).to(rnd.draw_device(generator, images))
        picks = torch.multinomial(weights, 1, generator=generator).squeeze(1).to(images.device)
        return {"source": picks}

    def _apply(self, images, params, other):
        return images[params["source"]]
