"""CRL-TAC models: the augmentation policy P(T|x) over a discrete transform set (paper Fig. 5) and
the combined model whose representation of x is normalise(E_{P(T|x)} h(T(x))) (§3.1), with the
contrastive encoder h = normalise(g∘f) of :mod:`hf_nda.modeling.modeling_contrastive`.

Integration over the transform set encodes every transform of every image, but identical views
(all the blank crops of a canvas, across images) are encoded once (:func:`encode_views`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .checks import StrictLoadingMixin
from .configuration_crl_tac import AugmentationPolicyConfig, CRLTACConfig, build_transform_set
from .modeling_contrastive import ContrastiveEncoder


@dataclass
class AugmentationPolicyOutput(ModelOutput):
    """logits: N,|T| (log P(T|x) up to a constant); probs: N,|T|; entropy: N, H(T|x) in nats."""

    logits: torch.FloatTensor | None = None
    probs: torch.FloatTensor | None = None
    entropy: torch.FloatTensor | None = None


@dataclass
class CRLTACOutput(ModelOutput):
    """image_embeds: N,P normalise(E_{P(T|x)} h(T(x))) (the paper's representation; first, so
    ``pipeline("image-feature-extraction")`` returns it); features: N,F E_{P(T|x)} f(T(x));
    probs: N,|T| the policy."""

    image_embeds: torch.FloatTensor | None = None
    features: torch.FloatTensor | None = None
    probs: torch.FloatTensor | None = None


def _check_images(pixel_values, channels: int, size: int, who: str) -> None:
    if not isinstance(pixel_values, torch.Tensor) or pixel_values.ndim != 4 or pixel_values.shape[1] != channels:
        shape = tuple(pixel_values.shape) if isinstance(pixel_values, torch.Tensor) else type(pixel_values)
        raise ValueError(f"{who} expects pixel_values N,{channels},{size},{size}; got {shape}")
    if tuple(pixel_values.shape[-2:]) != (size, size):
        raise ValueError(f"{who} was built for {size}×{size} images (its transform set is defined on that "
                         f"canvas), got {tuple(pixel_values.shape[-2:])}")


class AugmentationPolicyNetwork(StrictLoadingMixin, PreTrainedModel):
    """P(T|x) over a discrete transform set: Conv-ReLU-Conv-ReLU-AvgPool2-FC-FC|T| (paper Fig. 5).
    The last layer starts at zero, so a new policy is exactly uniform (SimCLR's P(T|x)).

    Example:
        >>> policy = AugmentationPolicyNetwork(AugmentationPolicyConfig())
        >>> x = torch.zeros(2, 1, 84, 84)
        >>> policy.sample(x, 8, torch.Generator().manual_seed(0)).shape, policy.probs(x).shape
        (torch.Size([2, 8]), torch.Size([2, 289]))
        >>> round(float(policy.entropy(x)[0]), 3)  # log 289
        5.666
    """

    config_class = AugmentationPolicyConfig
    base_model_prefix = "policy"
    main_input_name = "pixel_values"
    input_modalities = ("image",)

    def __init__(self, config: AugmentationPolicyConfig):
        super().__init__(config)
        c, s = config.conv_channels, config.conv_stride
        convs = [nn.Conv2d(config.num_channels, c, 3, s, 1), nn.ReLU(inplace=True), nn.Conv2d(c, c, 3, s, 1),
                 nn.ReLU(inplace=True)]
        if config.head == "crops":  # one score per crop window, from the features under it (1×1 convs = FCs)
            grid = build_transform_set(config.transforms)
            window = nn.AvgPool2d(grid.crop_size // s**2, grid.stride // s**2)
            self.features = nn.Sequential(*convs, window)
            self.head = nn.Sequential(nn.Conv2d(c, config.hidden_dim, 1), nn.ReLU(inplace=True),
                                      nn.Conv2d(config.hidden_dim, 1, 1), nn.Flatten())
        else:  # paper Fig. 5
            self.features = nn.Sequential(*convs, nn.AvgPool2d(2), nn.Flatten())
            with torch.no_grad():
                flat = self.features(torch.zeros(1, config.num_channels, config.image_size, config.image_size)).shape[1]
            self.head = nn.Sequential(nn.Linear(flat, config.hidden_dim), nn.ReLU(inplace=True),
                                      nn.Linear(config.hidden_dim, config.num_transforms))
        last = [m for m in self.head if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
        last._zero_init = True  # a new policy is exactly uniform
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            if getattr(module, "_zero_init", False):
                init.zeros_(module.weight)
            else:
                init.kaiming_uniform_(module.weight, a=5**0.5)
            if module.bias is not None:
                init.zeros_(module.bias)

    @cached_property
    def transform_set(self):
        """The :class:`~hf_nda.processing.discrete.DiscreteTransformSet` the outputs index."""
        return build_transform_set(self.config.transforms)

    def check_transform_set(self, transform_set) -> None:
        """Raise unless ``transform_set`` is the set this policy's outputs mean."""
        spec = transform_set.to_dict()
        if spec != self.config.transforms:
            raise ValueError(f"this policy was trained over {self.config.transforms}, not {spec}: its "
                             f"{self.config.num_transforms} outputs would mean other transforms")

    def forward(self, pixel_values: torch.Tensor, return_dict: bool = True):
        _check_images(pixel_values, self.config.num_channels, self.config.image_size, type(self).__name__)
        if self.config.kind == "uniform":
            logits = pixel_values.new_zeros(len(pixel_values), self.config.num_transforms)
        else:
            logits = self.head(self.features(pixel_values))
        log_p = logits.log_softmax(dim=1)
        probs = log_p.exp()
        out = AugmentationPolicyOutput(logits=logits, probs=probs, entropy=-(probs * log_p).sum(1))
        return out if return_dict else out.to_tuple()

    def probs(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """P(T|x): N,|T|."""
        return self(pixel_values).probs

    def entropy(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """H(T|x) of each image (nats): N."""
        return self(pixel_values).entropy

    def sample(self, pixel_values: torch.Tensor, m: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """m transform indices per image drawn from P(T|x) with replacement: N,m (no gradient)."""
        with torch.no_grad():
            probs = self.probs(pixel_values).float()
        drawn = torch.multinomial(probs.cpu(), m, replacement=True, generator=generator)
        return drawn.to(pixel_values.device)


def view_keys(views: torch.Tensor) -> torch.Tensor:
    """A key per view (N,...) such that equal views get equal keys: two random projections of the
    flattened pixels in float64 (distinct views collide with probability ~0)."""
    flat = views.reshape(len(views), -1).double()
    proj = torch.randn(flat.shape[1], 2, generator=torch.Generator().manual_seed(1234), dtype=torch.float64)
    return flat @ proj.to(flat.device)


def encode_views(encoder: ContrastiveEncoder, views: torch.Tensor, dedupe: bool = True, chunk: int = 4096):
    """(features N,F, projections N,P) of ``views``; identical views are encoded once (``dedupe``).
    Call it with the encoder in eval mode: then a view's code does not depend on its batch.

    Example:
        >>> enc = ContrastiveEncoder(CRLTACConfig().encoder).eval()
        >>> f, h = encode_views(enc, torch.zeros(5, 1, 20, 20))
        >>> f.shape, h.shape
        (torch.Size([5, 200]), torch.Size([5, 50]))
    """
    inverse = None
    if dedupe:
        _, first, inverse = unique_rows(view_keys(views))
        views = views[first]
    outs = [encoder(part) for part in views.split(chunk)]
    features = torch.cat([o.features for o in outs])
    projections = torch.cat([o.projections for o in outs])
    if inverse is None:
        return features, projections
    return features[inverse], projections[inverse]


def unique_rows(keys: torch.Tensor):
    """(unique keys, index of each unique key's first row, inverse) of N,K keys."""
    unique, inverse = torch.unique(keys, dim=0, return_inverse=True)
    first = torch.full((len(unique),), len(keys), dtype=torch.long, device=keys.device)
    first.scatter_reduce_(0, inverse, torch.arange(len(keys), device=keys.device), reduce="amin")
    return unique, first, inverse


def policy_weights(probs: torch.Tensor, topn: int = 0) -> torch.Tensor:
    """Weights of each transform in the integrated representation: P(T|x) itself (topn 0), or
    1/n on the n most probable transforms of each image (the paper's ``topn``)."""
    if not topn:
        return probs
    top = probs.topk(topn, dim=1).indices
    return torch.zeros_like(probs).scatter_(1, top, 1.0 / topn)


def integrate(encoder, transform_set, images: torch.Tensor, weights: torch.Tensor, chunk: int = 16):
    """(E_w f(T(x)) N,F, normalise(E_w h(T(x))) N,P) with weights N,|T| over every transform (exact;
    transforms of zero weight are skipped), ``chunk`` images at a time."""
    feats, embeds = [], []
    for x, w in zip(images.split(chunk), weights.split(chunk)):
        n, t = w.shape
        used = (w > 0).any(0).nonzero().squeeze(1)  # transforms any image of the chunk uses
        views = transform_set.apply_all(x)[:, used]
        views = views.reshape(n * len(used), *views.shape[2:])
        f, h = encode_views(encoder, views)
        wu = w[:, used].to(f.dtype)
        feats.append(torch.einsum("nt,ntf->nf", wu, f.view(n, len(used), -1)))
        embeds.append(F.normalize(torch.einsum("nt,ntp->np", wu, h.view(n, len(used), -1)), dim=1))
    return torch.cat(feats), torch.cat(embeds)


class CRLTACModel(StrictLoadingMixin, PreTrainedModel):
    """Policy P(T|x) + contrastive encoder h; ``get_image_features(x)`` = normalise(E_{P(T|x)} h(T(x)))
    (exact over the transform set, or over the ``topn`` most probable transforms). With a uniform
    policy this is the SimCLR representation. Works with ``pipeline("image-feature-extraction")``.

    Example:
        >>> model = CRLTACModel(CRLTACConfig()).eval()
        >>> out = model(torch.zeros(2, 1, 84, 84))
        >>> out.image_embeds.shape, out.features.shape, out.probs.shape
        (torch.Size([2, 50]), torch.Size([2, 200]), torch.Size([2, 289]))
    """

    config_class = CRLTACConfig
    base_model_prefix = "crl_tac"
    main_input_name = "pixel_values"
    input_modalities = ("image",)

    def __init__(self, config: CRLTACConfig, policy: AugmentationPolicyNetwork | None = None,
                 encoder: ContrastiveEncoder | None = None):
        super().__init__(config)
        self.policy = policy if policy is not None else AugmentationPolicyNetwork(config.policy)
        self.encoder = encoder if encoder is not None else ContrastiveEncoder(config.encoder)
        self.post_init()

    def _init_weights(self, module):
        """The policy and the encoder initialise themselves."""

    @classmethod
    def from_parts(cls, policy: AugmentationPolicyNetwork, encoder: ContrastiveEncoder, **kwargs) -> "CRLTACModel":
        """Combine a trained policy and encoder (their weights are shared, not copied)."""
        config = CRLTACConfig(policy=policy.config.to_dict(), encoder=encoder.config.to_dict(), **kwargs)
        model = cls(config, policy=policy, encoder=encoder)
        return model

    @property
    def transform_set(self):
        return self.policy.transform_set

    def weights(self, pixel_values: torch.Tensor, topn: int | None = None) -> torch.Tensor:
        """N,|T| weights of each transform in the representation (P(T|x), or 1/n on the top n)."""
        return policy_weights(self.policy.probs(pixel_values), self.config.topn if topn is None else topn)

    def forward(self, pixel_values: torch.Tensor, topn: int | None = None, return_dict: bool = True):
        probs = self.policy.probs(pixel_values)
        features, embeds = integrate(self.encoder, self.transform_set, pixel_values,
                                     policy_weights(probs, self.config.topn if topn is None else topn))
        out = CRLTACOutput(image_embeds=embeds, features=features, probs=probs)
        return out if return_dict else out.to_tuple()

    def get_image_features(self, pixel_values: torch.Tensor, topn: int | None = None) -> torch.Tensor:
        """normalise(E_{P(T|x)} h(T(x))): N,P."""
        return self(pixel_values, topn=topn).image_embeds
