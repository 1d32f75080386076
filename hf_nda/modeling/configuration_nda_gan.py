"""Configurations of the NDA-GAN generator and discriminator.

transformers 5 idiom: typed fields checked by ``@strict`` (a ``Literal[...]`` lists the allowed values)
and ``validate_*`` methods for everything else; both run at construction, at ``from_pretrained`` and
at ``save_pretrained``. No ``from __future__ import annotations`` here: it would turn the field types
into strings, which ``@strict`` does not check.
"""

from typing import Literal, get_args

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

Architecture = Literal["dcgan", "resnet"]
ImageSize = Literal[28, 32, 64]
ARCHITECTURES = get_args(Architecture)
IMAGE_SIZES = get_args(ImageSize)


class NDAGANConfigBase(PreTrainedConfig):
    r"""The fields a generator and its discriminator share (defined once, inherited by both).

    architecture (`str`, defaults to `"dcgan"`): `"dcgan"` (transposed / strided convolutions) or
        `"resnet"` (SNGAN/BigGAN-style residual blocks).
    image_size (`int`, defaults to 32): 28, 32 or 64.
    num_channels (`int`, defaults to 1): 1 or 3.
    base_channels (`int`, defaults to 64): width at full resolution; coarser blocks double it.
    num_classes (`int`, defaults to 0): > 0 makes the model class-conditional.
    initializer_range (`float`, defaults to 0.02): std of the DCGAN N(0, σ) weight init.

    Example:
        >>> issubclass(NDAGeneratorConfig, NDAGANConfigBase) and issubclass(NDADiscriminatorConfig, NDAGANConfigBase)
        True
    """

    architecture: Architecture = "dcgan"
    image_size: ImageSize = 32
    num_channels: Literal[1, 3] = 1
    base_channels: int = 64
    num_classes: int = 0
    initializer_range: float = 0.02

    def validate_base_channels(self):
        if self.base_channels < 1:
            raise ValueError(f"base_channels must be >= 1 (a layer width), got {self.base_channels}")

    def validate_num_classes(self):
        if self.num_classes < 0:
            raise ValueError(f"num_classes must be 0 (unconditional) or the number of classes, got {self.num_classes}")


@strict
class NDAGeneratorConfig(NDAGANConfigBase):
    r"""Generator of an NDA-GAN (shared fields: see `NDAGANConfigBase`; num_classes > 0 gives
    conditional batch-norm, as in the paper's conditional BigGAN experiments).

    latent_dim (`int`, defaults to 128): size of the N(0, I) latent z.

    Example:
        >>> config = NDAGeneratorConfig(architecture="resnet", image_size=32, num_channels=3)
        >>> config.latent_dim
        128
        >>> NDAGeneratorConfig(image_size=30)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        huggingface_hub.errors.StrictDataclassFieldValidationError: Validation error for field 'image_size':
            TypeError: Field 'image_size' expected one of (28, 32, 64), got 30
    """

    model_type = "nda_generator"
    latent_dim: int = 128

    def validate_latent_dim(self):
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1 (size of z), got {self.latent_dim}")


@strict
class NDADiscriminatorConfig(NDAGANConfigBase):
    r"""Discriminator of an NDA-GAN; its logit is also an out-of-distribution score (shared fields:
    see `NDAGANConfigBase`; num_classes > 0 adds a projection term, Miyato & Koyama 2018).

    spectral_norm (`bool`, defaults to True): spectral normalisation on every weight layer.
    ood_threshold (`float`, *optional*): score above which an image is called out-of-distribution,
        set by `pipeline("ood-scoring").fit(...)` and saved with the model.
    ood_threshold_tpr (`float`, *optional*): the in-distribution true-positive rate it was fitted at.

    Example:
        >>> config = NDADiscriminatorConfig(image_size=28, num_channels=1)
        >>> config.spectral_norm
        True
    """

    model_type = "nda_discriminator"
    spectral_norm: bool = True
    ood_threshold: float | None = None
    ood_threshold_tpr: float | None = None

