"""NDA-GAN generator and discriminator as transformers ``PreTrainedModel`` classes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .blocks import ConditionalBatchNorm2d, DiscriminatorBlock, GeneratorBlock, maybe_sn
from .configuration_nda_gan import NDADiscriminatorConfig, NDAGeneratorConfig
from .checks import StrictLoadingMixin, check_input, check_labels

NUM_RESAMPLES = {28: 2, 32: 3, 64: 4}  # 28 → 7×7 base grid, 32/64 → 4×4


@dataclass
class NDAGeneratorOutput(ModelOutput):
    """images: N,C,H,W in [-1, 1]."""

    images: torch.FloatTensor | None = None


@dataclass
class NDADiscriminatorOutput(ModelOutput):
    """logits: N real-vs-fake logits (higher = more like the training data); features: N,D
    features the logit is a linear function of."""

    logits: torch.FloatTensor | None = None
    features: torch.FloatTensor | None = None


def _widths(config) -> list[int]:
    """Channel widths at each resolution, coarsest first: base_channels · (2^(n-1), ..., 2, 1)."""
    n = NUM_RESAMPLES[config.image_size]
    return [config.base_channels * 2 ** (n - 1 - i) for i in range(n)]


class NDAPreTrainedModel(StrictLoadingMixin, PreTrainedModel):
    """Base of the GAN and AMR models: ``from_pretrained`` is strict (weights that do not match the
    config are an error, see :mod:`hf_nda.modeling.checks`)."""

    main_input_name = "pixel_values"
    input_modalities = ("image",)
    config_fields_hint = "architecture, image_size, num_channels, base_channels, num_classes, spectral_norm, ..."

    @torch.no_grad()
    def _init_weights(self, module):
        """DCGAN init N(0, 0.02) on the raw weights (under spectral norm: the un-normalised ones)."""
        weight_layers = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)
        if isinstance(module, weight_layers):
            raw = module.parametrizations.weight.original if hasattr(module, "parametrizations") else module.weight
            init.normal_(raw, mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
        elif isinstance(module, nn.BatchNorm2d):
            if module.affine:
                init.ones_(module.weight)
                init.zeros_(module.bias)
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)


class NDAGenerator(NDAPreTrainedModel):
    """Maps z ~ N(0, I) (and optionally a class label) to an image in [-1, 1].

    Example:
        >>> from hf_nda import NDAGenerator, NDAGeneratorConfig
        >>> g = NDAGenerator(NDAGeneratorConfig(image_size=32, num_channels=1)).eval()
        >>> g.generate(4, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 1, 32, 32])
    """

    config_class = NDAGeneratorConfig
    main_input_name = "latents"

    def __init__(self, config: NDAGeneratorConfig):
        super().__init__(config)
        widths = _widths(config)
        self.base_size = config.image_size // 2 ** NUM_RESAMPLES[config.image_size]
        self.project = nn.Linear(config.latent_dim, widths[0] * self.base_size**2)
        if config.architecture == "dcgan":  # the last transposed convolution outputs the image itself
            self.project_norm = ConditionalBatchNorm2d(widths[0], config.num_classes)
            self.ups = nn.ModuleList(nn.ConvTranspose2d(a, b, 4, 2, 1) for a, b in zip(widths, widths[1:]))
            self.up_norms = nn.ModuleList(ConditionalBatchNorm2d(b, config.num_classes) for b in widths[1:])
            self.to_image = nn.ConvTranspose2d(widths[-1], config.num_channels, 4, 2, 1)
        else:
            self.blocks = nn.ModuleList(GeneratorBlock(a, b, config.num_classes)
                                        for a, b in zip(widths, widths[1:] + widths[-1:]))
            self.out_norm = ConditionalBatchNorm2d(widths[-1], config.num_classes)
            self.to_image = nn.Conv2d(widths[-1], config.num_channels, 3, padding=1)
        self.post_init()

    def forward(self, latents: torch.Tensor, labels: torch.Tensor | None = None, return_dict: bool = True):
        labels = self._check_inputs(latents, labels)
        h = self.project(latents).view(latents.shape[0], -1, self.base_size, self.base_size)
        if self.config.architecture == "dcgan":
            h = torch.relu(self.project_norm(h, labels))
            for up, norm in zip(self.ups, self.up_norms):
                h = torch.relu(norm(up(h), labels))
        else:
            for block in self.blocks:
                h = block(h, labels)
            h = torch.relu(self.out_norm(h, labels))
        images = torch.tanh(self.to_image(h))
        return NDAGeneratorOutput(images=images) if return_dict else (images,)

    def _check_inputs(self, latents, labels):
        d = self.config.latent_dim
        check_input(self, latents, name="latents", shape=f"(N, {d})", ndim=2,
                    fix="draw them with model.sample_latents(n, generator)")
        if latents.shape[1] != d:
            raise ValueError(f"latents must have shape (N, {d}), got {tuple(latents.shape)}; this generator's "
                             f"latent_dim is {d}")
        return check_labels(labels, len(latents), self.config.num_classes, owner="NDAGenerator", device=latents.device)

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` latents from N(0, I), drawn on the ``torch.Generator``'s device, returned on the model's."""
        n = _check_count(n, generator)
        device = generator.device if generator is not None else self.device
        return torch.randn(n, self.config.latent_dim, generator=generator, device=device).to(self.device)

    @torch.no_grad()
    def generate(self, n: int, generator: torch.Generator | None = None, labels=None) -> torch.Tensor:
        """Sample ``n`` images in [-1, 1] (random labels when conditional and none are given)."""
        n = _check_count(n, generator)
        if self.config.num_classes and labels is None:
            labels = torch.randint(self.config.num_classes, (n,), generator=generator,
                                   device=generator.device if generator is not None else self.device)
        if labels is not None and not isinstance(labels, torch.Tensor):
            labels = torch.as_tensor(labels, device=self.device)
        return self(self.sample_latents(n, generator), labels=labels).images


class NDADiscriminator(NDAPreTrainedModel):
    """Real-vs-fake critic returning logits; trained with NDA it scores out-of-distribution inputs
    (use ``pipeline("ood-scoring", model=...)``).

    Example:
        >>> from hf_nda import NDADiscriminator, NDADiscriminatorConfig
        >>> d = NDADiscriminator(NDADiscriminatorConfig(image_size=32, num_channels=1))
        >>> d(torch.zeros(2, 1, 32, 32)).logits.shape
        torch.Size([2])
    """

    config_class = NDADiscriminatorConfig

    def __init__(self, config: NDADiscriminatorConfig):
        super().__init__(config)
        widths = _widths(config)[::-1]  # narrow to wide
        sn = config.spectral_norm
        chans = [config.num_channels] + widths
        if config.architecture == "dcgan":
            self.downs = nn.ModuleList(maybe_sn(nn.Conv2d(a, b, 4, 2, 1), sn) for a, b in zip(chans, chans[1:]))
        else:
            blocks = [DiscriminatorBlock(a, b, sn, first=i == 0) for i, (a, b) in enumerate(zip(chans, chans[1:]))]
            blocks.append(DiscriminatorBlock(widths[-1], widths[-1], sn, down=False))
            self.blocks = nn.ModuleList(blocks)
        # DCGAN reads the whole final feature map (keeps where things are: what tells a jigsaw from
        # a real image); the residual D sums it, as SNGAN/BigGAN do.
        base = config.image_size // 2 ** NUM_RESAMPLES[config.image_size]
        feature_dim = widths[-1] * (base * base if config.architecture == "dcgan" else 1)
        self.classifier = maybe_sn(nn.Linear(feature_dim, 1), sn)
        if config.num_classes:
            self.class_embed = maybe_sn(nn.Embedding(config.num_classes, feature_dim), sn)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None, return_dict: bool = True):
        labels = self._check_inputs(pixel_values, labels)
        h = pixel_values
        if self.config.architecture == "dcgan":
            for conv in self.downs:
                h = nn.functional.leaky_relu(conv(h), 0.2)
            features = h.flatten(1)
        else:
            for block in self.blocks:
                h = block(h)
            features = torch.relu(h).sum(dim=(2, 3))
        logits = self.classifier(features).squeeze(1)
        if self.config.num_classes:
            logits = logits + (self.class_embed(labels) * features).sum(dim=1)  # projection discriminator
        return NDADiscriminatorOutput(logits=logits, features=features) if return_dict else (logits, features)

    def _check_inputs(self, pixel_values, labels):
        c, s = self.config.num_channels, self.config.image_size
        check_input(self, pixel_values, name="pixel_values", shape=f"(N, {c}, {s}, {s})", ndim=4,
                    fix="use the model's NDAImageProcessor to convert images")
        if tuple(pixel_values.shape[1:]) != (c, s, s):
            raise ValueError(f"this discriminator takes images of shape ({c}, {s}, {s}), got "
                             f"{tuple(pixel_values.shape[1:])}; resize/convert them with its NDAImageProcessor")
        return check_labels(labels, len(pixel_values), self.config.num_classes, owner="discriminator",
                            device=pixel_values.device)


def _check_count(n, generator) -> int:
    """``n`` as a positive int and ``generator`` a torch.Generator or None, else a clear error."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int (how many to draw), got n={n!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}; for a seed s "
                        "pass generator=torch.Generator().manual_seed(s)")
    return int(n)
