"""The batch-transform contract shared by negative (NDA) and positive (PDA) transforms.

A transform is a small, config-serialisable object called on a whole batch:

    images: float tensor N,C,H,W (or N,T,C,H,W for video) in [-1, 1]
    returns: a tensor of the same shape, dtype and device

Video clips get the *same* transform on every frame: frames are folded into the channel axis,
so the per-image random parameters (permutation, patch, partner, weight) are shared by the clip.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch

from ._random import randint

TRANSFORMS: dict[str, type["BatchTransform"]] = {}


def register(name: str):
    """Class decorator adding a transform to the by-name registry."""

    def wrap(cls):
        cls.name = name
        TRANSFORMS[name] = cls
        return cls

    return wrap


def check_batch(images, *, what: str = "images", finite: bool = True) -> None:
    """Raise a ValueError that names the problem when ``images`` is not a float 4-D/5-D batch."""
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{what} must be a torch.Tensor of shape N,C,H,W; got {type(images).__name__}. "
                         "Use NDAImageProcessor to turn PIL/numpy images into pixel_values.")
    if images.ndim not in (4, 5):
        raise ValueError(f"{what} must be 4-D (N,C,H,W) or 5-D video (N,T,C,H,W); got shape "
                         f"{tuple(images.shape)}. Add a batch axis with images.unsqueeze(0) for one image.")
    if not images.is_floating_point():
        raise ValueError(f"{what} must be a float tensor in [-1, 1]; got dtype {images.dtype}. "
                         "Convert uint8 images with NDAImageProcessor or images.float() / 127.5 - 1.")
    if images.shape[0] == 0:
        raise ValueError(f"{what} is an empty batch (N = 0).")
    # One reduction instead of isfinite().all(): the sum is NaN/inf exactly when an entry is.
    if finite and not torch.isfinite(images.sum()):
        raise ValueError(f"{what} contain NaN or infinite values; clean the input before transforming it.")


@dataclasses.dataclass
class BatchTransform:
    """Base class: validation, video folding, (de)serialisation. Subclasses implement ``apply``."""

    name: ClassVar[str] = "base"
    needs_pair: ClassVar[bool] = False  # True when the transform mixes in a second image

    def __call__(self, images: torch.Tensor, other: torch.Tensor | None = None, *,
                 generator: torch.Generator | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_batch(images)
        if other is not None:
            check_batch(other, what="other")
            if other.shape != images.shape:
                raise ValueError(f"{self.name} mixes two images of one shape; images {tuple(images.shape)} "
                                 f"vs other {tuple(other.shape)}.")
        elif self.needs_pair and images.shape[0] < 2:
            raise ValueError(f"{self.name} takes its second image from the batch, which needs at least "
                             "2 images; pass a bigger batch or `other=`.")
        if images.ndim == 5:
            n, t, c, h, w = images.shape
            fold = lambda x: None if x is None else x.reshape(n, t * c, h, w)  # noqa: E731
            return self.apply(fold(images), fold(other), generator, labels).reshape(n, t, c, h, w)
        return self.apply(images, other, generator, labels)

    def apply(self, images, other, generator, labels) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> dict:
        """JSON-ready description, inverse of :func:`transform_from_dict`."""
        return {"name": self.name, **dataclasses.asdict(self)}


def transform_from_dict(spec: dict) -> BatchTransform:
    """Rebuild a transform from :meth:`BatchTransform.to_dict` output."""
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in TRANSFORMS:
        raise ValueError(f"unknown transform {name!r}; known: {sorted(TRANSFORMS)}")
    return TRANSFORMS[name](**spec)


def get_transform(spec: str | dict | BatchTransform) -> BatchTransform:
    """Build a transform by name: ``"jigsaw"``, ``"jigsaw-3"`` (first parameter after the dash),
    ``"mixup-2.0"``, a dict from ``to_dict()``, or an instance (returned as is).

    Example:
        >>> get_transform("jigsaw-3")
        Jigsaw(k=3)
    """
    if isinstance(spec, BatchTransform):
        return spec
    if isinstance(spec, dict):
        return transform_from_dict(spec)
    name, _, arg = spec.strip().lower().partition("-")
    if name not in TRANSFORMS:
        raise ValueError(f"unknown transform {spec!r}; known: {sorted(TRANSFORMS)} "
                         "(a parameter can follow a dash, e.g. 'jigsaw-3')")
    cls = TRANSFORMS[name]
    if not arg:
        return cls()
    fields = [f for f in dataclasses.fields(cls) if f.init]
    if not fields:
        raise ValueError(f"transform {name!r} takes no parameter, got {spec!r}")
    first = fields[0]
    try:
        value = float(arg)
    except ValueError:
        raise ValueError(f"cannot read {arg!r} as {first.name} of {name!r}") from None
    if isinstance(first.default, int) and value.is_integer():
        value = int(value)
    return cls(**{first.name: value})


@dataclasses.dataclass
class OneOf(BatchTransform):
    """Apply one of several transforms to each image, chosen uniformly per image.

    Each member runs once, on its share of the batch, so a mixture costs what one transform costs.

    Example:
        >>> t = OneOf([get_transform("jigsaw"), get_transform("cutout")])
        >>> t(torch.rand(8, 1, 32, 32), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([8, 1, 32, 32])
    """

    transforms: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        self.transforms = [get_transform(t) for t in self.transforms]
        if not self.transforms:
            raise ValueError("OneOf needs at least one transform")
        self.needs_pair = any(t.needs_pair for t in self.transforms)

    def apply(self, images, other, generator, labels):
        if len(self.transforms) == 1:
            return self.transforms[0].apply(images, other, generator, labels)
        choice = randint(0, len(self.transforms), (images.shape[0],), generator, images)
        out = torch.empty_like(images)
        for i, transform in enumerate(self.transforms):
            rows = (choice == i).nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            if transform.needs_pair and other is None and rows.numel() < 2:
                # a lone image has no partner inside its share: pair it with the whole batch
                mixed = transform.apply(images, None, generator, labels)
                out[rows] = mixed[rows]
                continue
            pick = lambda x: None if x is None else x[rows]  # noqa: E731
            out[rows] = transform.apply(images[rows], pick(other), generator, pick(labels))
        return out

    def to_dict(self) -> dict:
        return {"name": "oneof", "transforms": [t.to_dict() for t in self.transforms]}


TRANSFORMS["oneof"] = OneOf
OneOf.name = "oneof"
