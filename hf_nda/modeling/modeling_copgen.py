"""The COP-Gen latent navigator (Li et al., 2022): z' = z + T(z), trained to *minimise* the mutual
information between views of G(z) and G(z') (Eq. 5–6) within a δ-ball around z."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.utils import ModelOutput

from .generators.base import standard_normal
from .configuration_copgen import COPGenNavigatorConfig
from .checks import StrictLoadingMixin, check_input


@dataclass
class COPGenNavigatorOutput(ModelOutput):
    """positives: N,d latents z'; offsets: N,d the moves z' − z (after centring and the δ constraint);
    raw_offsets: N,d T(z) before them (what the logs split into shared and instance-specific parts)."""

    positives: torch.FloatTensor | None = None
    offsets: torch.FloatTensor | None = None
    raw_offsets: torch.FloatTensor | None = None


def project_to_ball(offsets: torch.Tensor, radius: float) -> torch.Tensor:
    """Scale each row whose norm exceeds ``radius`` back onto the ball (others unchanged)."""
    norms = offsets.norm(dim=1, keepdim=True)
    return offsets * torch.clamp(radius / norms.clamp_min(1e-12), max=1.0)


class COPGenNavigator(StrictLoadingMixin, PreTrainedModel):
    """Latent navigator: ``navigator(z).positives`` is z' = z + T(z) (or the Gaussian / identity
    baselines, by ``config.positive``). Latents of any shape are flattened to ``latent_dim``.

    Example:
        >>> nav = COPGenNavigator(COPGenNavigatorConfig(latent_dim=16))
        >>> out = nav(torch.randn(4, 16))
        >>> out.positives.shape, bool((out.offsets.norm(dim=1) <= nav.config.radius + 1e-5).all())
        (torch.Size([4, 16]), True)
    """

    config_class = COPGenNavigatorConfig
    main_input_name = "latents"
    config_fields_hint = "latent_dim, navigator, hidden_dim"
    _running_momentum = 0.01

    def __init__(self, config: COPGenNavigatorConfig):
        super().__init__(config)
        d, hidden = config.latent_dim, config.hidden_dim or config.latent_dim
        if config.navigator == "linear":
            self.transform = nn.Linear(d, d)
        else:
            self.transform = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, d))
        self.register_buffer("running_mean_offset", torch.zeros(d))
        self.post_init()

    def _init_weights(self, module):
        """PyTorch's default initialisation, as the authors' code (transformers would re-draw it)."""
        if isinstance(module, nn.Linear):
            module.reset_parameters()
        elif module is self:
            self.running_mean_offset.zero_()

    def forward(self, latents: torch.Tensor, generator: torch.Generator | None = None) -> COPGenNavigatorOutput:
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}; for a seed "
                            "s pass generator=torch.Generator().manual_seed(s)")
        z = self._flat(latents)
        cfg = self.config
        if cfg.positive == "none":
            offsets = raw = torch.zeros_like(z)
        elif cfg.positive == "gaussian":  # GenRep: σ · N(0, I) truncated to [−2, 2]
            noise = standard_normal(tuple(z.shape), 2.0, generator, z.device).to(z)
            offsets = raw = cfg.sigma * noise
        else:
            raw = self.transform(z)
            offsets = raw - self._shared_offset(raw) if cfg.center else raw
            if cfg.constraint == "project":
                offsets = project_to_ball(offsets, cfg.radius)
        positives = (z + offsets).view(latents.shape)
        return COPGenNavigatorOutput(positives=positives, offsets=offsets, raw_offsets=raw)

    def _shared_offset(self, raw: torch.Tensor) -> torch.Tensor:
        """E_z[T(z)]: the batch mean while training (tracked as a running mean), the running mean at inference."""
        if not self.training:
            return self.running_mean_offset
        mean = raw.mean(dim=0)
        with torch.no_grad():
            self.running_mean_offset.lerp_(mean.detach().to(self.running_mean_offset.dtype), self._running_momentum)
        return mean

    def _flat(self, latents: torch.Tensor) -> torch.Tensor:
        d = self.config.latent_dim
        if (not isinstance(latents, torch.Tensor) or latents.ndim < 2 or len(latents) == 0
                or latents[0].numel() != d):
            shape = tuple(latents.shape) if isinstance(latents, torch.Tensor) else type(latents).__name__
            raise ValueError(f"latents must be a batch of {d}-number codes (N, {d}) for this navigator's generator "
                             f"(N >= 1); got {shape}")
        if not latents.is_floating_point():
            raise ValueError(f"latents must be float values, got dtype {latents.dtype}")
        if not torch.isfinite(latents).all():
            raise ValueError("latents must be finite float values; some are NaN/inf")
        check_input(self, latents, name="latents", shape=f"(N, {d})", fix="", finite=False)
        return latents.reshape(len(latents), -1)
