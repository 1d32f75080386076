"""The contract every generator COP-Gen navigates meets, and the file look-ups the adapters share.

A :class:`GeneratorAdapter` wraps a *frozen* image generator (no gradient to its weights, always in
eval mode) behind one interface: ``sample_latents(n, generator)`` draws codes from its prior,
``decode(z)`` maps them to N,C,H,W images in [-1, 1] (differentiable w.r.t. ``z``), ``encode(x)``
inverts it where the generator has an inverse, and ``describe()`` returns the keyword arguments of
:func:`~hf_nda.modeling.generators.load_generator` that load the same adapter again.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

HUB_KWARGS = ("cache_dir", "revision", "token", "local_files_only")  # passed through to huggingface_hub


def split_hub_kwargs(kwargs: dict) -> tuple[dict, dict]:
    """``(hub keyword arguments, the rest)``."""
    hub = {k: kwargs[k] for k in HUB_KWARGS if kwargs.get(k) is not None}
    return hub, {k: v for k, v in kwargs.items() if k not in HUB_KWARGS}


def resolve_file(source: str, filename: str, subfolder: str = "", **hub_kwargs) -> Path | None:
    """Local path of ``subfolder/filename`` in a local folder or a Hub repo (downloaded, or read from
    the cache offline); ``None`` when it is not there (or, offline, not cached)."""
    if os.path.isdir(source):
        path = Path(source, subfolder, filename)
        return path if path.is_file() else None
    if os.path.exists(source) or os.path.isabs(source) or source.startswith((".", "~")):
        raise ValueError(f"{source!r} is not a folder (no such local folder, and a path is not a Hub repo id)")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HFValidationError, HfHubHTTPError

    try:
        return Path(hf_hub_download(source, filename, subfolder=subfolder or None, **hub_kwargs))
    except EntryNotFoundError:  # includes LocalEntryNotFoundError: offline and not cached
        return None
    except (HFValidationError, HfHubHTTPError) as err:
        raise ValueError(f"{source!r} is neither a local folder nor a readable Hub repo id "
                         f"({type(err).__name__}: {err})") from err


def read_json(source: str, filename: str, subfolder: str = "", **hub_kwargs) -> dict | None:
    path = resolve_file(source, filename, subfolder, **hub_kwargs)
    return json.loads(path.read_text()) if path is not None else None


def model_type_at(source: str, subfolder: str = "", **hub_kwargs) -> str | None:
    """``model_type`` of the transformers ``config.json`` at ``source/subfolder`` (None if absent)."""
    config = read_json(source, "config.json", subfolder, **hub_kwargs)
    return config.get("model_type") if config else None


def standard_normal(shape: tuple, truncation: float | None, generator: torch.Generator | None,
                    device: torch.device) -> torch.Tensor:
    """N(0, I) of ``shape`` on ``device`` (the generator's, when one is given), truncated to
    [−truncation, truncation] (inverse-CDF, so one batched draw) when ``truncation`` is set."""
    if generator is not None:
        device = generator.device
    eps = torch.empty(shape, device=device)
    if truncation is None:
        return eps.normal_(generator=generator)
    return nn.init.trunc_normal_(eps, a=-truncation, b=truncation, generator=generator)


def _shape_str(shape) -> str:
    return "(N, " + ", ".join(map(str, shape)) + ")"


class GeneratorAdapter(nn.Module):
    """A frozen image generator behind one interface: latents in, images in [-1, 1] out.

    Subclasses set ``kind`` and ``has_encoder`` and implement ``_decode`` (and ``_encode``); inputs
    are checked here. The wrapped network (``self.model``) has ``requires_grad=False`` and stays in
    eval mode even when the adapter is put in train mode (a trainer's ``model.train()`` must not
    switch a frozen generator's batch norm to batch statistics).

    Conditional generators take a class label: ``class_label`` (given at load) is used for every
    decode unless ``decode(z, labels=...)`` passes one label (int) or one per latent ((N,) tensor).

    Example:
        >>> from hf_nda.modeling.generators import load_generator
        >>> adapter = load_generator("runs/gan", truncation=2.0)  # doctest: +SKIP
        >>> z = adapter.sample_latents(16, generator=torch.Generator().manual_seed(0))  # doctest: +SKIP
        >>> images = adapter.decode(z)  # (16, C, H, W) in [-1, 1], differentiable w.r.t. z  # doctest: +SKIP
        >>> again = load_generator(**adapter.describe())  # the same generator  # doctest: +SKIP
    """

    kind: ClassVar[str] = ""
    has_encoder: ClassVar[bool] = False
    encoder_hint: ClassVar[str] = ""  # why there is no encode, and what to do instead
    model_type: ClassVar[str] = ""  # the transformers model_type this adapter wraps
    subfolders: ClassVar[tuple[str, ...]] = ("",)  # where in a folder / run directory to look for it

    @classmethod
    def locate(cls, source: str, **hub_kwargs) -> str | None:
        """The subfolder of ``source`` holding this adapter's model ("" for the top), or None."""
        return next((sub for sub in cls.subfolders if model_type_at(source, sub, **hub_kwargs) == cls.model_type),
                    None)

    @classmethod
    def load_located(cls, model_class, source, subfolder: str | None, kwargs: dict, where: str):
        """``model_class.from_pretrained`` from the subfolder of ``source`` that holds it (:meth:`locate`,
        unless ``subfolder`` is given); ``kwargs`` may hold only the hub options. Returns the model, the
        source as a string, the subfolder and the hub options; a clear error names ``where`` it was looked for."""
        hub, rest = split_hub_kwargs(kwargs)
        if rest:
            raise TypeError(f"unexpected arguments for an {cls.kind} generator: {sorted(rest)}")
        source = str(source)
        subfolder = cls.locate(source, **hub) if subfolder is None else subfolder
        if subfolder is None:
            raise ValueError(f"no {model_class.__name__} at {source!r}: expected a config.json with model_type "
                             f"'{cls.model_type}' at its top or in {where}")
        return model_class.from_pretrained(source, subfolder=subfolder, **hub), source, subfolder, hub

    def __init__(self, model: nn.Module, source: str, latent_shape: tuple[int, ...], image_size,
                 num_channels: int, truncation: float | None = None, num_classes: int = 0,
                 class_label: int | None = None, revision: str | None = None):
        super().__init__()
        self.model = model.requires_grad_(False).eval()
        self.source, self.revision = str(source), revision
        self.latent_shape, self.image_size, self.num_channels = tuple(latent_shape), image_size, num_channels
        self.num_classes = num_classes
        self.truncation = truncation
        self.class_label = class_label

    # ---- settings -------------------------------------------------------------------------------
    @property
    def truncation(self) -> float | None:
        """Latents are drawn from the prior truncated to [−truncation, truncation] per (whitened)
        coordinate; ``None``: no truncation."""
        return self._truncation

    @truncation.setter
    def truncation(self, value: float | None):
        if value is not None and not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
            raise ValueError(f"truncation must be None or a positive number, got {value!r}")
        self._truncation = None if value is None else float(value)

    @property
    def class_label(self) -> int | None:
        return self._class_label

    @class_label.setter
    def class_label(self, value: int | None):
        if value is not None:
            if not self.num_classes:
                raise ValueError(f"class_label={value} given, but this {self.kind} generator is unconditional")
            if not (isinstance(value, int) and 0 <= value < self.num_classes):
                raise ValueError(f"class_label must be an int in [0, {self.num_classes}), got {value!r}")
        self._class_label = value

    @property
    def latent_dim(self) -> int:
        """Numbers in one latent code (the product of ``latent_shape``)."""
        return math.prod(self.latent_shape)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def train(self, mode: bool = True):
        """Sets the adapter's flag; the wrapped generator stays in eval mode (it is frozen)."""
        super().train(mode)
        self.model.eval()
        return self

    # ---- the contract ---------------------------------------------------------------------------
    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` latents of ``latent_shape`` from the prior (truncated when ``truncation`` is set), on
        the generator's device (the adapter's without a generator)."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        eps = standard_normal((n, *self.latent_shape), self.truncation, generator, self.device)
        return self._from_standard_normal(eps)

    def _from_standard_normal(self, eps: torch.Tensor) -> torch.Tensor:
        """Prior sample from a standard-normal one (identity for an N(0, I) prior)."""
        return eps

    def decode(self, latents: torch.Tensor, labels=None, *, clamp: bool = True) -> torch.Tensor:
        """Latents (N, *latent_shape) → images (N, C, H, W) in [-1, 1], differentiable w.r.t. the
        latents. ``labels``: class label(s) for a conditional generator (default ``class_label``).
        ``clamp=False`` returns the generator's raw output (it may leave [-1, 1] slightly)."""
        latents = self._check_latents(latents)
        images = self._decode(latents, self._labels(labels, len(latents)))
        return images.clamp(-1, 1) if clamp else images

    def forward(self, latents: torch.Tensor, labels=None, *, clamp: bool = True) -> torch.Tensor:
        """Same as :meth:`decode` (so wrappers that patch ``forward``, e.g. autocast, apply)."""
        return self.decode(latents, labels, clamp=clamp)

    def encode(self, images: torch.Tensor, labels=None) -> torch.Tensor:
        """Images (N, C, H, W) in [-1, 1] → latents (N, *latent_shape) that decode back to them."""
        if not self.has_encoder:
            raise ValueError(f"{type(self).__name__} has no encode: {self.encoder_hint}")
        images = self._check_images(images)
        return self._encode(images, self._labels(labels, len(images)))

    def describe(self) -> dict:
        """JSON-ready keyword arguments of ``load_generator`` that load this adapter again."""
        out = {"kind": self.kind, "source": self.source, "latent_shape": list(self.latent_shape),
               "truncation": self.truncation, **self._load_options()}
        return {**out, "revision": self.revision} if self.revision else out

    def _load_options(self) -> dict:
        return {"class_label": self.class_label} if self.num_classes else {}

    def _decode(self, latents: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def _encode(self, images: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (f"kind={self.kind!r}, source={self.source!r}, latent_shape={self.latent_shape}, "
                f"truncation={self.truncation}")

    # ---- input checks ---------------------------------------------------------------------------
    def _check_latents(self, latents) -> torch.Tensor:
        expected = _shape_str(self.latent_shape)
        if not isinstance(latents, torch.Tensor) or not latents.is_floating_point():
            raise ValueError(f"latents must be a float tensor of shape {expected}, got {type(latents).__name__}"
                             + (f" of {latents.dtype}" if isinstance(latents, torch.Tensor) else ""))
        if latents.ndim != 1 + len(self.latent_shape) or tuple(latents.shape[1:]) != self.latent_shape:
            raise ValueError(f"latents must have shape {expected} for this {self.kind} generator ({self.source}), "
                             f"got {tuple(latents.shape)}")
        return latents.to(device=self.device, dtype=self.dtype)

    def _check_images(self, images) -> torch.Tensor:
        size = self.image_size if isinstance(self.image_size, tuple) else (self.image_size, self.image_size)
        expected = _shape_str((self.num_channels, *size))
        if not isinstance(images, torch.Tensor) or not images.is_floating_point() or images.ndim != 4:
            got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise ValueError(f"images must be a float tensor {expected} in [-1, 1], got {got}; convert images "
                             "with NDAImageProcessor")
        if tuple(images.shape[1:]) != (self.num_channels, *size):
            raise ValueError(f"this {self.kind} generator ({self.source}) encodes images of shape {expected}, got "
                             f"{tuple(images.shape)}; resize / convert them (NDAImageProcessor(size={size[0]}, "
                             f"num_channels={self.num_channels}))")
        return images.to(device=self.device, dtype=self.dtype)

    def _labels(self, labels, n: int) -> torch.Tensor | None:
        if not self.num_classes:
            if labels is not None:
                raise ValueError(f"this {self.kind} generator is unconditional: do not pass labels")
            return None
        labels = self.class_label if labels is None else labels
        if labels is None:
            raise ValueError(f"this {self.kind} generator is class-conditional ({self.num_classes} classes): load it "
                             "with class_label=K (used for every decode) or pass labels= to decode/encode")
        labels = torch.as_tensor(labels, device=self.device)
        labels = labels.expand(n) if labels.ndim == 0 else labels
        if labels.shape != (n,) or labels.is_floating_point():
            raise ValueError(f"labels must be one int or {n} ints (one per latent), got shape {tuple(labels.shape)}")
        if n and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"labels must be in [0, {self.num_classes}), got range "
                             f"[{int(labels.min())}, {int(labels.max())}]")
        return labels.long()
