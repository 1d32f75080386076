"""Contrastive encoder (timm backbone + MoCo-v2 head) and its image-classification variant."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import ImageClassifierOutput
from transformers.utils import ModelOutput

from .configuration_contrastive import ContrastiveEncoderConfig
from .checks import StrictLoadingMixin, check_input, check_labels


@dataclass
class ContrastiveEncoderOutput(ModelOutput):
    """features: N,F backbone features (what probes and kNN use); projections: N,P L2-normalised
    outputs of the projection head (what the contrastive loss uses)."""

    features: torch.FloatTensor | None = None
    projections: torch.FloatTensor | None = None


def build_backbone(config: ContrastiveEncoderConfig) -> nn.Module:
    import timm

    backbone = timm.create_model(config.backbone, pretrained=False, num_classes=0, in_chans=config.num_channels)
    if config.small_stem:
        if not (hasattr(backbone, "conv1") and hasattr(backbone, "maxpool")):
            raise ValueError(f"small_stem applies to ResNet-style backbones (conv1 + maxpool); {config.backbone} has none")
        width = backbone.conv1.out_channels
        backbone.conv1 = nn.Conv2d(config.num_channels, width, 3, 1, 1, bias=False)
        backbone.maxpool = nn.Identity()
    return backbone


class ContrastivePreTrainedModel(StrictLoadingMixin, PreTrainedModel):
    config_class = ContrastiveEncoderConfig
    config_fields_hint = "backbone, num_channels, small_stem, projection_dim, projection_hidden_dim, ood_num_fitted"
    base_model_prefix = "encoder"
    main_input_name = "pixel_values"
    input_modalities = ("image",)

    def _init_weights(self, module):
        """timm initialises its backbone itself; only our own layers are (re)initialised here."""
        if isinstance(module, nn.Linear) and not getattr(module, "_timm_owned", False):
            init.kaiming_uniform_(module.weight, a=5**0.5)
            if module.bias is not None:
                init.zeros_(module.bias)

    def _check_pixel_values(self, pixel_values):
        c = self.config.num_channels
        fix = f"this encoder was built with num_channels={c}; convert images with its NDAImageProcessor"
        check_input(self, pixel_values, name="pixel_values", shape=f"(N, {c}, H, W)", ndim=4, fix=fix)
        if pixel_values.shape[1] != c:
            raise ValueError(f"pixel_values must have shape (N, {c}, H, W) — {fix} — got {tuple(pixel_values.shape)}")


class ContrastiveEncoder(ContrastivePreTrainedModel):
    """timm backbone + MoCo-v2 MLP projection head; also an out-of-distribution scorer once fitted
    (kNN in the normalised feature space, or Mahalanobis; see ``config.ood_method``).

    Example:
        >>> from hf_nda import ContrastiveEncoder, ContrastiveEncoderConfig
        >>> enc = ContrastiveEncoder(ContrastiveEncoderConfig(backbone="resnet18", num_channels=1))
        >>> out = enc(torch.zeros(2, 1, 32, 32))
        >>> out.features.shape, out.projections.shape
        (torch.Size([2, 512]), torch.Size([2, 128]))
    """

    def __init__(self, config: ContrastiveEncoderConfig):
        super().__init__(config)
        self.backbone = build_backbone(config)
        for module in self.backbone.modules():
            module._timm_owned = True
        dim = self.backbone.num_features
        hidden = config.projection_hidden_dim or dim
        self.head = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, config.projection_dim))
        if config.ood_num_fitted:  # fitted OOD state: buffers, so they are saved with the weights
            self._register_ood_buffers(torch.zeros(config.ood_num_fitted, dim), torch.zeros(dim), torch.zeros(dim, dim))
        self.post_init()

    def _register_ood_buffers(self, bank, mean, precision):
        self.register_buffer("ood_bank", bank)  # normalised in-distribution features
        self.register_buffer("ood_mean", mean)
        self.register_buffer("ood_precision", precision)

    @property
    def feature_dim(self) -> int:
        return self.backbone.num_features

    def forward(self, pixel_values: torch.Tensor, return_dict: bool = True):
        self._check_pixel_values(pixel_values)
        features = self.backbone(pixel_values)
        projections = F.normalize(self.head(features), dim=1)
        out = ContrastiveEncoderOutput(features=features, projections=projections)
        return out if return_dict else out.to_tuple()

    @torch.no_grad()
    def fit_ood(self, features: torch.Tensor) -> None:
        """Store in-distribution ``features`` (N,F) for OOD scoring: the normalised bank for kNN and
        the mean / shrunk inverse covariance for Mahalanobis. Saved with the model."""
        if not isinstance(features, torch.Tensor) or features.ndim != 2 or features.shape[1] != self.feature_dim:
            got = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
            raise ValueError(f"fit_ood needs features of shape (N, {self.feature_dim}) (model(pixel_values).features), "
                             f"got {got}")
        needed = max(2, self.config.ood_k) if self.config.ood_method == "knn" else 2
        if len(features) < needed:
            knn = (f": the kNN score reads the ood_k={self.config.ood_k}-th nearest of them, so fit on at least "
                   f"{needed} images or lower model.config.ood_k") if self.config.ood_method == "knn" else ""
            raise ValueError(f"fit_ood needs at least {needed} in-distribution features, got {len(features)}{knn}")
        if not features.is_floating_point() or not torch.isfinite(features).all():
            raise ValueError("fit_ood features must be finite floats; some are NaN/inf (check the images and the model)")
        z = F.normalize(features.float(), dim=1)
        cov = torch.cov(z.T) + 1e-3 * torch.eye(z.shape[1], device=z.device)
        device = next(self.parameters()).device
        precision = torch.linalg.inv(cov.double()).float()
        self._register_ood_buffers(z.to(device), z.mean(0).to(device), precision.to(device))
        self.config.ood_num_fitted = len(z)

    @torch.no_grad()
    def ood_scores(self, pixel_values: torch.Tensor, exclude_self: bool = False) -> torch.Tensor:
        """Higher = more out-of-distribution. ``exclude_self`` skips the nearest bank entry (use it
        when scoring the very images the bank was fitted on)."""
        if not self.config.ood_num_fitted:
            raise ValueError("this encoder is not fitted for OOD scoring yet: call pipeline('ood-scoring').fit("
                             "in_distribution_images) first")
        return self.ood_scores_from_features(self(pixel_values).features, exclude_self)

    def ood_scores_from_features(self, features: torch.Tensor, exclude_self: bool = False) -> torch.Tensor:
        """Scores of ``features`` (N, feature_dim) against the fitted state (see :meth:`ood_scores`)."""
        if not self.config.ood_num_fitted:
            raise ValueError("this encoder is not fitted for OOD scoring yet: call pipeline('ood-scoring').fit("
                             "in_distribution_images) first")
        if not isinstance(features, torch.Tensor) or features.ndim != 2 or features.shape[1] != self.feature_dim:
            got = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
            raise ValueError(f"features must have shape (N, {self.feature_dim}), got {got}")
        z = F.normalize(features.float(), dim=1)
        if self.config.ood_method == "mahalanobis":
            d = z - self.ood_mean
            return ((d @ self.ood_precision) * d).sum(1)
        k = min(self.config.ood_k + int(exclude_self), len(self.ood_bank))
        similarity = (z @ self.ood_bank.T).topk(k, dim=1).values[:, -1]
        return 1 - similarity


class ContrastiveEncoderForImageClassification(ContrastivePreTrainedModel):
    """The encoder's backbone with a linear classifier on its features (a linear probe or a
    fine-tuned model); works with ``AutoModelForImageClassification`` and
    ``pipeline("image-classification")``.

    Example:
        >>> config = ContrastiveEncoderConfig(num_labels=10)
        >>> model = ContrastiveEncoderForImageClassification(config)
        >>> model(torch.zeros(2, 1, 32, 32)).logits.shape
        torch.Size([2, 10])
    """

    # an encoder checkpoint loads with a fresh classifier (its projection head and OOD state are not used)
    _allowed_missing_on_load = (r"^classifier\.",)
    _allowed_unexpected_on_load = (r"^head\.", r"^ood_")

    def __init__(self, config: ContrastiveEncoderConfig):
        super().__init__(config)
        self.backbone = build_backbone(config)
        for module in self.backbone.modules():
            module._timm_owned = True
        self.classifier = nn.Linear(self.backbone.num_features, config.num_labels)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None, return_dict: bool = True):
        self._check_pixel_values(pixel_values)
        labels = check_labels(labels, len(pixel_values), self.config.num_labels, owner="classifier", required=False,
                              device=pixel_values.device)
        logits = self.classifier(self.backbone(pixel_values))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        out = ImageClassifierOutput(loss=loss, logits=logits)
        return out if return_dict else out.to_tuple()
