"""Small CNN backbones registered in timm's model registry, so every contrastive encoder (NDA-MoCo,
COP-Gen's MI estimator, CRL-TAC's f) takes them by name like any timm model:
``ContrastiveEncoderConfig(backbone="hf_nda_cnn3")`` or ``timm.create_model("hf_nda_cnn3")``.

``hf_nda_cnn3`` is CRL-TAC's encoder f (App. 5.3: a three-layer CNN with a 200-d output): three
3×3 conv + BN + ReLU blocks (32, 64, 128 channels, stride 2), global average pooling, a linear layer to
200 features. On 28-32 px images a step costs a small fraction of a ResNet-18's, which is what
CPU-scale contrastive runs need.
"""

from __future__ import annotations

import torch
from timm.models import register_model
from torch import nn


class SmallCNN(nn.Module):
    """Conv-BN-ReLU blocks (stride 2) → global average pool → linear features (timm's interface:
    ``num_features``, ``forward_features``, ``forward_head``, ``reset_classifier``).

    Example:
        >>> import timm, hf_nda
        >>> net = timm.create_model("hf_nda_cnn3", num_classes=0, in_chans=1)
        >>> net(torch.zeros(2, 1, 32, 32)).shape
        torch.Size([2, 200])
    """

    def __init__(self, in_chans: int = 1, num_classes: int = 0, widths=(32, 64, 128), feature_dim: int = 200,
                 **_timm_kwargs):
        super().__init__()
        layers, channels = [], in_chans
        for width in widths:
            layers += [nn.Conv2d(channels, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, feature_dim)
        self.num_features = feature_dim
        self.reset_classifier(num_classes)

    def reset_classifier(self, num_classes: int = 0, global_pool: str | None = None) -> None:
        self.num_classes = num_classes
        self.classifier = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model
def hf_nda_cnn3(pretrained: bool = False, **kwargs) -> SmallCNN:
    """CRL-TAC's three-layer CNN encoder f (200-d features); no pretrained weights."""
    if pretrained:
        raise ValueError("hf_nda_cnn3 has no pretrained weights; use pretrained=False")
    return SmallCNN(**kwargs)
