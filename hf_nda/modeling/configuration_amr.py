"""Configurations of the AMR (Adversarial Mixup Resynthesis) autoencoder and discriminator.

Same idiom as `configuration_nda_gan`: ``Literal[...]`` fields and ``validate_*`` methods of ``@strict``
dataclasses, the fields both models share defined once in `AMRConfigBase`.
"""

from typing import Literal, get_args

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

Mixer = Literal["mixup", "bernoulli", "none"]
ImageSize = Literal[16, 32, 64]
MIXERS = get_args(Mixer)
IMAGE_SIZES = get_args(ImageSize)
LATENT_SIZE = 4  # the bottleneck is latent_channels × 4 × 4, as in the paper (and ACAI)


class AMRConfigBase(PreTrainedConfig):
    r"""The fields the AMR autoencoder and its discriminator share (defined once, inherited by both).

    image_size (`int`, defaults to 32): 16, 32 or 64; the networks halve it down to 4×4.
    num_channels (`int`, defaults to 1): 1 or 3.
    base_channels (`int`, defaults to 32): width at full resolution; it doubles at every halving.
    num_classes (`int`, defaults to 0): 0 (unsupervised) or the number of classes / attributes;
        > 0 adds the autoencoder's class mixer and the discriminator's classifier branch (§2.2).

    Example:
        >>> issubclass(AMRConfig, AMRConfigBase) and issubclass(AMRDiscriminatorConfig, AMRConfigBase)
        True
    """

    image_size: ImageSize = 32
    num_channels: Literal[1, 3] = 1
    base_channels: int = 32
    num_classes: int = 0

    def validate_base_channels(self):
        if self.base_channels < 1:
            raise ValueError(f"base_channels must be >= 1 (a layer width), got {self.base_channels}")

    def validate_num_classes(self):
        if self.num_classes < 0:
            raise ValueError("num_classes must be 0 (unsupervised) or the number of classes / attributes, "
                             f"got {self.num_classes}")


@strict
class AMRConfig(AMRConfigBase):
    r"""Autoencoder of Adversarial Mixup Resynthesis (Beckham et al., NeurIPS 2019); shared fields:
    see `AMRConfigBase`.

    latent_channels (`int`, defaults to 2): feature maps of the 4×4 bottleneck, so the code has
        ``latent_channels * 16`` numbers (the paper's 2×4×4 = 32, 16×4×4 = 256, 64×4×4 = 1024).
    mixer (`str`, defaults to `"mixup"`): the mixing function ``mix`` uses by default: `"mixup"`
        (convex weights, Eq. 4; Dirichlet(1, …, 1) over k codes, Eq. 6), `"bernoulli"` (each feature
        map taken whole from one code, Eq. 5 and its k-code version) or `"none"` (AE+GAN).
    mixer_k (`int`, defaults to 2): codes per mix.
    class_mixer_hidden (`int`, defaults to 256): hidden width of the class mixer's MLP (used when
        num_classes > 0: attribute / class vector → one Bernoulli parameter per feature map).

    Example:
        >>> config = AMRConfig(image_size=32, num_channels=1, latent_channels=2)  # 32-number code
        >>> config.bottleneck
        32
    """

    model_type = "amr_autoencoder"
    latent_channels: int = 2
    mixer: Mixer = "mixup"
    mixer_k: int = 2
    class_mixer_hidden: int = 256

    def validate_latent_channels(self):
        if self.latent_channels < 1:
            raise ValueError(f"latent_channels must be >= 1 (bottleneck = latent_channels × 4 × 4), "
                             f"got {self.latent_channels}")

    def validate_mixer_k(self):
        if self.mixer_k < 2:
            raise ValueError(f"mixer_k must be >= 2 (codes per mix; mixer='none' turns mixing off), got {self.mixer_k}")

    def validate_class_mixer_hidden(self):
        if self.class_mixer_hidden < 1:
            raise ValueError(f"class_mixer_hidden must be >= 1 (a layer width), got {self.class_mixer_hidden}")

    @property
    def bottleneck(self) -> int:
        """Numbers in one latent code."""
        return self.latent_channels * LATENT_SIZE * LATENT_SIZE


@strict
class AMRDiscriminatorConfig(AMRConfigBase):
    r"""Discriminator of AMR: a real/fake logit (JS-GAN, spectral norm as in the paper), an optional
    classifier branch p(y|x) with num_classes outputs for the supervised variant (§2.2), and also
    usable as ACAI's critic (its scalar output read as the regressed mixing coefficient). Shared
    fields: see `AMRConfigBase`.

    spectral_norm (`bool`, defaults to True): spectral normalisation on every weight layer.

    Example:
        >>> config = AMRDiscriminatorConfig(image_size=32, num_channels=1, num_classes=10)
        >>> config.spectral_norm
        True
    """

    model_type = "amr_discriminator"
    spectral_norm: bool = True
