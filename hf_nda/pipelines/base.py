"""What hf_nda's pipeline tasks share: the model-class check, one input path for every accepted image
form, and batching a call's images ``batch_size`` at a time through the image processor.

A new task subclasses :class:`NDAPipeline`, names the model classes it takes, and writes the usual
transformers steps; its ``preprocess`` turns whatever it is given into ``pixel_values`` with
:meth:`NDAPipeline.pixel_values`::

    class MyPipeline(NDAPipeline):
        task_name = "my-task"
        model_classes = (NDADiscriminator,)
        model_hint = "load a run directory or its discriminator/ folder"
        group_input = False  # one result per image (True: the images of a call are one group)

        def _sanitize_parameters(self, **kwargs): return {}, {}, {}
        def preprocess(self, images): return {"pixel_values": self.pixel_values(images)}
        def _forward(self, model_inputs): return {"logits": self.model(**model_inputs).logits}
        def postprocess(self, model_outputs): return [{"logit": v} for v in model_outputs["logits"].tolist()]

Naming: in these pipelines ``generator`` is always a ``torch.Generator`` (see :func:`seeded_generator`);
a model that makes images is ``image_generator`` or ``decoder``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from PIL import Image
from transformers import Pipeline

from ..processing.image_processing_nda import FORMS, as_image_list


class ImageBatch:
    """The images of one pipeline call, in any accepted form, checked once.

    ``images`` is a list of images (PIL, numpy, tensors, file paths), an N×C×H×W tensor, or a lazy
    ``datasets`` column (decoded one :meth:`split` block at a time). An N×C×H×W *float* tensor is taken
    as ready ``pixel_values`` in [-1, 1] — values beyond it (a [0, 255] tensor) are a ValueError, a
    batch with no negative value (a [0, 1] tensor?) a warning; everything else goes through the image
    processor, which reads each image by its pixel type (see :class:`~hf_nda.NDAImageProcessor`).

    Example:
        >>> batch = ImageBatch.of([np.zeros((8, 8), np.uint8)] * 5)
        >>> len(batch), [len(b) for b in batch.split(2)], batch.single
        (5, [2, 2, 1], False)
    """

    def __init__(self, images, single: bool = False):
        self.images, self.single = images, single

    @classmethod
    def of(cls, inputs) -> "ImageBatch":
        """Wrap ``inputs`` (one image, a list, a tensor batch, a ``datasets`` Dataset or column, a generator)."""
        if isinstance(inputs, cls):
            return inputs
        if _is_single_image(inputs):
            return cls([inputs], single=True)
        inputs = _dataset_column(inputs)
        if not ((isinstance(inputs, torch.Tensor) and inputs.ndim >= 4) or _is_lazy_column(inputs)):
            try:
                inputs = list(inputs)
            except TypeError:
                raise ValueError(f"cannot read images from a {type(inputs).__name__}; pass {FORMS}") from None
        if len(inputs) == 0:
            raise ValueError("no images given (empty input); pass at least one image")
        return cls(inputs)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def is_pixel_values(self) -> bool:
        return isinstance(self.images, torch.Tensor) and self.images.is_floating_point() and self.images.ndim == 4

    def split(self, size: int) -> list["ImageBatch"]:
        """Blocks of at most ``size`` images (views of a tensor; a lazy column is decoded block by block)."""
        size = check_batch_size(size)
        return [ImageBatch(self.images[start:start + size]) for start in range(0, len(self), size)]

    def load(self) -> "ImageBatch":
        """The same batch with paths opened and a channel axis on every image (a tensor batch stays)."""
        return self if isinstance(self.images, torch.Tensor) else ImageBatch(as_image_list(self.images), self.single)

    def pixel_values(self, processor) -> torch.Tensor:
        """N×C×H×W ``pixel_values`` in [-1, 1] for ``processor``'s size and channel count."""
        if not self.is_pixel_values:
            return processor(as_image_list(self.images), return_tensors="pt").pixel_values
        if not torch.isfinite(self.images).all():
            raise ValueError("the input tensor contains NaN or infinite values; replace them (e.g. torch.nan_to_num) "
                             "or drop those images")
        expected = (processor.num_channels, processor.size.height, processor.size.width)
        if tuple(self.images.shape[1:]) != expected:
            raise ValueError(f"pixel_values of shape {tuple(self.images.shape[1:])} given, the model takes {expected}; "
                             "pass images (PIL/uint8) to have them resized, or resize the tensor")
        lo, hi = (float(v) for v in torch.aminmax(self.images.detach()))
        if lo < -1 - PIXEL_RANGE_MARGIN or hi > 1 + PIXEL_RANGE_MARGIN:
            raise ValueError(
                f"an N×C×H×W float tensor is taken as pixel_values in [-1, 1], but this one has values in "
                f"[{lo:.4g}, {hi:.4g}]. " + ("For images in [0, 255] pass them as uint8 (x.round().to(torch.uint8)) "
                                             "or as x / 127.5 - 1. " if lo >= 0 and hi <= 255.5 else "")
                + "Floats in [0, 1]: x * 2 - 1; or give the images in any other form (PIL, uint8, a list of "
                  "arrays) to have the image processor read them.")
        if lo >= 0 and hi > lo and len(self.images) > 1:
            warnings.warn(f"the {len(self.images)} pixel_values given have no negative value (range [{lo:.3g}, "
                          f"{hi:.3g}]): pixel_values are in [-1, 1] with black at -1; if these are images in [0, 1], "
                          "pass x * 2 - 1", stacklevel=4)
        return self.images


PIXEL_RANGE_MARGIN = 0.25
"""How far past [-1, 1] a float pixel_values tensor may reach (rounding, resampling) before it is taken
for another scale ([0, 255]) and refused."""


def check_batch_size(value, name: str = "batch_size") -> int:
    """``value`` as a positive int, else a ValueError naming ``name`` (0, negatives, floats, strings, bools)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be >= 1, a whole number of images per forward pass; got {name}={value!r}")
    return int(value)


def check_seed(seed) -> int | None:
    """``seed`` as a non-negative int (or None), else a ValueError naming it."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int (or None for unseeded draws), got seed={seed!r}")
    return int(seed)


def check_count(value, name: str, *, low: int = 1) -> int:
    """``value`` as an int >= ``low``, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {name}={value!r}")
    return int(value)


class NDAPipeline(Pipeline):
    """Base of hf_nda's pipeline tasks (see the module docstring for a whole subclass).

    A subclass sets ``task_name``, ``model_classes`` (the model classes it accepts; anything else is a
    ``TypeError`` at construction naming them and ``model_hint``) and ``group_input``, and implements
    ``_sanitize_parameters`` / ``preprocess`` / ``_forward`` / ``postprocess``. ``preprocess`` receives an
    :class:`ImageBatch` (a block of ``batch_size`` images, or the whole group) and calls
    :meth:`pixel_values`; a per-image task's ``postprocess`` returns a list with one result per image
    of its block. Inputs that are not images (latent codes, a count) come in through :meth:`as_batch`.

    Example:
        >>> from transformers import pipeline
        >>> scorer = pipeline("ood-scoring", model="runs/nda-gan", batch_size=128)  # doctest: +SKIP
        >>> scorer.pixel_values(["a.png", "b.png"]).shape  # doctest: +SKIP
        torch.Size([2, 1, 32, 32])
    """

    task_name: ClassVar[str] = ""
    model_classes: ClassVar[tuple[type, ...]] = ()
    model_hint: ClassVar[str] = ""
    group_input: ClassVar[bool] = False
    default_batch_size: ClassVar[int] = 64

    _load_processor = False
    _load_image_processor = True
    _load_feature_extractor = False
    _load_tokenizer = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        task = self.task or self.task_name
        if not isinstance(self.model, self.model_classes):
            names = " or ".join(c.__name__ for c in self.model_classes)
            raise TypeError(f"{task} needs a model of class {names}; got {type(self.model).__name__}. "
                            f"{self.model_hint}")
        if self.image_processor is None:
            raise ValueError(f"{task} needs an image processor: save an NDAImageProcessor next to the model "
                             "(preprocessor_config.json) or pass image_processor=NDAImageProcessor(...)")
        if self._batch_size is None:
            self._batch_size = self.default_batch_size
        self._batch_size = check_batch_size(self._batch_size)

    def __call__(self, inputs, **kwargs):
        """Run the task on one image or many: PIL, numpy, tensors, file paths, an N×C×H×W tensor (float:
        ready ``pixel_values``), a ``datasets`` Dataset (its image column) or column, or a list of these.
        ``batch_size`` images go through the processor and the model at a time."""
        # Why this override (the only one in hf_nda.pipelines): transformers' Pipeline.__call__ takes a list
        # as independent inputs and preprocesses them one image at a time. Here the images of a call are taken
        # together: per-image tasks process them `batch_size` at a time (the processor's resize/normalise is
        # batched; image by image it costs more than a small model's forward, see benchmarks/ood_pipeline.py),
        # and group tasks (mixup) need all of them in one input. So the images are only regrouped here and handed
        # to the base __call__, which runs preprocess -> forward -> postprocess as usual (device, no_grad, workers).
        self._check_call_arguments(kwargs)
        batch_size = kwargs.pop("batch_size", None)
        batch_size = self._batch_size if batch_size is None else check_batch_size(batch_size)
        images = self.as_batch(inputs)
        if self.group_input:
            return super().__call__(images, **kwargs)
        blocks = images.split(batch_size)
        results = [r for block in super().__call__(blocks, batch_size=1, **kwargs) for r in block]
        return results[0] if images.single else results

    def _check_call_arguments(self, kwargs) -> None:
        """A TypeError naming any keyword this task does not take, with the ones it does."""
        import inspect

        accepted = set(inspect.signature(self._sanitize_parameters).parameters) | {"batch_size", "num_workers"}
        unknown = sorted(set(kwargs) - accepted)
        if unknown:
            task = self.task or self.task_name
            raise TypeError(f"{task} got unexpected argument(s) {', '.join(unknown)}; it takes "
                            f"{', '.join(sorted(accepted))}")

    def as_batch(self, inputs) -> ImageBatch:
        """The call's inputs as one batch. A task that also takes other inputs (latent codes, a count)
        overrides this, not ``__call__``: e.g. ``ImageBatch(latents)`` wraps an N×D tensor of codes, which
        ``split`` slices like images."""
        return ImageBatch.of(inputs)

    def pixel_values(self, images) -> torch.Tensor:
        """The shared input path: any accepted form (or an :class:`ImageBatch`) to ``pixel_values`` in
        the model's dtype."""
        return ImageBatch.of(images).pixel_values(self.image_processor).to(self.dtype)

    def save_pretrained(self, save_directory, **kwargs):
        """Save the model and the image processor. The base class would also copy the pipeline's source
        as remote code, which a registered library task does not need (``import hf_nda`` registers it)
        and which fails on the package's relative imports."""
        self.model.save_pretrained(save_directory, **kwargs)
        self.image_processor.save_pretrained(save_directory)


def seeded_generator(seed: int | None) -> torch.Generator | None:
    """A CPU ``torch.Generator`` seeded with ``seed`` (None: unseeded draws; else a non-negative int).
    hf_nda's random helpers draw on the generator's device, so one CPU generator gives the same output
    on CPU and GPU."""
    seed = check_seed(seed)
    return None if seed is None else torch.Generator().manual_seed(seed)


def _is_single_image(inputs) -> bool:
    if isinstance(inputs, (str, Path, Image.Image)):
        return True
    return isinstance(inputs, (np.ndarray, torch.Tensor)) and inputs.ndim in (2, 3)


def _is_lazy_column(inputs) -> bool:
    try:
        from datasets.arrow_dataset import Column
    except ImportError:  # pragma: no cover - older datasets return plain lists
        return False
    return isinstance(inputs, Column)


def _dataset_column(inputs):
    """A ``datasets.Dataset``'s image column (``image``, else its one ``Image`` column); other inputs as they are."""
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets is a dependency
        return inputs
    if not isinstance(inputs, datasets.Dataset):
        return inputs
    if "image" in inputs.column_names:
        return inputs["image"]
    image_columns = [name for name, f in inputs.features.items() if isinstance(f, datasets.Image)]
    if len(image_columns) == 1:
        return inputs[image_columns[0]]
    raise ValueError(f"the dataset has no 'image' column (columns: {inputs.column_names}); pass the column "
                     "itself, e.g. ds['img'], or ds.rename_column('img', 'image')")
