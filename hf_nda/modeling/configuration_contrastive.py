"""Configuration of the contrastive (MoCo-v2 / NDA-MoCo) encoder.

Same idiom as `configuration_nda_gan`: ``Literal[...]`` fields and ``validate_*`` methods of a ``@strict``
dataclass, checked at construction, ``from_pretrained`` and ``save_pretrained``.
"""

from typing import Literal, get_args

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

OODMethod = Literal["knn", "mahalanobis"]
OOD_METHODS = get_args(OODMethod)


@strict
class ContrastiveEncoderConfig(PreTrainedConfig):
    r"""A timm backbone with a MoCo-v2 projection head.

    backbone (`str`, defaults to `"resnet18"`): any ``timm.create_model`` name.
    num_channels (`int`, defaults to 1): input channels (timm's ``in_chans``).
    image_size (`int`, defaults to 32): training resolution.
    small_stem (`bool`, defaults to False): for ResNets on 28-32 px inputs, replace the 7×7/2 stem
        and max-pool with a 3×3/1 convolution (the CIFAR variant; ~16× the compute).
    projection_dim (`int`, defaults to 128): size of the normalised projection.
    projection_hidden_dim (`int`, *optional*): hidden width of the MLP head (default: feature size).
    backbone_weights (`str`, *optional*): where the backbone's initial weights came from (recorded
        for model cards; the weights themselves are in the checkpoint).
    ood_method (`str`, defaults to `"knn"`): `"knn"` (1 - cosine similarity to the k-th nearest
        fitted feature) or `"mahalanobis"` (distance to the fitted feature Gaussian).
    ood_k (`int`, defaults to 10): k of the kNN score.
    ood_num_fitted (`int`, defaults to 0): number of fitted in-distribution features stored in the
        model (set by `fit`; 0 = not fitted).
    ood_threshold, ood_threshold_tpr (`float`, *optional*): threshold set by the pipeline's `fit`.

    Example:
        >>> config = ContrastiveEncoderConfig(backbone="resnet18", num_channels=1, image_size=32)
        >>> config.ood_method
        'knn'
    """

    model_type = "nda_contrastive_encoder"
    backbone: str = "resnet18"
    num_channels: int = 1
    image_size: int = 32
    small_stem: bool = False
    projection_dim: int = 128
    projection_hidden_dim: int | None = None
    backbone_weights: str | None = None
    ood_method: OODMethod = "knn"
    ood_k: int = 10
    ood_num_fitted: int = 0
    ood_threshold: float | None = None
    ood_threshold_tpr: float | None = None

    def validate_backbone(self):
        import timm

        if not timm.is_model(self.backbone):
            import difflib

            close = difflib.get_close_matches(self.backbone, timm.list_models(), n=5)
            raise ValueError(f"unknown timm backbone {self.backbone!r}; close names: {close} "
                             "(timm.list_models() lists them all)")

    def validate_sizes(self):
        for name in ("num_channels", "image_size", "projection_dim", "projection_hidden_dim", "ood_k"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 (a count or a size), got {value}")
        if self.ood_num_fitted < 0:
            raise ValueError(f"ood_num_fitted must be >= 0 (0 = not fitted; fit_ood sets it), "
                             f"got {self.ood_num_fitted}")
