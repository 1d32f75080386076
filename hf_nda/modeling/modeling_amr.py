"""AMR autoencoder (encoder f, decoder g, latent mixers) and discriminator as ``PreTrainedModel``s.

The architecture follows the ACAI-style networks the paper's code uses: per resolution two 3×3
convolutions with leaky ReLU (and affine instance norm in the autoencoder), average-pool down
(encoder, discriminator) or nearest up-sampling (decoder), and a ``latent_channels × 4 × 4``
bottleneck with no activation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from transformers import initialization as init
from transformers.utils import ModelOutput

from .blocks import maybe_sn
from .checks import check_input
from .configuration_amr import LATENT_SIZE, AMRConfig, AMRDiscriminatorConfig
from .mixers import MIXER_FUNCTIONS, ClassMixer
from .modeling_nda_gan import NDAPreTrainedModel


@dataclass
class AMRAutoencoderOutput(ModelOutput):
    """latents: N,C,4,4 codes f(x); features: the same codes flattened (what probes read);
    reconstructions: g(f(x)); mixes: g(Mix(...)) when a mixer was asked for, with mix_weights (N,k)
    and partners (k,N) (the batch rows each mix combined); class_mixes / class_mix_targets: the
    supervised mixes g(Mix_sup(h1, h2, ỹ)) and their targets ỹ = αy1 + (1-α)y2 when labels were given."""

    latents: torch.FloatTensor | None = None
    features: torch.FloatTensor | None = None
    reconstructions: torch.FloatTensor | None = None
    mixes: torch.FloatTensor | None = None
    mix_weights: torch.FloatTensor | None = None
    partners: torch.LongTensor | None = None
    class_mixes: torch.FloatTensor | None = None
    class_mix_targets: torch.FloatTensor | None = None


@dataclass
class AMRDiscriminatorOutput(ModelOutput):
    """logits: N real-vs-fake logits (as ACAI's critic: the regressed mixing coefficient);
    class_logits: N,K logits of the classifier branch p(y|x) (None without one); features: N,F."""

    logits: torch.FloatTensor | None = None
    class_logits: torch.FloatTensor | None = None
    features: torch.FloatTensor | None = None


def _widths(config) -> list[int]:
    """Widths per resolution, finest first: base, 2·base, … down to the 4×4 grid."""
    stages = int(math.log2(config.image_size // LATENT_SIZE))
    return [config.base_channels * 2**i for i in range(stages)]


def _conv(cin: int, cout: int, sn: bool = False) -> nn.Module:
    return maybe_sn(nn.Conv2d(cin, cout, 3, padding=1), sn)


def _conv_act(cin: int, cout: int, sn: bool = False, norm: bool = False) -> list[nn.Module]:
    """3×3 conv, optional affine instance norm, leaky ReLU."""
    return [_conv(cin, cout, sn)] + ([nn.InstanceNorm2d(cout, affine=True)] if norm else []) + [nn.LeakyReLU(0.2)]


def _downsampling_trunk(num_channels: int, widths: list[int], sn: bool = False, norm: bool = False) -> nn.Sequential:
    """Image → (widths[-1], 4, 4) features."""
    layers = _conv_act(num_channels, widths[0], sn, norm)
    for w, w_next in zip(widths, widths[1:] + widths[-1:]):
        layers += _conv_act(w, w, sn, norm) + _conv_act(w, w_next, sn, norm) + [nn.AvgPool2d(2)]
    return nn.Sequential(*layers)


def _upsampling_trunk(latent_channels: int, widths: list[int], num_channels: int) -> nn.Sequential:
    """Code (latent_channels, 4, 4) → image. No output squashing, as in ACAI: a tanh saturates at the
    all-background reconstruction of digits and stops learning there."""
    rev = widths[::-1]
    layers = _conv_act(latent_channels, rev[0], norm=True)
    for w, w_next in zip(rev, rev[1:] + rev[-1:]):
        layers += _conv_act(w, w, norm=True) + _conv_act(w, w_next, norm=True) + [nn.Upsample(scale_factor=2)]
    return nn.Sequential(*layers, *_conv_act(rev[-1], rev[-1], norm=True), _conv(rev[-1], num_channels))


def partner_indices(n: int, k: int, generator: torch.Generator | None, device) -> torch.Tensor:
    """(k, n) batch rows to mix: row 0 is the batch itself, rows 1..k-1 are the batch shifted by
    k-1 distinct random offsets, so the k codes of every mix come from k different images."""
    if not 2 <= k <= n:
        raise ValueError(f"cannot mix k={k} codes within a batch of {n} images: k must be between 2 and the batch size")
    shifts = torch.randperm(n - 1, generator=generator, device=generator.device if generator is not None else "cpu")[:k - 1] + 1
    rows = torch.arange(n)
    return torch.stack([rows] + [(rows + s) % n for s in shifts.cpu().tolist()]).to(device)


class AMRPreTrainedModel(NDAPreTrainedModel):
    config_fields_hint = "image_size, num_channels, base_channels, latent_channels, num_classes, spectral_norm, ..."

    @torch.no_grad()
    def _init_weights(self, module):
        """PyTorch's default (Kaiming-uniform) init for the convolutions and linear layers."""
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            raw = module.parametrizations.weight.original if hasattr(module, "parametrizations") else module.weight
            init.kaiming_uniform_(raw, a=5**0.5)
            if module.bias is not None:
                init.zeros_(module.bias)

    def _check_images(self, pixel_values, name: str = "pixel_values"):
        c, s = self.config.num_channels, self.config.image_size
        fix = "convert images with the model's NDAImageProcessor"
        check_input(self, pixel_values, name=name, shape=f"(N, {c}, {s}, {s})", ndim=4, fix=fix)
        if tuple(pixel_values.shape[1:]) != (c, s, s):
            raise ValueError(f"{name} must have shape (N, {c}, {s}, {s}), got {tuple(pixel_values.shape)}; {fix}")


class AMRAutoencoder(AMRPreTrainedModel):
    """Autoencoder whose mixed latent codes decode to realistic images (AMR, Beckham et al. 2019).

    ``encode`` / ``decode`` / ``mix`` / ``class_mix`` / ``interpolate`` are the building blocks;
    ``forward`` encodes and reconstructs a batch and, when asked, decodes mixes of each image with
    k-1 others of the batch (what training uses).

    Example:
        >>> from hf_nda import AMRAutoencoder, AMRConfig
        >>> ae = AMRAutoencoder(AMRConfig(image_size=32, num_channels=1, latent_channels=2)).eval()
        >>> x = torch.rand(4, 1, 32, 32) * 2 - 1
        >>> ae.encode(x).shape
        torch.Size([4, 2, 4, 4])
        >>> ae.interpolate(x[:2], x[2:], steps=5).shape
        torch.Size([2, 5, 1, 32, 32])
    """

    config_class = AMRConfig

    def __init__(self, config: AMRConfig):
        super().__init__(config)
        widths = _widths(config)
        self.encoder = nn.Sequential(_downsampling_trunk(config.num_channels, widths, norm=True),
                                     _conv(widths[-1], config.latent_channels))
        self.decoder = _upsampling_trunk(config.latent_channels, widths, config.num_channels)
        self.class_mixer = (ClassMixer(config.num_classes, config.latent_channels, config.class_mixer_hidden)
                            if config.num_classes else None)
        self.post_init()

    # ---- building blocks -------------------------------------------------------------------------
    def encode(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """f(x): N,C,H,W images in [-1, 1] → N,latent_channels,4,4 codes."""
        self._check_images(pixel_values)
        return self.encoder(pixel_values)

    def get_image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The flattened codes f(x), N × bottleneck: what probes read (``forward(...).features``
        without decoding)."""
        return self.encode(pixel_values).flatten(1)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """g(h): codes → images in [-1, 1]."""
        expected = (self.config.latent_channels, LATENT_SIZE, LATENT_SIZE)
        shape = f"(N, {', '.join(map(str, expected))})"
        check_input(self, latents, name="latents", shape=shape, ndim=4, fix="encode images with model.encode(x)")
        if tuple(latents.shape[1:]) != expected:
            raise ValueError(f"latents must have shape {shape}, got {tuple(latents.shape)}")
        return self.decoder(latents)

    def mix(self, codes, mixer: str | None = None, weights=None, generator: torch.Generator | None = None):
        """Mix k codes per row: ``codes`` is a (k, N, C, 4, 4) tensor or a list of k (N, C, 4, 4) codes.
        ``mixer`` defaults to ``config.mixer``; ``weights`` (N, k) or (k,), rows summing to one, fix
        the mixup coefficients / Bernoulli choice probabilities instead of sampling them.
        Returns ``(mixed codes, weights)``."""
        if not isinstance(codes, torch.Tensor):
            try:
                codes = torch.stack(list(codes))
            except (TypeError, RuntimeError) as err:
                raise ValueError(f"codes to mix must be a (k, N, C, 4, 4) tensor or a list of k (N, C, 4, 4) tensors "
                                 f"of one shape ({err})") from None
        mixer = mixer or self.config.mixer
        if not isinstance(mixer, str) or mixer not in MIXER_FUNCTIONS:
            raise ValueError(f"unknown mixer {mixer!r}; choose one of {sorted(MIXER_FUNCTIONS)}")
        expected = (self.config.latent_channels, LATENT_SIZE, LATENT_SIZE)
        if codes.ndim != 5 or len(codes) < 2 or tuple(codes.shape[2:]) != expected:
            raise ValueError(f"codes to mix must be (k >= 2, N, {', '.join(map(str, expected))}), got "
                             f"{tuple(codes.shape)}")
        if not codes.is_floating_point():
            raise ValueError(f"codes to mix must be float, got dtype {codes.dtype}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        return MIXER_FUNCTIONS[mixer](codes, weights=weights, generator=generator)

    def class_mix(self, h1: torch.Tensor, h2: torch.Tensor, attributes: torch.Tensor,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """Mix_sup(h1, h2, y) of §2.2: feature maps chosen by the learned class mixer for ``attributes``."""
        if self.class_mixer is None:
            raise ValueError("this autoencoder has no class mixer: build it with AMRConfig(num_classes=K)")
        return self.class_mixer.mix(h1, h2, attributes, generator=generator)

    @torch.no_grad()
    def interpolate(self, x1: torch.Tensor, x2: torch.Tensor, steps: int = 8) -> torch.Tensor:
        """Decoded codes (1-t)·f(x1) + t·f(x2) for t = 0 … 1 in ``steps`` steps: (N, steps, C, H, W)."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise ValueError(f"steps must be an int >= 2 (frames from x1 to x2), got steps={steps!r}")
        self._check_images(x1, "x1")
        self._check_images(x2, "x2")
        if x1.shape != x2.shape:
            raise ValueError(f"x1 and x2 must have the same shape, got {tuple(x1.shape)} and {tuple(x2.shape)}")
        h1, h2 = self.encode(x1), self.encode(x2)
        t = torch.linspace(0, 1, steps, device=h1.device, dtype=h1.dtype).view(1, steps, 1, 1, 1)
        codes = torch.lerp(h1[:, None], h2[:, None], t).flatten(0, 1)
        return self.decode(codes).unflatten(0, (len(x1), steps))

    # ---- training forward ------------------------------------------------------------------------
    def forward(self, pixel_values: torch.Tensor, mixer: str | None = None, k: int | None = None,
                labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
                return_dict: bool = True):
        """Encode and reconstruct ``pixel_values``. With ``mixer`` (``"mixup"``, ``"bernoulli"``,
        ``"none"``) also decode one mix per image with k-1 other images of the batch; with ``labels``
        (class ids, or (N, num_classes) attribute vectors) and a class mixer also the supervised mixes."""
        if labels is not None and self.class_mixer is None:
            raise ValueError("labels are for the class mixer, which this autoencoder has not (AMRConfig(num_classes=0)); "
                             "do not pass labels, or build it with AMRConfig(num_classes=K)")
        if k is not None and (isinstance(k, bool) or not isinstance(k, int)):
            raise ValueError(f"k (codes per mix) must be an int >= 2, got k={k!r}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        latents = self.encode(pixel_values)
        out = AMRAutoencoderOutput(latents=latents, features=latents.flatten(1), reconstructions=self.decode(latents))
        if mixer is not None and mixer != "none":
            partners = partner_indices(len(latents), k or self.config.mixer_k, generator, latents.device)
            mixed, out.mix_weights = self.mix(latents[partners], mixer=mixer, generator=generator)
            out.mixes, out.partners = self.decode(mixed), partners
        if labels is not None and self.class_mixer is not None:
            y = self.attribute_vectors(labels).to(latents.device)
            if len(y) != len(latents):
                raise ValueError(f"labels must have one row per image ({len(latents)}), got {len(y)}")
            partners = partner_indices(len(latents), 2, generator, latents.device)
            alpha = torch.rand(len(y), 1, generator=generator,
                               device=generator.device if generator is not None else "cpu").to(y)
            out.class_mix_targets = alpha * y + (1 - alpha) * y[partners[1]]  # ỹ = αy1 + (1-α)y2
            h_mix = self.class_mix(latents, latents[partners[1]], out.class_mix_targets, generator=generator)
            out.class_mixes = self.decode(h_mix)
        return out if return_dict else out.to_tuple()

    def attribute_vectors(self, labels: torch.Tensor) -> torch.Tensor:
        """Class ids → one-hot vectors; (N, num_classes) attribute vectors pass through as floats."""
        k = self.config.num_classes
        if not isinstance(labels, torch.Tensor):
            labels = torch.as_tensor(labels)
        if labels.ndim == 1 and not labels.is_floating_point():
            if len(labels) and (labels.min() < 0 or labels.max() >= k):
                raise ValueError(f"class labels must be in [0, {k}), got range [{int(labels.min())}, {int(labels.max())}]")
            return nn.functional.one_hot(labels.long(), k).float()
        if labels.ndim != 2 or labels.shape[1] != k:
            raise ValueError(f"attribute vectors must have length {k} (this model's num_classes), got shape "
                             f"{tuple(labels.shape)}")
        return labels.float()


class AMRDiscriminator(AMRPreTrainedModel):
    """Real-vs-fake critic of AMR (logits, spectral norm) with an optional classifier branch p(y|x)
    for the supervised class mixer; also ACAI's critic when trained to regress the mixing coefficient.

    Example:
        >>> from hf_nda import AMRDiscriminator, AMRDiscriminatorConfig
        >>> d = AMRDiscriminator(AMRDiscriminatorConfig(image_size=32, num_channels=1, num_classes=10))
        >>> out = d(torch.zeros(2, 1, 32, 32))
        >>> out.logits.shape, out.class_logits.shape
        (torch.Size([2]), torch.Size([2, 10]))
    """

    config_class = AMRDiscriminatorConfig

    def __init__(self, config: AMRDiscriminatorConfig):
        super().__init__(config)
        widths = _widths(config)
        self.trunk = _downsampling_trunk(config.num_channels, widths, sn=config.spectral_norm)
        feature_dim = widths[-1] * LATENT_SIZE * LATENT_SIZE
        self.classifier = maybe_sn(nn.Linear(feature_dim, 1), config.spectral_norm)
        self.class_head = nn.Linear(feature_dim, config.num_classes) if config.num_classes else None
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, return_dict: bool = True):
        self._check_images(pixel_values)
        features = self.trunk(pixel_values).flatten(1)
        logits = self.classifier(features).squeeze(1)
        class_logits = self.class_head(features) if self.class_head is not None else None
        out = AMRDiscriminatorOutput(logits=logits, class_logits=class_logits, features=features)
        return out if return_dict else out.to_tuple()
