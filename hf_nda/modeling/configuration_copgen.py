"""Configuration of the COP-Gen latent navigator (same idiom as the other configs: ``Literal``
fields and ``validate_*`` methods of a ``@strict`` dataclass)."""

import math
from typing import Literal, get_args

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

Positive = Literal["copgen", "gaussian", "none"]
Navigator = Literal["nonlinear", "linear"]
Constraint = Literal["monitor", "project", "penalty"]
POSITIVES, NAVIGATORS, CONSTRAINTS = get_args(Positive), get_args(Navigator), get_args(Constraint)


@strict
class COPGenNavigatorConfig(PreTrainedConfig):
    r"""A latent navigator z' = z + T(z) (COP-Gen, Eq. 5–6) and the generator it was trained over.

    latent_dim (`int`): size of the (flattened) latent z.
    navigator (`str`, defaults to `"nonlinear"`): T = Linear → ReLU → Linear (the paper's default) or
        one Linear layer (the paper's ablation).
    hidden_dim (`int`, defaults to 0): T's hidden width; 0 means latent_dim (as in the paper).
    positive (`str`, defaults to `"copgen"`): how positives are made: `"copgen"` (z + T(z)),
        `"gaussian"` (GenRep's z + σ·truncnorm(−2, 2)) or `"none"` (z' = z).
    sigma (`float`, defaults to 0.2): σ of the Gaussian baseline (also the reference scale in the logs).
    delta (`float`, defaults to 0): the radius δ of d(z, z') ≤ δ (Eq. 5); 0 means σ·√latent_dim, the
        Gaussian baseline's typical step.
    constraint (`str`, defaults to `"project"`): how δ is enforced: `"project"` (z' − z scaled back onto
        the δ-ball), `"penalty"` (the trainer adds a penalty beyond δ) or `"monitor"` (log and warn only,
        the authors' code).
    center (`bool`, defaults to True): remove the shared part of T(z) — its mean over z (batch mean in
        training, a running mean at inference) — so the navigator can only make instance-specific moves.
    generator (`dict`): the generator adapter's ``describe()`` (kind, source, latent shape, truncation),
        so one navigator folder or repo id is enough to generate.

    Example:
        >>> config = COPGenNavigatorConfig(latent_dim=128, generator={"kind": "nda_gan", "source": "runs/gan"})
        >>> round(config.radius, 3)
        2.263
    """

    model_type = "copgen_navigator"
    latent_dim: int = 128
    navigator: Navigator = "nonlinear"
    hidden_dim: int = 0
    positive: Positive = "copgen"
    sigma: float = 0.2
    delta: float = 0.0
    constraint: Constraint = "project"
    center: bool = True
    generator: dict | None = None

    @property
    def radius(self) -> float:
        """δ in use: ``delta``, or σ·√latent_dim when it is 0."""
        return self.delta or self.sigma * math.sqrt(self.latent_dim)

    def validate_latent_dim(self):
        if self.latent_dim < 1 or self.hidden_dim < 0:
            raise ValueError(f"latent_dim must be >= 1 and hidden_dim >= 0, got {self.latent_dim}, {self.hidden_dim}")

    def validate_scales(self):
        if self.sigma < 0 or self.delta < 0:
            raise ValueError(f"sigma and delta must be >= 0, got sigma={self.sigma}, delta={self.delta}")
