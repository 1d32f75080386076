"""Building blocks shared by the GAN-style models: spectral norm, conditional batch-norm, residual
up/down blocks (SNGAN / BigGAN style)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def maybe_sn(module: nn.Module, enabled: bool) -> nn.Module:
    """Wrap ``module`` in spectral normalisation (torch's parametrization) when ``enabled``."""
    return spectral_norm(module) if enabled else module


class ConditionalBatchNorm2d(nn.Module):
    """Batch-norm whose scale and shift come from the class label (or are plain when unconditional)."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(channels, affine=num_classes == 0)
        if num_classes:
            self.gain = nn.Embedding(num_classes, channels)
            self.bias = nn.Embedding(num_classes, channels)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.bn(x)
        if not self.num_classes:
            return x
        return x * (1 + self.gain(labels))[:, :, None, None] + self.bias(labels)[:, :, None, None]


class GeneratorBlock(nn.Module):
    """BN-ReLU-Up-Conv-BN-ReLU-Conv with a learned 1×1 up-sampled shortcut (×2 resolution)."""

    def __init__(self, cin: int, cout: int, num_classes: int):
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(cin, num_classes)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn2 = ConditionalBatchNorm2d(cout, num_classes)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.shortcut = nn.Conv2d(cin, cout, 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x, labels=None):
        h = self.conv1(self.up(torch.relu(self.bn1(x, labels))))
        h = self.conv2(torch.relu(self.bn2(h, labels)))
        return h + self.shortcut(self.up(x))


class DiscriminatorBlock(nn.Module):
    """(ReLU)-Conv-ReLU-Conv-AvgPool with a 1×1 shortcut (÷2 resolution, or same size if not ``down``)."""

    def __init__(self, cin: int, cout: int, sn: bool, first: bool = False, down: bool = True):
        super().__init__()
        self.first = first
        self.conv1 = maybe_sn(nn.Conv2d(cin, cout, 3, padding=1), sn)
        self.conv2 = maybe_sn(nn.Conv2d(cout, cout, 3, padding=1), sn)
        self.shortcut = maybe_sn(nn.Conv2d(cin, cout, 1), sn)
        self.pool = nn.AvgPool2d(2) if down else nn.Identity()

    def forward(self, x):
        h = x if self.first else torch.relu(x)
        h = self.pool(self.conv2(torch.relu(self.conv1(h))))
        skip = self.shortcut(self.pool(x)) if self.first else self.pool(self.shortcut(x))
        return h + skip
