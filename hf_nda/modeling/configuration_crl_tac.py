"""Configurations of CRL-TAC (Contrastive Representation Learning with a Trainable Augmentation
Channel): the augmentation policy P(T|x) over a discrete transform set, and the combined model
(policy + contrastive encoder h = normalise(g∘f)). Same idiom as the other configs: ``Literal``
fields and ``validate_*`` methods of a ``@strict`` dataclass."""

from typing import Literal, get_args

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

from .configuration_contrastive import ContrastiveEncoderConfig

PolicyKind = Literal["learned", "uniform"]
PolicyHead = Literal["fc", "crops"]
POLICY_KINDS, POLICY_HEADS = get_args(PolicyKind), get_args(PolicyHead)
DEFAULT_TRANSFORMS = {"name": "cropgrid", "crop_size": 20, "stride": 4, "image_size": 84, "output_size": None,
                      "num_transforms": 289}


def build_transform_set(spec: dict):
    """The :class:`~hf_nda.processing.discrete.DiscreteTransformSet` a config's ``transforms`` describes."""
    from ..processing.base import transform_from_dict
    from ..processing.discrete import DiscreteTransformSet

    transform = transform_from_dict(spec)
    if not isinstance(transform, DiscreteTransformSet):
        raise ValueError(f"transforms must describe a discrete transform set (cropgrid, jigsawperms, rotations), "
                         f"got {type(transform).__name__}")
    return transform


@strict
class AugmentationPolicyConfig(PreTrainedConfig):
    r"""P(T|x): an image → logits over a discrete transform set (CRL-TAC App. 5.3, Fig. 5:
    Conv32-ReLU-Conv32-ReLU-AvgPool2-FC128-FC|T|).

    transforms (`dict`): the transform set's ``to_dict()`` (default: 20×20 crops at stride 4 of an
        84×84 canvas, 289 of them) — a saved policy knows what each of its outputs means.
    num_channels (`int`, defaults to 1), image_size (`int`, defaults to 84): the input images.
    conv_channels (`int`, defaults to 32), hidden_dim (`int`, defaults to 128): widths of Fig. 5.
    conv_stride (`int`, defaults to 2): stride of both convolutions (the paper does not give one;
        stride 2 keeps FC128's input at 32×10×10 for an 84×84 canvas instead of 32×42×42).
    head (`str`, defaults to `"fc"`): `"fc"` is Fig. 5 (AvgPool2-FC128-FC|T|); `"crops"` (crop grids
        only) scores each crop from the conv features under it (average-pooled over the crop's
        window, then a 1×1 FC128-FC1): translation-equivariant, so the policy can only prefer a crop
        for what it shows, never for where it is (see the trainer's notes).
    kind (`str`, defaults to `"learned"`): `"uniform"` ignores the image and gives 1/|T| to every
        transform (the SimCLR baseline).

    Example:
        >>> config = AugmentationPolicyConfig()
        >>> config.num_transforms
        289
    """

    model_type = "crl_tac_policy"
    transforms: dict | None = None
    num_channels: int = 1
    image_size: int = 84
    conv_channels: int = 32
    hidden_dim: int = 128
    conv_stride: int = 2
    kind: PolicyKind = "learned"
    head: PolicyHead = "fc"

    def __post_init__(self, **kwargs):
        if self.transforms is None:
            self.transforms = dict(DEFAULT_TRANSFORMS)
        super().__post_init__(**kwargs)

    @property
    def num_transforms(self) -> int:
        return build_transform_set(self.transforms).num_transforms

    def validate_sizes(self):
        for name in ("num_channels", "image_size", "conv_channels", "hidden_dim", "conv_stride"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def validate_transforms(self):
        transform = build_transform_set(self.transforms)
        if self.head == "crops":
            step = self.conv_stride ** 2
            if transform.to_dict().get("name") != "cropgrid" or transform.crop_size % step or transform.stride % step:
                raise ValueError(f"head='crops' needs a crop grid whose crop_size and stride are multiples of "
                                 f"conv_stride² = {step}; got {transform}")
        canvas = getattr(transform, "image_size", None)
        if canvas is not None:
            h, w = (canvas, canvas) if isinstance(canvas, int) else tuple(canvas)
            if (h, w) != (self.image_size, self.image_size):
                raise ValueError(f"the transform set is built for {h}×{w} images but the policy sees "
                                 f"{self.image_size}×{self.image_size} ones; build the crop grid with "
                                 f"image_size={self.image_size}")


@strict
class CRLTACConfig(PreTrainedConfig):
    r"""The CRL-TAC model: a policy P(T|x) and a contrastive encoder h = normalise(g∘f) whose
    representation of x is normalise(E_{P(T|x)} h(T(x))) (§3.1).

    policy (`dict` or `AugmentationPolicyConfig`): the policy's config.
    encoder (`dict` or `ContrastiveEncoderConfig`): the encoder's config (paper: ``hf_nda_cnn3``,
        200-d f, 2-layer MLP g to 50-d).
    topn (`int`, defaults to 0): 0 integrates over every transform (exact); n > 0 averages h over
        the n most probable transforms of each image (the paper's ``topn``, 8).
    beta (`float`, defaults to 0.5): β of p(z|T(x)) ∝ exp(β zᵀh(T(x))) used in training.

    Example:
        >>> config = CRLTACConfig()
        >>> config.policy.num_transforms, config.encoder.projection_dim
        (289, 50)
    """

    model_type = "crl_tac"
    sub_configs = {"policy": AugmentationPolicyConfig, "encoder": ContrastiveEncoderConfig}
    policy: dict | AugmentationPolicyConfig | None = None
    encoder: dict | ContrastiveEncoderConfig | None = None
    topn: int = 0
    beta: float = 0.5

    def __post_init__(self, **kwargs):
        if self.policy is None:
            self.policy = AugmentationPolicyConfig()
        elif isinstance(self.policy, dict):
            self.policy = AugmentationPolicyConfig(**self.policy)
        if self.encoder is None:
            self.encoder = ContrastiveEncoderConfig(backbone="hf_nda_cnn3", num_channels=self.policy.num_channels,
                                                    image_size=20, projection_dim=50, projection_hidden_dim=200)
        elif isinstance(self.encoder, dict):
            self.encoder = ContrastiveEncoderConfig(**self.encoder)
        super().__post_init__(**kwargs)

    def validate_topn(self):
        if self.topn < 0:
            raise ValueError(f"topn must be >= 0 (0 = every transform), got {self.topn}")
        if self.topn > self.policy.num_transforms:
            raise ValueError(f"topn={self.topn} exceeds the {self.policy.num_transforms} transforms of the policy")

    def validate_channels(self):
        if self.policy.num_channels != self.encoder.num_channels:
            raise ValueError(f"policy and encoder must see the same channels, got {self.policy.num_channels} "
                             f"and {self.encoder.num_channels}")
