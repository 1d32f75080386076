"""Configurations of the AMR (Adversarial Mixup Resynthesis) autoencoder and discriminator."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

MIXERS = ("mixup", "bernoulli", "none")
IMAGE_SIZES = (16, 32, 64)
LATENT_SIZE = 4  # the bottleneck is latent_channels × 4 × 4, as in the paper (and ACAI)


def _validate_image(config) -> None:
    if config.image_size not in IMAGE_SIZES:
        raise ValueError(f"image_size must be one of {IMAGE_SIZES}, got {config.image_size}")
    if config.num_channels not in (1, 3):
        raise ValueError(f"num_channels must be 1 or 3, got {config.num_channels}")
    if config.base_channels < 1:
        raise ValueError("base_channels must be >= 1")
    if config.num_classes < 0:
        raise ValueError("num_classes must be 0 (unsupervised) or the number of classes / attributes")


@strict
class AMRConfig(PreTrainedConfig):
    r"""Autoencoder of Adversarial Mixup Resynthesis (Beckham et al., NeurIPS 2019).

    image_size (`int`, defaults to 32): 16, 32 or 64; the encoder halves it down to 4×4.
    num_channels (`int`, defaults to 1): 1 or 3.
    base_channels (`int`, defaults to 32): width at full resolution; it doubles at every halving.
    latent_channels (`int`, defaults to 2): feature maps of the 4×4 bottleneck, so the code has
        ``latent_channels * 16`` numbers (the paper's 2×4×4 = 32, 16×4×4 = 256, 64×4×4 = 1024).
    mixer (`str`, defaults to `"mixup"`): the mixing function ``mix`` uses by default: `"mixup"`
        (convex weights, Eq. 4; Dirichlet(1, …, 1) over k codes, Eq. 6), `"bernoulli"` (each feature
        map taken whole from one code, Eq. 5 and its k-code version) or `"none"` (AE+GAN).
    mixer_k (`int`, defaults to 2): codes per mix.
    num_classes (`int`, defaults to 0): > 0 adds the supervised class mixer of §2.2, an MLP from an
        attribute / class vector of this length to one Bernoulli parameter per feature map.
    class_mixer_hidden (`int`, defaults to 256): hidden width of that MLP.

    Example:
        >>> config = AMRConfig(image_size=32, num_channels=1, latent_channels=2)  # 32-number code
        >>> config.bottleneck
        32
    """

    model_type = "amr_autoencoder"
    image_size: int = 32
    num_channels: int = 1
    base_channels: int = 32
    latent_channels: int = 2
    mixer: str = "mixup"
    mixer_k: int = 2
    num_classes: int = 0
    class_mixer_hidden: int = 256

    def __post_init__(self, **kwargs):
        _validate_image(self)
        if self.latent_channels < 1:
            raise ValueError("latent_channels must be >= 1 (bottleneck = latent_channels × 4 × 4)")
        if self.mixer not in MIXERS:
            raise ValueError(f"mixer must be one of {MIXERS}, got {self.mixer!r}")
        if self.mixer_k < 2:
            raise ValueError(f"mixer_k must be >= 2 (codes per mix), got {self.mixer_k}")
        super().__post_init__(**kwargs)

    @property
    def bottleneck(self) -> int:
        """Numbers in one latent code."""
        return self.latent_channels * LATENT_SIZE * LATENT_SIZE


@strict
class AMRDiscriminatorConfig(PreTrainedConfig):
    r"""Discriminator of AMR: a real/fake logit (JS-GAN, spectral norm as in the paper), an optional
    classifier branch p(y|x) for the supervised variant (§2.2), and also usable as ACAI's critic
    (its scalar output read as the regressed mixing coefficient).

    image_size, num_channels, base_channels: as in `AMRConfig`.
    num_classes (`int`, defaults to 0): > 0 adds the classifier branch with this many outputs.
    spectral_norm (`bool`, defaults to True): spectral normalisation on every weight layer.

    Example:
        >>> config = AMRDiscriminatorConfig(image_size=32, num_channels=1, num_classes=10)
    """

    model_type = "amr_discriminator"
    image_size: int = 32
    num_channels: int = 1
    base_channels: int = 32
    num_classes: int = 0
    spectral_norm: bool = True

    def __post_init__(self, **kwargs):
        _validate_image(self)
        super().__post_init__(**kwargs)
