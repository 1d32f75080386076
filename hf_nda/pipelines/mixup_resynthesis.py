"""The ``mixup-resynthesis`` pipeline task: two or more images in, decoded mixes of their AMR codes out."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..modeling import AMRAutoencoder
from ..modeling.mixers import MIXER_FUNCTIONS
from .base import ImageBatch, NDAPipeline, check_count, check_seed, seeded_generator


class MixupResynthesisPipeline(NDAPipeline):
    """Mixes images in the latent space of an :class:`~hf_nda.AMRAutoencoder` and decodes the mixes.

    Call it with two or more images of one size (PIL, numpy, tensors, file paths, an N,C,H,W tensor, a
    ``datasets`` Dataset or image column) — all of them form one group — and, optionally:

    - ``weights``: one weight per image, summing to one — mixup coefficients (``mixer="mixup"``) or
      the probabilities with which each feature map is taken from each image (``"bernoulli"``);
      sampled (uniform on the simplex) when not given;
    - ``mixer``: ``"mixup"`` or ``"bernoulli"`` (default: the model's ``config.mixer``);
    - ``attributes``: an attribute / class vector (length ``config.num_classes``) for the learned
      class mixer of a supervised model (two images only);
    - ``num_mixes``: how many mixes to draw (different random draws; default 1);
    - ``interpolation_steps``: also return the decoded interpolation from the first image to the
      second as one PIL strip;
    - ``seed``: makes the random draws repeatable.

    Returns ``{"images": [PIL, ...], "weights": [[...], ...]}`` (``"attributes"`` instead of
    ``"weights"`` for class mixes; + ``"interpolation"`` when asked for).

    Example:
        >>> import hf_nda
        >>> from transformers import pipeline
        >>> mixer = pipeline("mixup-resynthesis", model="runs/amr")  # doctest: +SKIP
        >>> out = mixer(["a.png", "b.png"], weights=[0.3, 0.7], interpolation_steps=8)  # doctest: +SKIP
        >>> out["images"][0].save("mix.png"); out["interpolation"].save("strip.png")  # doctest: +SKIP
    """

    task_name = "mixup-resynthesis"
    model_classes = (AMRAutoencoder,)
    model_hint = ("Load an AMR run directory (hf-nda train amr ...) or a folder saved by "
                  "AMRAutoencoder.save_pretrained.")
    group_input = True  # the images of one call are one group to mix

    def _sanitize_parameters(self, weights=None, mixer=None, attributes=None, num_mixes=None,
                             interpolation_steps=None, seed=None):
        num_mixes = 1 if num_mixes is None else check_count(num_mixes, "num_mixes")
        if interpolation_steps is False or interpolation_steps == 0:  # off, as None
            interpolation_steps = None
        if interpolation_steps is not None:
            interpolation_steps = check_count(interpolation_steps, "interpolation_steps", low=2)
        if mixer is not None and (not isinstance(mixer, str) or mixer not in MIXER_FUNCTIONS):
            raise ValueError(f"unknown mixer={mixer!r}; choose one of {sorted(MIXER_FUNCTIONS)}")
        weights = _numbers("weights", weights, "one weight per image, summing to one")
        attributes = _numbers("attributes", attributes, "an attribute / class vector of length num_classes")
        if weights is not None and attributes is not None:
            raise ValueError("pass weights (a mixup / bernoulli mix) or attributes (a class mix), not both")
        forward = {"weights": weights, "mixer": mixer, "attributes": attributes, "num_mixes": num_mixes,
                   "interpolation_steps": interpolation_steps, "seed": check_seed(seed)}
        return {}, forward, {}

    def preprocess(self, images):
        images = ImageBatch.of(images).load()
        if len(images) < 2:
            raise ValueError(f"mixup-resynthesis mixes two or more images, got {len(images)}; pass a list of them")
        if not images.is_pixel_values:
            sizes = {_spatial_size(im) for im in images.images}
            if len(sizes) > 1:
                raise ValueError(f"the images of one call must share a size, got {sorted(sizes)} (height, width); "
                                 "resize them to one size first")
        return {"pixel_values": self.pixel_values(images)}

    def _forward(self, model_inputs, weights=None, mixer=None, attributes=None, num_mixes=1,
                 interpolation_steps=None, seed=None):
        ae, x = self.model, model_inputs["pixel_values"]
        generator = seeded_generator(seed)
        codes = ae.encode(x)
        if attributes is not None:
            if len(x) != 2:
                raise ValueError(f"the class mixer mixes two images, got {len(x)}")
            y = torch.as_tensor(attributes, dtype=codes.dtype, device=codes.device)
            y = y.expand(num_mixes, -1) if y.ndim == 1 else y
            h1, h2 = (c.expand(len(y), -1, -1, -1) for c in codes[:2, None])
            mixed, used = ae.class_mix(h1, h2, y, generator=generator), {"attributes": y}
        else:
            stacked = codes[:, None].expand(-1, num_mixes, -1, -1, -1)
            if weights is not None:
                weights = torch.as_tensor(weights, dtype=torch.float32)
            mixed, weights = ae.mix(stacked, mixer=mixer, weights=weights, generator=generator)
            used = {"weights": weights}
        out = {"mixes": ae.decode(mixed), **used}
        if interpolation_steps:
            out["interpolation"] = ae.interpolate(x[:1], x[1:2], steps=interpolation_steps)[0]
        return out

    def postprocess(self, model_outputs):
        to_pil = self.image_processor.postprocess
        result = {"images": to_pil(model_outputs["mixes"])}
        for key in ("weights", "attributes"):  # what each mix was made with
            if key in model_outputs:
                result[key] = model_outputs[key].float().cpu().tolist()
        if "interpolation" in model_outputs:
            frames = to_pil(model_outputs["interpolation"])
            strip = Image.new(frames[0].mode, (sum(f.width for f in frames), frames[0].height))
            for i, frame in enumerate(frames):
                strip.paste(frame, (i * frame.width, 0))
            result["interpolation"] = strip
        return result


def _spatial_size(image) -> tuple[int, int]:
    """(height, width) of a PIL image, an H×W(×C) array or a (C×)H×W tensor."""
    if isinstance(image, Image.Image):
        return image.height, image.width
    shape = tuple(image.shape)
    if len(shape) == 2:
        return shape
    if isinstance(image, np.ndarray):  # channels last unless the first axis is a channel axis
        return shape[:2] if shape[-1] in (1, 3, 4) or shape[0] not in (1, 3, 4) else shape[1:]
    return shape[1:] if shape[0] in (1, 3, 4) else shape[:2]


def _numbers(name: str, value, meaning: str):
    """``value`` (a list, array or tensor of numbers, or None) as a finite float tensor, else a ValueError
    naming ``name``."""
    if value is None:
        return None
    try:
        tensor = torch.as_tensor(value, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be numbers ({meaning}), got {type(value).__name__} {value!r:.60}") from None
    if tensor.ndim == 0 or tensor.numel() == 0:
        raise ValueError(f"{name} must be a non-empty list of numbers ({meaning}), got {value!r:.60}")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} must be finite numbers ({meaning}), got {value!r:.60}")
    return tensor
