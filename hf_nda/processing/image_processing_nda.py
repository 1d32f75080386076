"""``NDAImageProcessor``: images in, ``pixel_values`` in [-1, 1] out, plus the negatives.

Built on transformers' ``TorchvisionBackend`` so resizing and normalising are transformers' own
(batched, device-aware); this class only adds the channel contract and the NDA transforms.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers.image_processing_backends import TorchvisionBackend
from transformers.image_utils import PILImageResampling
from transformers.processing_utils import ImagesKwargs

from .base import OneOf, check_batch


FORMS = "PIL images, numpy arrays, tensors, file paths, a datasets Dataset or column, or a list of these"


def _one_image(image):
    """A path becomes a (loaded) PIL image; a 2-D (H,W) array or tensor gets its channel axis; anything
    that is not one image with a channel axis of 1, 3 or 4 entries is a ValueError naming the fix."""
    if isinstance(image, (str, Path)):
        if not Path(image).is_file():
            raise ValueError(f"image file not found: {image}")
        try:
            loaded = Image.open(image)
            loaded.load()  # read now: a broken file fails here, and the file handle is closed
        except (OSError, SyntaxError) as err:
            raise ValueError(f"cannot read {image} as an image ({err}); pass a file PIL can open "
                             "(PNG, JPEG, ...)") from None
        return loaded
    if isinstance(image, Image.Image):
        return image
    if not isinstance(image, (np.ndarray, torch.Tensor)):
        raise ValueError(f"cannot read an image from a {type(image).__name__}; pass {FORMS}")
    if image.ndim == 2:
        return image[:, :, None] if isinstance(image, np.ndarray) else image[None]
    if image.ndim != 3:
        raise ValueError(f"an image must be H×W, H×W×C or C×H×W, got shape {tuple(image.shape)}; pass a batch "
                         "as a list of images or as one N×C×H×W tensor")
    if image.shape[0] not in (1, 3, 4) and image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"an image of shape {tuple(image.shape)} has no channel axis of 1, 3 or 4 entries "
                         "(gray, RGB, RGBA) first or last; convert it to one of these")
    return image


def as_image_list(images) -> list:
    """Normalise the accepted input forms (one image, a list, a batch tensor, a datasets column,
    paths) into a flat list of PIL / channel-carrying array images."""
    if isinstance(images, (Image.Image, str, Path)):
        return [_one_image(images)]
    if isinstance(images, (np.ndarray, torch.Tensor)):
        if images.ndim == 4:
            return [_one_image(im) for im in images]
        return [_one_image(images)]
    try:
        images = list(images)  # lists, tuples, datasets columns, generators
    except TypeError:
        raise ValueError(f"cannot read images from a {type(images).__name__}; pass {FORMS}") from None
    if not images:
        raise ValueError("no images given (empty input); pass at least one image")
    return [_one_image(im) for im in images]


def _stack_uniform(images: list):
    """N,C,H,W tensor of a list of same-shape, same-dtype numpy arrays or tensors (3-D, channels
    first or last, as transformers infers them); None for anything else (PIL, mixed shapes)."""
    first = images[0]
    kind = type(first)
    if kind not in (np.ndarray, torch.Tensor) or first.ndim != 3 or len(images) < 2:
        return None
    if any(type(im) is not kind or im.shape != first.shape or im.dtype != first.dtype for im in images):
        return None
    from transformers.image_utils import ChannelDimension, infer_channel_dimension_format

    stacked = torch.from_numpy(np.stack(images)) if kind is np.ndarray else torch.stack(images)
    if infer_channel_dimension_format(first, num_channels=(1, 3, 4)) == ChannelDimension.LAST:
        stacked = stacked.permute(0, 3, 1, 2)
    return stacked.contiguous()


class NDAImageProcessorKwargs(ImagesKwargs, total=False):
    num_channels: int
    negatives: list


class NDAImageProcessor(TorchvisionBackend):
    """Turns PIL / numpy / tensor images (or lists of them) into ``pixel_values`` in [-1, 1] at a
    fixed size and channel count, and makes negatives of them.

    Channel conversion is explicit: ``num_channels=1`` turns RGB into luma (ITU-R 601), and
    ``num_channels=3`` repeats a gray channel; any other channel count is an error. uint8 / PIL input
    is rescaled from [0, 255]; pass ``do_rescale=False`` for float input already in [0, 1].

    Example:
        >>> from PIL import Image
        >>> proc = NDAImageProcessor(size={"height": 32, "width": 32}, num_channels=1, negatives=["jigsaw"])
        >>> x = proc(Image.new("L", (28, 28)), return_tensors="pt").pixel_values
        >>> x.shape, float(x.min())
        (torch.Size([1, 1, 32, 32]), -1.0)
        >>> proc.negatives_of(x.repeat(2, 1, 1, 1), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([2, 1, 32, 32])
    """

    valid_kwargs = NDAImageProcessorKwargs
    model_input_names = ["pixel_values"]
    resample = PILImageResampling.BILINEAR
    size = {"height": 32, "width": 32}
    do_resize = True
    do_rescale = True
    do_normalize = True
    num_channels = 1
    negatives = ["jigsaw"]
    disable_grouping = False  # stack same-sized images and process them as one batch, on CPU too

    def __init__(self, **kwargs):
        channels = kwargs.get("num_channels", self.num_channels)
        if channels not in (1, 3):
            raise ValueError(f"num_channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
        kwargs.setdefault("image_mean", [0.5] * channels)  # (x/255 - 0.5) / 0.5 maps [0, 255] to [-1, 1]
        kwargs.setdefault("image_std", [0.5] * channels)
        super().__init__(**kwargs)
        self.negatives = list(self.negatives or [])
        self._negative_transform = OneOf(self.negatives) if self.negatives else None

    def _prepare_images_structure(self, images, expected_ndims: int = 3):
        return super()._prepare_images_structure(as_image_list(images), expected_ndims=expected_ndims)

    def _prepare_image_like_inputs(self, images, *args, expected_ndims: int = 3, **kwargs):
        # Fast path for the common case of equally shaped arrays/tensors (a batch from a dataset):
        # one stacked conversion instead of one per image, which dominates small-image pipelines.
        batch = _stack_uniform(as_image_list(images))
        if batch is None:
            return super()._prepare_image_like_inputs(images, *args, expected_ndims=expected_ndims, **kwargs)
        return list(self._checked(batch).unbind(0))

    def process_image(self, image, *args, **kwargs) -> torch.Tensor:
        if isinstance(image, np.ndarray) and image.dtype == np.bool_:
            image = image.astype(np.uint8) * 255
        return self._checked(super().process_image(image, *args, **kwargs))

    def _checked(self, image: torch.Tensor) -> torch.Tensor:
        """Reject NaN/inf and convert the channel axis (dim -3) to ``num_channels``."""
        if image.is_floating_point() and not torch.isfinite(image).all():
            raise ValueError("an input image contains NaN or infinite values; replace them (e.g. torch.nan_to_num) "
                             "or drop the image")
        have = image.shape[-3]
        if have == 4:  # RGBA: drop alpha
            image, have = image[..., :3, :, :], 3
        if have == self.num_channels:
            return image
        if have == 3 and self.num_channels == 1:
            weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
            gray = (image.float() * weights).sum(-3, keepdim=True)
            return gray.round().to(image.dtype) if not image.is_floating_point() else gray.to(image.dtype)
        if have == 1 and self.num_channels == 3:
            return image.expand(*image.shape[:-3], 3, *image.shape[-2:]).contiguous()
        raise ValueError(f"cannot convert an image with {have} channels to num_channels={self.num_channels}")

    def negatives_of(self, pixel_values: torch.Tensor, generator: torch.Generator | None = None,
                     labels: torch.Tensor | None = None) -> torch.Tensor:
        """Negative views of ``pixel_values`` with the configured transform(s), one per image."""
        if self._negative_transform is None:
            raise ValueError("this processor has no negatives configured; set negatives=['jigsaw', ...]")
        return self._negative_transform(pixel_values, generator=generator, labels=labels)

    def postprocess(self, pixel_values: torch.Tensor) -> list[Image.Image]:
        """``pixel_values`` in [-1, 1] back to PIL images (mode L or RGB)."""
        check_batch(pixel_values, what="pixel_values")
        arr = ((pixel_values.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().cpu()
        arr = arr.permute(0, 2, 3, 1).numpy()
        return [Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a) for a in arr]

    def as_dataset_transform(self, image_column: str = "image", label_column: str | None = "label"):
        """A function for ``Dataset.with_transform`` that yields ``pixel_values`` (and ``labels``).

        Example:
            >>> ds = ds.with_transform(proc.as_dataset_transform())  # doctest: +SKIP
        """

        def transform(batch):
            out = {"pixel_values": self(batch[image_column], return_tensors="pt").pixel_values}
            if label_column and label_column in batch:
                out["labels"] = torch.as_tensor(batch[label_column])
            return out

        return transform

    def to_dict(self):
        out = super().to_dict()
        out.pop("_negative_transform", None)
        return out
