"""The ``positive-generation`` pipeline task: a count, latent codes or images in, anchor/positive image
pairs out, from a COP-Gen navigator (z' = z + T(z)) and the generator it was trained over.

:func:`positive_pairs` is the one place where pairs are made — this pipeline and
:func:`hf_nda.data.generate_pairs` both call it, block by block, each block seeded by
:func:`block_seed` — so ``pipe(n, seed=s, batch_size=b)`` and ``generate_pairs(nav, n, seed=s,
batch_size=b)`` give the same pairs.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch

from ..modeling import COPGenNavigator
from ..modeling.modes import evaluation_mode
from ..processing import NDAImageProcessor
from .base import ImageBatch, NDAPipeline, seeded_generator


@dataclass
class PositivePairs:
    """One block of pairs: ``latents`` N×latent_shape, ``positive_latents`` N×K×latent_shape, ``anchors``
    N×C×H×W and ``positives`` N×K×C×H×W images in [-1, 1] (K positives per anchor)."""

    latents: torch.Tensor
    positive_latents: torch.Tensor
    anchors: torch.Tensor
    positives: torch.Tensor


def block_seed(seed: int, index: int) -> int:
    """The seed of block ``index`` of a call seeded with ``seed``: ``seed`` itself for block 0, a hash of
    (seed, index) after it (so runs with seeds 0 and 1 share no block).

    Example:
        >>> block_seed(7, 0), block_seed(7, 1) == block_seed(7, 1), block_seed(7, 1) == block_seed(8, 0)
        (7, True, False)
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if index == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), index]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def load_image_generator(navigator: COPGenNavigator, image_generator=None):
    """The generator adapter ``navigator`` was trained over (``load_generator(**navigator.config.generator)``),
    frozen, on the navigator's device; a ``ValueError`` when their latent sizes differ (a navigator paired
    with another generator). ``image_generator``: an adapter to use instead, or another place (folder, repo
    id) to load the named generator from, with the config's options (a zoo navigator names its generator's
    repo id; give the local build's folder to use it offline).

    Example:
        >>> adapter = load_image_generator(COPGenNavigator.from_pretrained("runs/copgen"))  # doctest: +SKIP
        >>> adapter.kind, adapter.latent_shape  # doctest: +SKIP
        ('nda_gan', (128,))
    """
    if image_generator is None or isinstance(image_generator, (str, os.PathLike)):
        described = navigator.config.generator
        if not described:
            raise ValueError("this navigator names no generator (config.generator is empty); pass "
                             "image_generator=load_generator(SOURCE) explicitly")
        from ..modeling.generators import load_generator

        source = {"source": str(image_generator)} if image_generator is not None else {}
        image_generator = load_generator(**{**described, **source})
    d, shape = navigator.config.latent_dim, tuple(image_generator.latent_shape)
    if math.prod(shape) != d:
        raise ValueError(f"navigator paired with another generator: the navigator moves {d}-number latents, but the "
                         f"{image_generator.kind} generator {image_generator.source!r} takes latents of shape "
                         f"{shape} ({math.prod(shape)} numbers); load the generator the navigator was trained over")
    return image_generator.to(navigator.device).eval()


def image_processor_for(image_generator) -> NDAImageProcessor:
    """An :class:`NDAImageProcessor` at the generator's image size and channel count (no negatives).

    Example:
        >>> image_processor_for(adapter).size  # doctest: +SKIP
        SizeDict(height=32, width=32)
    """
    size = image_generator.image_size
    height, width = size if isinstance(size, (tuple, list)) else (size, size)
    return NDAImageProcessor(size={"height": height, "width": width}, num_channels=image_generator.num_channels,
                             negatives=[])


def as_latents(latents: torch.Tensor, latent_shape: tuple[int, ...], kind: str = "") -> torch.Tensor:
    """``latents`` (N×latent_shape, or N×latent_dim flat) as N×latent_shape; a ``ValueError`` naming the
    expected shape otherwise.

    Example:
        >>> as_latents(torch.zeros(2, 12), (3, 2, 2)).shape
        torch.Size([2, 3, 2, 2])
    """
    shape, numel = tuple(latent_shape), math.prod(latent_shape)
    ok = (isinstance(latents, torch.Tensor) and latents.is_floating_point() and latents.ndim >= 2
          and (tuple(latents.shape[1:]) == shape or tuple(latents.shape[1:]) == (numel,)))
    if not ok:
        got = (f"{tuple(latents.shape)} {latents.dtype}" if isinstance(latents, torch.Tensor)
               else type(latents).__name__)
        raise ValueError(f"latents must be a float tensor of shape (N, {', '.join(map(str, shape))})"
                         + (f" or (N, {numel})" if len(shape) > 1 else "")
                         + f" for this {kind + ' ' if kind else ''}generator; got {got}")
    if not torch.isfinite(latents).all():
        raise ValueError("latents contain NaN or infinite values")
    return latents.reshape(len(latents), *shape)


@torch.no_grad()
def positive_pairs(navigator: COPGenNavigator, image_generator, latents, *, num_positives: int = 1,
                   generator: torch.Generator | None = None) -> PositivePairs:
    """Anchors G(z) and K = ``num_positives`` positives G(z') per anchor, z' = ``navigator(z).positives``,
    batched on the navigator's device. ``latents``: a tensor N×latent_shape (or N×latent_dim), or an int
    count drawn from the generator's prior with ``generator``, which also drives a Gaussian navigator's
    noise. The navigator runs in eval mode (its running shared offset, not a batch mean).

    Example:
        >>> pairs = positive_pairs(nav, adapter, 8, generator=torch.Generator().manual_seed(0))  # doctest: +SKIP
        >>> pairs.anchors.shape, pairs.positives.shape  # doctest: +SKIP
        (torch.Size([8, 1, 32, 32]), torch.Size([8, 1, 1, 32, 32]))
    """
    if isinstance(num_positives, bool) or not isinstance(num_positives, (int, np.integer)) or num_positives < 1:
        raise ValueError(f"num_positives must be a positive int, got {num_positives!r}")
    num_positives = int(num_positives)
    shape = tuple(image_generator.latent_shape)
    if isinstance(latents, (int, np.integer)) and not isinstance(latents, bool):
        latents = image_generator.sample_latents(int(latents), generator=generator)
    z = as_latents(latents, shape, image_generator.kind).to(device=navigator.device, dtype=navigator.dtype)
    n = len(z)
    repeated = z.repeat_interleave(num_positives, dim=0) if num_positives > 1 else z
    with evaluation_mode(navigator):
        z_pos = navigator(repeated, generator=generator).positives
    anchors, positives = image_generator.decode(z), image_generator.decode(z_pos)
    return PositivePairs(z, z_pos.view(n, num_positives, *shape), anchors,
                         positives.view(n, num_positives, *positives.shape[1:]))


class _Inputs:
    """A call's inputs, or one block of them: ``kind`` ("count", "latents" or "images"), the ``payload`` (an
    int, an N×latent_shape tensor or an :class:`ImageBatch`) and the block's ``index`` (its seed is
    :func:`block_seed` of the call's seed and it). :meth:`NDAPipeline.__call__` splits it into blocks."""

    def __init__(self, kind: str, payload, index: int = 0, single: bool = False):
        self.kind, self.payload, self.index, self.single = kind, payload, index, single

    def __len__(self) -> int:
        return self.payload if self.kind == "count" else len(self.payload)

    def split(self, size: int) -> list["_Inputs"]:
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"batch_size must be a positive int, got {size!r}")
        if self.kind == "images":
            parts = self.payload.split(size)
        elif self.kind == "count":
            parts = [min(size, self.payload - start) for start in range(0, self.payload, size)]
        else:
            parts = list(self.payload.split(size))
        return [_Inputs(self.kind, part, index) for index, part in enumerate(parts)]


class PositiveGenerationPipeline(NDAPipeline):
    """Anchor/positive image pairs from a :class:`~hf_nda.COPGenNavigator` and its generator.

    The model is a navigator folder, a COP-Gen run directory (the navigator is at its top) or a repo id
    of either; the generator named in ``model.config.generator`` is loaded onto the model's device
    (or pass ``image_generator=`` an adapter). Inputs:

    - an int count: that many latents drawn from the generator's prior (with ``seed``);
    - latent codes: a float tensor N×latent_shape (or N×latent_dim; one code of latent_shape → one result);
    - images (PIL, numpy, paths, datasets, a float N×C×H×W tensor whose shape is not the latent shape, or
      anything wrapped in ``ImageBatch.of(...)``), for generators with ``encode`` (AMR, DDIM).

    Parameters: ``num_positives`` per anchor (default 1; a ``"copgen"`` navigator is deterministic, so its K
    positives of one anchor are equal — they differ for ``"gaussian"``), ``seed`` (same seed, same output; block i of
    ``batch_size`` anchors is seeded with ``block_seed(seed, i)``), ``batch_size`` (default 64),
    ``return_latents``. Returns one dict per anchor: ``{"anchor": PIL, "positive": PIL}`` (``"positives":
    [PIL, ...]`` when ``num_positives > 1``), plus ``"latent"`` / ``"positive_latent"`` (``"positive_latents"``)
    tensors when ``return_latents``.

    Example:
        >>> import hf_nda
        >>> from transformers import pipeline
        >>> pipe = pipeline("positive-generation", model="runs/copgen")  # doctest: +SKIP
        >>> pairs = pipe(16, seed=0)  # doctest: +SKIP
        >>> pairs[0]["anchor"].save("anchor.png"); pairs[0]["positive"].save("positive.png")  # doctest: +SKIP
        >>> pipe(torch.randn(4, 128), num_positives=3, return_latents=True)[0].keys()  # doctest: +SKIP
        dict_keys(['anchor', 'positives', 'latent', 'positive_latents'])
    """

    task_name = "positive-generation"
    model_classes = (COPGenNavigator,)
    model_hint = ("Load a COP-Gen run directory (hf-nda train copgen ...), its navigator folder, or a folder saved by "
                  "COPGenNavigator.save_pretrained.")
    group_input = False
    _load_image_processor = None  # use the folder's processor when it has one, else one built from the generator

    def __init__(self, model, *args, image_generator=None, **kwargs):
        self.image_generator = None
        if isinstance(model, COPGenNavigator):  # anything else: the base class names the accepted models
            self.image_generator = load_image_generator(model, image_generator)
            if kwargs.get("image_processor") is None:
                kwargs["image_processor"] = image_processor_for(self.image_generator)
        super().__init__(model, *args, **kwargs)
        self.model.eval()
        self.image_generator.to(self.model.device)

    def _sanitize_parameters(self, num_positives=None, seed=None, return_latents=None):
        if seed is not None:
            block_seed(seed, 0)  # checks it
        forward = {"num_positives": 1 if num_positives is None else num_positives, "seed": seed}
        return {}, forward, {"return_latents": bool(return_latents)}

    def as_batch(self, inputs) -> _Inputs:
        """A count, latent codes or images (see the class docstring) as one call's blocks."""
        if isinstance(inputs, (int, np.integer)) and not isinstance(inputs, bool):
            if inputs < 1:
                raise ValueError(f"the count of anchors must be >= 1, got {inputs}")
            return _Inputs("count", int(inputs))
        if isinstance(inputs, (bool, float, np.floating)):
            raise ValueError(f"the count of anchors must be a positive int, got {inputs!r}")
        shape = tuple(self.image_generator.latent_shape)
        if isinstance(inputs, torch.Tensor) and not inputs.is_floating_point() and (
                not self.image_generator.has_encoder or tuple(inputs.shape[1:]) == shape):
            raise ValueError(f"latents must be a float tensor (N, {', '.join(map(str, shape))}), got dtype "
                             f"{inputs.dtype}; images go in only for a generator with an encoder")
        if isinstance(inputs, torch.Tensor) and inputs.is_floating_point():
            if tuple(inputs.shape) == shape:
                return _Inputs("latents", inputs[None], single=True)
            if inputs.ndim == 2 or inputs.ndim >= 2 and inputs[0].numel() == math.prod(shape):
                return _Inputs("latents", as_latents(inputs, shape, self.image_generator.kind))
        if not self.image_generator.has_encoder:
            got = (f"; got a {type(inputs).__name__} of shape {tuple(inputs.shape)}"
                   if isinstance(inputs, (torch.Tensor, np.ndarray)) else f"; got a {type(inputs).__name__}")
            raise ValueError(f"this generator (kind {self.image_generator.kind}) has no encoder; pass latents or a "
                             f"count (latents of shape (N, {', '.join(map(str, shape))})){got}")
        images = ImageBatch.of(inputs)
        return _Inputs("images", images, single=images.single)

    def preprocess(self, block: _Inputs):
        if block.kind == "images":
            return {"pixel_values": self.pixel_values(block.payload), "index": block.index}
        return {block.kind: block.payload, "index": block.index}

    def _forward(self, model_inputs, num_positives=1, seed=None):
        generator = seeded_generator(None if seed is None else block_seed(seed, model_inputs["index"]))
        if "pixel_values" in model_inputs:
            latents = self.image_generator.encode(model_inputs["pixel_values"])
        else:
            latents = model_inputs.get("latents", model_inputs.get("count"))
        return positive_pairs(self.model, self.image_generator, latents, num_positives=num_positives,
                              generator=generator).__dict__  # tensors, moved to the CPU by the base

    def postprocess(self, model_outputs, return_latents=False):
        to_pil = self.image_processor.postprocess
        anchors, positives = model_outputs["anchors"], model_outputs["positives"]
        n, k = positives.shape[:2]
        anchor_images, positive_images = to_pil(anchors), to_pil(positives.flatten(0, 1))
        results = []
        for i in range(n):
            own = positive_images[i * k:(i + 1) * k]
            result = {"anchor": anchor_images[i], **({"positive": own[0]} if k == 1 else {"positives": own})}
            if return_latents:
                z_pos = model_outputs["positive_latents"][i].cpu()
                result.update({"latent": model_outputs["latents"][i].cpu(),
                               **({"positive_latent": z_pos[0]} if k == 1 else {"positive_latents": z_pos})})
            results.append(result)
        return results
