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
    numeric = (image.dtype.kind in "biuf" if isinstance(image, np.ndarray)
               else not image.is_complex() and image.dtype not in (torch.float8_e4m3fn, torch.float8_e5m2))
    if not numeric:
        raise ValueError(f"an image must hold real numbers (bool, integer or float pixels), got dtype {image.dtype}")
    if image.ndim == 2:
        return image[:, :, None] if isinstance(image, np.ndarray) else image[None]
    if image.ndim != 3:
        raise ValueError(f"an image must be H×W, H×W×C or C×H×W, got shape {tuple(image.shape)}; pass a batch "
                         "as a list of images or as one N×C×H×W tensor")
    if image.shape[0] not in (1, 3, 4) and image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"an image of shape {tuple(image.shape)} has no channel axis of 1, 3 or 4 entries "
                         "(gray, RGB, RGBA) first or last; convert it to one of these")
    if 0 in image.shape:
        raise ValueError(f"an image of shape {tuple(image.shape)} has no pixels")
    return image


# PIL modes read as they are (8 bits a channel); the others are converted first (see _pil_pixels).
_PIL_8BIT = ("L", "RGB", "RGBA")
_PIL_16BIT = ("I;16", "I;16L", "I;16B", "I;16N")


def _pil_pixels(image: Image.Image):
    """A PIL image in a form whose pixel values mean what they say: 8-bit L/RGB/RGBA images as they
    are; 1-bit → L (0/255); gray + alpha → L; palette → RGB(A); CMYK, YCbCr, HSV, LAB, ... → RGB (by
    PIL); 16-bit gray (``I;16*``) → a native uint16 array (read by its 16-bit range); 32-bit ``I``
    and ``F`` → int32 / float32 arrays (read by the integer and float rules of
    :class:`NDAImageProcessor`)."""
    mode = image.mode
    if mode in _PIL_8BIT:
        return image
    if mode in _PIL_16BIT:
        return np.asarray(image).astype(np.uint16)  # native byte order (I;16B is big-endian)
    if mode in ("I", "F"):
        return np.array(image)  # a writable copy
    target = {"1": "L", "LA": "L", "La": "L", "PA": "RGBA"}.get(mode)
    if mode == "P":
        target = "RGBA" if "transparency" in image.info else "RGB"
    try:
        return image.convert(target or "RGB")
    except (ValueError, OSError) as err:
        raise ValueError(f"cannot convert a PIL image of mode {mode!r} to RGB ({err}); convert it yourself, e.g. "
                         "image.convert('RGB') or image.convert('L')") from None


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

    if kind is np.ndarray:
        stacked = np.stack(images)
        if not stacked.dtype.isnative:
            stacked = stacked.astype(stacked.dtype.newbyteorder("="))  # torch reads native byte order only
        stacked = torch.from_numpy(stacked)
    else:
        stacked = torch.stack(images)
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
    ``num_channels=3`` repeats a gray channel (alpha is dropped); any other channel count is an error.

    Input ranges — each image is read by what its pixel type means, and values that cannot be in
    that range are a ValueError naming the fix (never silently rescaled twice):

    - uint8 arrays/tensors and 8-bit PIL images (L, RGB, RGBA): [0, 255]. Other PIL modes are
      converted first: 1-bit → L, LA → L, palette → RGB(A), CMYK / YCbCr / HSV / LAB → RGB.
    - 16-bit: uint16 arrays/tensors and PIL ``I;16`` images (how Pillow opens 16-bit PNG/TIFF):
      [0, 65535], so a 16-bit white is 1.0 like an 8-bit one.
    - bool: False/True → black/white.
    - Other integer types (int8 … int64, uint32, PIL ``I``) carry no range of their own: they are read
      as 8-bit when every value lies in 0..255 (``np.array([[0, 255]])`` is int64) and refused
      otherwise — cast 16-bit data to uint16 first.
    - Floats (numpy, torch, PIL ``F``): [0, 255] with the default ``do_rescale=True``; [0, 1] with
      ``do_rescale=False``. A float image outside that range, or one in [0, 1] under
      ``do_rescale=True`` (it would come out black), is refused. Floats already in [-1, 1] are
      ``pixel_values``: give them to the model directly (a pipeline takes an N×C×H×W float tensor as
      they are).

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
        if isinstance(channels, bool) or channels not in (1, 3):
            raise ValueError(f"num_channels must be 1 (grayscale) or 3 (RGB), got {channels!r}")
        negatives = kwargs.get("negatives", self.negatives)
        if isinstance(negatives, (str, dict)):  # one transform given on its own
            kwargs["negatives"] = [negatives]
        elif negatives is not None and not isinstance(negatives, (list, tuple)):
            raise ValueError(f"negatives must be a list of transform names or specs (e.g. ['jigsaw', 'cutout']), "
                             f"got {type(negatives).__name__}")
        kwargs.setdefault("image_mean", [0.5] * channels)  # (x/255 - 0.5) / 0.5 maps [0, 255] to [-1, 1]
        kwargs.setdefault("image_std", [0.5] * channels)
        super().__init__(**kwargs)
        height, width = getattr(self.size, "height", None), getattr(self.size, "width", None)
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (height, width)):
            raise ValueError(f"size must give the output's positive height and width in pixels, e.g. "
                             f"size={{'height': 32, 'width': 32}} (or size=32); got {kwargs.get('size', self.size)!r}")
        for name in ("image_mean", "image_std"):
            value = getattr(self, name)
            if isinstance(value, (list, tuple)) and len(value) != channels:
                raise ValueError(f"{name} needs one value per channel (num_channels={channels}), got {list(value)}")
        if self.image_std is not None and any(v == 0 for v in np.atleast_1d(self.image_std)):
            raise ValueError(f"image_std must be non-zero (it divides), got {self.image_std}")
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
        return list(self._checked(self._in_range(batch, **kwargs)).unbind(0))

    def process_image(self, image, *args, **kwargs) -> torch.Tensor:
        if isinstance(image, Image.Image):
            image = _pil_pixels(image)
        if isinstance(image, np.ndarray) and image.dtype == np.bool_:
            image = image.astype(np.uint8) * 255
        if isinstance(image, np.ndarray) and not image.dtype.isnative:
            image = image.astype(image.dtype.newbyteorder("="))  # torch reads native byte order only
        return self._checked(self._in_range(super().process_image(image, *args, **kwargs), **kwargs))

    def _in_range(self, image: torch.Tensor, do_rescale=None, rescale_factor=None, **_) -> torch.Tensor:
        """The input-range contract (see the class docstring): uint8 as is; bool → 0/255; uint16 → scaled
        from its 16-bit range; wider integer types → as is when within 0..255, else a ValueError; floats
        checked against [0, 255] (``do_rescale``) or [0, 1] (``do_rescale=False``) and passed as they are."""
        do_rescale = self.do_rescale if do_rescale is None else do_rescale
        scale = 1 / (self.rescale_factor if rescale_factor is None else rescale_factor)  # 255 by default
        if image.dtype == torch.bool:
            image = image.to(torch.uint8) * 255
        if not image.is_floating_point() and not do_rescale:
            raise ValueError(f"do_rescale=False reads images as floats in [0, 1], but got an integer image "
                             f"({image.dtype}); leave do_rescale=True for integer images (uint8, uint16, ...)")
        if image.dtype == torch.uint8:
            return image
        if image.is_floating_point():
            self._check_float_range(image, do_rescale, scale)
            return image
        if image.dtype == torch.uint16:  # 16-bit: full range 0..65535 → this processor's 0..255 scale
            return image.to(torch.float32) * (scale / 65535)
        lo, hi = (int(v) for v in torch.aminmax(image.to(torch.int64)))
        if lo >= 0 and hi <= 255:  # 8-bit values held in a wider type (np.array of Python ints, PIL "I")
            return image
        raise ValueError(
            f"an integer image of dtype {image.dtype} with values in [{lo}, {hi}] has no known range: integer "
            "images are read as uint8 (0..255) or uint16 (0..65535), and other integer types only when their "
            "values lie in 0..255. Convert it: a 16-bit image with image.astype(np.uint16) (PIL: "
            "np.asarray(img).astype(np.uint16)), an 8-bit one with astype(np.uint8), or floats in [0, 1] "
            "with do_rescale=False")

    @staticmethod
    def _check_float_range(image: torch.Tensor, do_rescale: bool, scale: float) -> None:
        lo, hi = (float(v) for v in torch.aminmax(image.detach()))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            return  # NaN / inf: _checked names them
        span = f"values in [{lo:.4g}, {hi:.4g}]"
        ready = ("floats in [-1, 1] are ready pixel_values: give them straight to the model, or to a pipeline as "
                 "one N×C×H×W float tensor")
        if do_rescale:
            if lo < -0.01 or hi > scale + 0.5:  # below 0 beyond rounding, or above the top
                hint = ready if lo >= -1.001 and hi <= 1.001 else f"scale the image to [0, {scale:g}] (or to [0, 1] and pass do_rescale=False)"
                raise ValueError(f"a float image has {span}, but float images are read as [0, {scale:g}] "
                                 f"(do_rescale=True); {hint}")
            if 0 < hi <= 1:
                raise ValueError(f"a float image has {span}: with do_rescale=True floats are read as [0, {scale:g}], "
                                 "so this one would come out black. For floats in [0, 1] pass do_rescale=False "
                                 "(in the call or to NDAImageProcessor); " + ready)
        elif lo < -0.002 or hi > 1.002:
            hint = (ready if lo >= -1.001 and hi <= 1.001 else
                    f"for floats in [0, {scale:g}] leave do_rescale=True" if lo >= -0.01 and hi <= scale + 0.5 else
                    "scale the image to [0, 1]")
            raise ValueError(f"a float image has {span}, but do_rescale=False reads floats as [0, 1]; {hint}")

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
            weights = torch.tensor([0.299, 0.587, 0.114], device=image.device).view(3, 1, 1)
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
