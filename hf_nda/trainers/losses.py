"""Adversarial losses, on logits: the one place every trainer that plays a GAN game takes them from.

``real_loss`` pushes logits towards "real", ``fake_loss`` towards "fake"; the discriminator and
generator losses of NDA-GAN and AMR's Eq. 3 are sums of these terms.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

GAN_LOSSES = ("hinge", "js")


def _check_kind(kind: str) -> None:
    if kind not in GAN_LOSSES:
        raise ValueError(f"loss must be one of {GAN_LOSSES}, got {kind!r}")


def real_loss(logits: torch.Tensor, kind: str = "js") -> torch.Tensor:
    """The term that calls ``logits`` real: js -E[log σ(D)] (BCE with target 1), hinge E[max(0, 1 - D)]."""
    _check_kind(kind)
    if kind == "hinge":
        return F.relu(1 - logits).mean()
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def fake_loss(logits: torch.Tensor, kind: str = "js") -> torch.Tensor:
    """The term that calls ``logits`` fake: js -E[log(1 - σ(D))] (BCE with target 0), hinge E[max(0, 1 + D)]."""
    _check_kind(kind)
    if kind == "hinge":
        return F.relu(1 + logits).mean()
    return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))


def discriminator_loss(real_logits: torch.Tensor, negative_logits: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """D's loss: real images up, negatives (generated and/or NDA samples) down.

    hinge: E[max(0, 1 - D(x))] + E[max(0, 1 + D(x̄))]
    js:    -E[log σ(D(x))] - E[log(1 - σ(D(x̄)))]   (Eq. 2, as BCE on logits)
    """
    return real_loss(real_logits, kind) + fake_loss(negative_logits, kind)


def generator_loss(fake_logits: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """G's loss: hinge -E[D(G(z))]; js the non-saturating -E[log σ(D(G(z)))]."""
    _check_kind(kind)
    return -fake_logits.mean() if kind == "hinge" else real_loss(fake_logits, "js")


def mixture_counts(batch_size: int, nda_lambda: float) -> tuple[int, int]:
    """How many of a batch of D's negatives are generated vs NDA samples under Eq. 3's mixture
    λ·G + (1-λ)·P̄: round(λ·B) generated, the rest NDA, so the batch costs what a plain one does."""
    if not 0.0 <= nda_lambda <= 1.0:
        raise ValueError(f"nda_lambda must be in [0, 1], got {nda_lambda}")
    generated = int(round(nda_lambda * batch_size))
    return generated, batch_size - generated
