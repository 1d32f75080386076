"""Configurations of the NDA-GAN generator and discriminator."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

ARCHITECTURES = ("dcgan", "resnet")
IMAGE_SIZES = (28, 32, 64)


def _validate_common(config) -> None:
    if config.architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {config.architecture!r}")
    if config.image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {config.image_size}")
    if config.num_channels not in (1, 3):
        raise ValueError(f"num_channels must be 1 or 3, got {config.num_channels}")
    if config.num_classes < 0:
        raise ValueError("num_classes must be 0 (unconditional) or the number of classes")


@strict
class NDAGeneratorConfig(PreTrainedConfig):
    r"""Generator of an NDA-GAN.

    architecture (`str`, defaults to `"dcgan"`): `"dcgan"` (transposed convolutions) or `"resnet"`
        (SNGAN/BigGAN-style residual up-sampling blocks).
    latent_dim (`int`, defaults to 128): size of the N(0, I) latent z.
    image_size (`int`, defaults to 32): 28, 32 or 64.
    num_channels (`int`, defaults to 1): 1 or 3.
    base_channels (`int`, defaults to 64): width of the last block; earlier blocks double it.
    num_classes (`int`, defaults to 0): > 0 makes the generator class-conditional
        (conditional batch-norm, as in the paper's conditional BigGAN experiments).

    Example:
        >>> config = NDAGeneratorConfig(architecture="resnet", image_size=32, num_channels=3)
        >>> model = NDAGenerator(config)  # doctest: +SKIP
    """

    model_type = "nda_generator"
    architecture: str = "dcgan"
    latent_dim: int = 128
    image_size: int = 32
    num_channels: int = 1
    base_channels: int = 64
    num_classes: int = 0
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        _validate_common(self)
        super().__post_init__(**kwargs)


@strict
class NDADiscriminatorConfig(PreTrainedConfig):
    r"""Discriminator of an NDA-GAN; its logit is also an out-of-distribution score.

    architecture, image_size, num_channels, base_channels, num_classes: as in `NDAGeneratorConfig`
        (num_classes > 0 adds a projection term, Miyato & Koyama 2018).
    spectral_norm (`bool`, defaults to True): spectral normalisation on every weight layer.
    ood_threshold (`float`, *optional*): score above which an image is called out-of-distribution,
        set by `pipeline("ood-scoring").fit(...)` and saved with the model.
    ood_threshold_tpr (`float`, *optional*): the in-distribution true-positive rate it was fitted at.

    Example:
        >>> config = NDADiscriminatorConfig(image_size=28, num_channels=1)
    """

    model_type = "nda_discriminator"
    architecture: str = "dcgan"
    image_size: int = 32
    num_channels: int = 1
    base_channels: int = 64
    num_classes: int = 0
    spectral_norm: bool = True
    ood_threshold: float | None = None
    ood_threshold_tpr: float | None = None
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        _validate_common(self)
        super().__post_init__(**kwargs)
