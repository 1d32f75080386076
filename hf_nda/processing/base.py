"""The batch-transform contract shared by negative (NDA) and positive (PDA) transforms.

A transform is a small, config-serialisable object called on a whole batch:

    images: float tensor N,C,H,W (or N,T,C,H,W for video) in [-1, 1]
    returns: a tensor of the same shape, dtype and device

It can also be called in two halves, so the randomness can be chosen (a learned policy, a fixed
draw replayed, a discrete family applied by index):

    params = t.sample_params(images, other, generator=g, labels=y)  # dict of tensors, N rows each
    out = t.apply(images, params, other)                            # no randomness

``t(images, other, generator=g, labels=y)`` is exactly ``t.apply(images, t.sample_params(...), other)``
with the same generator state, bit for bit. Each transform's docstring lists its params.

Video clips get the *same* transform on every frame: frames are folded into the channel axis,
so the per-image random parameters (permutation, patch, partner, weight) are shared by the clip.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
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
    """Raise a ValueError that names the problem when ``images`` is not a float 4-D/5-D batch (with
    ``finite``, also when it holds NaN/inf). The value range is not checked here: the geometric
    transforms work on any values (index images in tests, feature maps), and [-1, 1] is enforced
    where images come in — :class:`~hf_nda.processing.NDAImageProcessor`, the pipelines, the models."""
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
    if images.numel() == 0:
        raise ValueError(f"{what} has an empty axis (shape {tuple(images.shape)}); images need at least one "
                         "channel and one pixel.")
    # One reduction instead of isfinite().all(): the sum is NaN/inf exactly when an entry is.
    if finite and not torch.isfinite(images.detach().sum()):
        raise ValueError(f"{what} contain NaN or infinite values; clean the input before transforming it.")


def check_generator(generator) -> None:
    """A TypeError naming the fix unless ``generator`` is None or a ``torch.Generator``."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__} "
                        f"{generator!r:.40}; for a seed s pass generator=torch.Generator().manual_seed(s)")


def check_number(owner: str, name: str, value, *, low=None, high=None, low_open: bool = False,
                 high_open: bool = False, integer: bool = False, optional: bool = False, meaning: str = ""):
    """``value`` as a float (or int with ``integer``) within the given bounds, else a ValueError naming
    ``owner``'s parameter ``name``, what it is (``meaning``), its allowed range and the value. Strings,
    bools, NaN and infinities are refused; an integer parameter takes whole floats (``2.0``).

    Example:
        >>> check_number("Jigsaw", "k", 3.0, low=2, integer=True, meaning="grid size")
        3
        >>> check_number("Mixup", "alpha", 0, low=0, low_open=True)
        Traceback (most recent call last):
        ValueError: Mixup needs a number alpha in (0, inf), got alpha=0
    """
    if optional and value is None:
        return None
    lo = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
    hi = "" if high is None else f"{high:g}" + (")" if high_open else "]")
    kind = ("an integer" if integer else "a number") if not meaning else \
        ("an integer " if integer else "a ") + meaning
    allowed = f" in {lo or '(-inf'}, {hi or 'inf)'}" if (lo or hi) else ""
    fail = ValueError(f"{owner} needs {kind} {name}{allowed}, got {name}={value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not _is_real_scalar(value):
        raise fail
    value = float(value)
    if not math.isfinite(value) or (integer and not value.is_integer()):
        raise fail
    if low is not None and (value < low or low_open and value == low):
        raise fail
    if high is not None and (value > high or high_open and value == high):
        raise fail
    return int(value) if integer else value


def _is_real_scalar(value) -> bool:
    """numpy / torch real scalars (np.float32(0.5), torch.tensor(2)) count as numbers."""
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return isinstance(value, (np.integer, np.floating))
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    return isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_complex() and value.dtype != torch.bool


def _same(x):
    return x


@dataclasses.dataclass
class BatchTransform:
    """Base class: validation, video folding, (de)serialisation.

    Subclasses implement two hooks on a 4-D batch: ``_sample(images, other, generator, labels) ->
    params`` (all the randomness) and ``_apply(images, params, other) -> images`` (none of it), and
    list their params in ``param_keys`` (required) and ``optional_param_keys``.

    Example:
        >>> t, x = get_transform("cutout"), torch.rand(4, 3, 32, 32) * 2 - 1
        >>> params = t.sample_params(x, generator=torch.Generator().manual_seed(0))
        >>> sorted(params)
        ['height', 'left', 'top', 'width']
        >>> torch.equal(t.apply(x, params), t(x, generator=torch.Generator().manual_seed(0)))
        True
    """

    name: ClassVar[str] = "base"
    needs_pair: ClassVar[bool] = False  # True when the transform mixes in a second image
    param_keys: ClassVar[tuple[str, ...]] = ()
    optional_param_keys: ClassVar[tuple[str, ...]] = ()
    changes_shape: ClassVar[bool] = False  # True when the output's size differs from the input's

    def __call__(self, images: torch.Tensor, other: torch.Tensor | None = None, *,
                 generator: torch.Generator | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_generator(generator)
        x, other, unfold = self._prepare(images, other)
        return unfold(self._apply(x, self._sample(x, other, generator, labels), other))

    def sample_params(self, images: torch.Tensor, other: torch.Tensor | None = None, *,
                      generator: torch.Generator | None = None, labels: torch.Tensor | None = None) -> dict:
        """Draw this batch's random parameters (a dict of tensors with one row per image or clip).

        Only the batch's shape, dtype and device are read, never its pixels; pass ``other`` when the
        transform will mix with a separate batch, and ``labels`` where the transform needs them.
        """
        check_generator(generator)
        x, other, _ = self._prepare(images, other, finite=False)
        return self._sample(x, other, generator, labels)

    def apply(self, images: torch.Tensor, params: Mapping, other: torch.Tensor | None = None) -> torch.Tensor:
        """Apply given parameters (from :meth:`sample_params`, or chosen by hand); deterministic."""
        x, other, unfold = self._prepare(images, other)
        return unfold(self._apply(x, self._check_params(params, x, other), other))

    def _sample(self, images, other, generator, labels) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _apply(self, images, params, other) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _prepare(self, images, other, finite: bool = True):
        """Validate, and fold a video's frames into channels: (4-D images, 4-D other, unfold)."""
        check_batch(images, finite=finite)
        if other is not None:
            check_batch(other, what="other", finite=finite)
            if other.shape != images.shape:
                raise ValueError(f"{self.name} mixes two images of one shape; images {tuple(images.shape)} "
                                 f"vs other {tuple(other.shape)}.")
            if other.dtype != images.dtype or other.device != images.device:
                raise ValueError(f"{self.name} mixes two batches of one dtype and device; images are {images.dtype} "
                                 f"on {images.device}, other is {other.dtype} on {other.device}: convert other "
                                 "with other.to(images)")
        elif self.needs_pair and images.shape[0] < 2:
            raise ValueError(f"{self.name} takes its second image from the batch, which needs at least "
                             "2 images; pass a bigger batch or `other=`.")
        if images.ndim == 4:
            return images, other, _same
        n, t, c = images.shape[:3]
        fold = lambda x: None if x is None else x.reshape(n, t * c, *x.shape[-2:])  # noqa: E731
        return fold(images), fold(other), lambda y: y.reshape(n, t, c, *y.shape[-2:])

    def _check_params(self, params, images, other=None) -> dict:
        """The params as a dict on the batch's device; a ValueError naming the fix if they do not fit."""
        cls = type(self).__name__
        if not isinstance(params, Mapping):
            raise ValueError(f"{cls}.apply takes the dict that {cls}.sample_params() returns; got "
                             f"{type(params).__name__}")
        missing = [k for k in self.param_keys if k not in params]
        if missing:
            optional = f", optional {list(self.optional_param_keys)}" if self.optional_param_keys else ""
            raise ValueError(f"{cls} params lack {missing} (keys: {list(self.param_keys)}{optional}); "
                             f"draw them with .sample_params(images, generator=...) or build them by hand")
        out, n = dict(params), images.shape[0]
        for key in (*self.param_keys, *self.optional_param_keys):
            value = out.get(key)
            if not isinstance(value, torch.Tensor):
                if key in out:
                    raise ValueError(f"{cls} params[{key!r}] must be a torch.Tensor, got {type(value).__name__}")
                continue
            if value.ndim == 0 or value.shape[0] != n:
                raise ValueError(f"{cls} params[{key!r}] needs one row per image ({n}) along dim 0; got shape "
                                 f"{tuple(value.shape)}. Draw params for this batch with .sample_params(images)")
            out[key] = value.to(images.device)
        return out

    def to_dict(self) -> dict:
        """JSON-ready description, inverse of :func:`transform_from_dict`."""
        return {"name": self.name, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, spec: dict) -> "BatchTransform":
        """Rebuild a transform from :meth:`to_dict` output, checking it is a ``cls``."""
        transform = transform_from_dict(spec)
        if not isinstance(transform, cls):
            raise ValueError(f"{spec.get('name')!r} describes a {type(transform).__name__}, not a {cls.__name__}")
        return transform

    @classmethod
    def _build(cls, fields: dict) -> "BatchTransform":
        return cls(**fields)


def transform_from_dict(spec: dict) -> BatchTransform:
    """Rebuild a transform from :meth:`BatchTransform.to_dict` output."""
    if not isinstance(spec, Mapping):
        raise TypeError(f"a transform spec must be a dict from to_dict() (e.g. {{'name': 'jigsaw', 'k': 2}}); got "
                        f"{type(spec).__name__}")
    spec = dict(spec)
    name = spec.pop("name", None)
    if name not in TRANSFORMS:
        raise ValueError(f"unknown transform {name!r}; known: {sorted(TRANSFORMS)}")
    cls = TRANSFORMS[name]
    known = {f.name for f in dataclasses.fields(cls) if f.init} | ({"num_transforms"} if hasattr(cls, "num_transforms")
                                                                   else set())
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(f"transform {name!r} has no parameter {', '.join(map(repr, unknown))}; its parameters: "
                         f"{sorted(known)}")
    return cls._build(spec)


def get_transform(spec: str | dict | BatchTransform) -> BatchTransform:
    """Build a transform by name: ``"jigsaw"``, ``"jigsaw-3"`` (first parameter after the dash),
    ``"mixup-2.0"``, a dict from ``to_dict()``, or an instance (returned as is).

    A spec string is ``name`` or ``name-value``, where value is a finite number for the transform's
    first parameter (``k`` of jigsaw, ``min_frac`` of cutout, ``alpha`` of mixup, ...); the transform
    then validates it as if passed by keyword, so ``"jigsaw-inf"``, ``"jigsaw-0"`` or ``"mixup--1"``
    are ValueErrors naming the parameter.

    Example:
        >>> get_transform("jigsaw-3")
        Jigsaw(k=3)
    """
    if isinstance(spec, BatchTransform):
        return spec
    if isinstance(spec, Mapping):
        return transform_from_dict(spec)
    if not isinstance(spec, str):
        raise TypeError(f"a transform is given by name ('jigsaw', 'jigsaw-3'), a dict from to_dict() or a "
                        f"BatchTransform instance; got {type(spec).__name__} {spec!r:.40}")
    name, dash, arg = spec.strip().lower().partition("-")
    if name not in TRANSFORMS:
        raise ValueError(f"unknown transform {spec!r}; known: {sorted(TRANSFORMS)} "
                         "(a parameter can follow a dash, e.g. 'jigsaw-3')")
    cls = TRANSFORMS[name]
    if not dash:
        return cls()
    fields = [f for f in dataclasses.fields(cls) if f.init]
    if not fields:
        raise ValueError(f"transform {name!r} takes no parameter, got {spec!r}; write {name!r}")
    first = fields[0]
    try:
        value = float(arg)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        raise ValueError(f"cannot read {arg!r} in {spec!r} as {first.name} of {name!r}: write a finite number "
                         f"after the dash, e.g. '{name}-{first.default!r}'") from None
    if isinstance(first.default, int) and value.is_integer():
        value = int(value)
    return cls(**{first.name: value})


def check_index(indices, n: int, size: int, *, what: str = "indices") -> torch.Tensor:
    """``indices`` as a LongTensor of shape ``(n,)`` with values in ``[0, size)``, else a ValueError
    that names the fix. Lists and other integer dtypes are accepted and converted."""
    if not isinstance(indices, torch.Tensor):
        try:
            indices = torch.as_tensor(indices)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"{what} must be a LongTensor of shape ({n},); got {type(indices).__name__}") from None
    if indices.dtype == torch.bool or indices.is_floating_point() or indices.is_complex():
        raise ValueError(f"{what} must be an integer (torch.long) tensor; got dtype {indices.dtype}. Convert "
                         "with indices.long(), e.g. policy_logits.argmax(dim=1) is already long")
    if tuple(indices.shape) != (n,):
        raise ValueError(f"{what} must have shape ({n},), one index per image; got {tuple(indices.shape)}. "
                         f"For one index i for every image pass torch.full(({n},), i)")
    bad = (indices < 0) | (indices >= size)
    if bad.any():
        i = int(bad.nonzero()[0, 0])
        raise ValueError(f"{what}[{i}] = {int(indices[i])} is out of range: valid indices are 0..{size - 1}")
    return indices.long()


def _shaped_like(images: torch.Tensor, n: int) -> torch.Tensor:
    """A zero-copy stand-in for ``n`` images of the batch's shape, dtype and device (``_sample`` hooks
    read only those)."""
    return images[:1].expand(n, *images.shape[1:])


@dataclasses.dataclass
class OneOf(BatchTransform):
    """Apply one of several transforms to each image, chosen uniformly per image.

    Each member runs once, on its share of the batch, so a mixture costs what one transform costs.
    Params: ``choice`` (LongTensor N, the member per image) and ``members`` (a list with each
    member's params for its share of the batch, or None where no image chose it).
    ``sample_params(..., choice=c)`` lets a policy pick the members and draws only theirs.

    Example:
        >>> t = OneOf([get_transform("jigsaw"), get_transform("cutout")])
        >>> t(torch.rand(8, 1, 32, 32), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([8, 1, 32, 32])
        >>> p = t.sample_params(torch.rand(8, 1, 32, 32), choice=torch.zeros(8, dtype=torch.long))
        >>> p["members"][1] is None
        True
    """

    transforms: list = dataclasses.field(default_factory=list)
    param_keys = ("choice",)

    def __post_init__(self):
        if isinstance(self.transforms, (str, Mapping, BatchTransform)) or not isinstance(self.transforms, (list, tuple)):
            raise ValueError(f"OneOf needs transforms as a list (e.g. ['jigsaw', 'cutout']); got transforms="
                             f"{self.transforms!r:.60}" + (f" — for one transform write [{self.transforms!r}]"
                                                            if isinstance(self.transforms, str) else ""))
        self.transforms = [get_transform(t) for t in self.transforms]
        if not self.transforms:
            raise ValueError("OneOf needs at least one transform")
        resizing = [t.name for t in self.transforms if t.changes_shape]
        if resizing:
            raise ValueError(f"OneOf members must keep the image shape; {resizing} change it. Apply those on their own")
        self.needs_pair = any(t.needs_pair for t in self.transforms)

    def sample_params(self, images, other=None, *, generator=None, labels=None, choice=None) -> dict:
        """As :meth:`BatchTransform.sample_params`; ``choice`` (LongTensor N) fixes each image's member."""
        check_generator(generator)
        x, other, _ = self._prepare(images, other, finite=False)
        if choice is not None:
            choice = check_index(choice, x.shape[0], len(self.transforms), what="choice").to(x.device)
        return self._sample(x, other, generator, labels, choice)

    def _shares(self, choice, other):
        """Per member: (rows that chose it, whether it runs on the whole batch), or None if no row did."""
        counts = torch.bincount(choice, minlength=len(self.transforms)).tolist()
        shares = torch.sort(choice, stable=True).indices.split(counts)  # rows in ascending order, per member
        for transform, rows in zip(self.transforms, shares):
            # a lone image has no partner inside its share: pair it with the whole batch
            whole = transform.needs_pair and other is None and rows.numel() < 2
            yield (rows, whole) if rows.numel() else None

    def _sample(self, images, other, generator, labels, choice=None):
        n = images.shape[0]
        if len(self.transforms) == 1 and choice is None:
            return {"choice": torch.zeros(n, dtype=torch.long, device=images.device),
                    "members": [self.transforms[0]._sample(images, other, generator, labels)]}
        if choice is None:
            choice = randint(0, len(self.transforms), (n,), generator, images)
        members = []
        for transform, share in zip(self.transforms, self._shares(choice, other)):
            if share is None:
                members.append(None)
            elif share[1]:
                members.append(transform._sample(images, None, generator, labels))
            else:
                rows = share[0]
                pick = lambda x: None if x is None else x[rows]  # noqa: E731
                labels_ = None if labels is None else torch.as_tensor(labels, device=images.device)
                members.append(transform._sample(_shaped_like(images, rows.numel()), pick(other), generator,
                                                 pick(labels_)))
        return {"choice": choice, "members": members}

    def _apply(self, images, params, other):
        members = params["members"]
        if len(self.transforms) == 1:
            return self.transforms[0]._apply(images, members[0], other)
        out = torch.empty_like(images)
        for transform, share, p in zip(self.transforms, self._shares(params["choice"], other), members):
            if share is None:
                continue
            rows, whole = share
            if whole:
                out[rows] = transform._apply(images, p, None)[rows]
            else:
                out[rows] = transform._apply(images[rows], p, None if other is None else other[rows])
        return out

    def _check_params(self, params, images, other=None):
        out = super()._check_params(params, images, other)
        out["choice"] = check_index(out["choice"], images.shape[0], len(self.transforms), what="params['choice']")
        members = out.get("members")
        if not isinstance(members, (list, tuple)) or len(members) != len(self.transforms):
            raise ValueError(f"OneOf params['members'] must be a list of {len(self.transforms)} member params "
                             "(None for a member no image chose); draw them with .sample_params(images, ...)")
        checked = []
        for transform, share, p in zip(self.transforms, self._shares(out["choice"], other), members):
            if share is None:
                checked.append(p)
                continue
            rows, whole = share
            size = images.shape[0] if whole else rows.numel()
            checked.append(transform._check_params(p, _shaped_like(images, size), None if whole else other))
        out["members"] = checked
        return out

    def to_dict(self) -> dict:
        return {"name": "oneof", "transforms": [t.to_dict() for t in self.transforms]}


TRANSFORMS["oneof"] = OneOf
OneOf.name = "oneof"
