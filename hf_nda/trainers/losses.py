"""Adversarial losses, on logits. One place for every trainer that plays a GAN game."""

from __future__ import annotations

import torch
import torch.nn.functional as F

GAN_LOSSES = ("hinge", "js")


def discriminator_loss(real_logits: torch.Tensor, negative_logits: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """D's loss: real images up, negatives (generated and/or NDA samples) down.

    hinge: E[max(0, 1 - D(x))] + E[max(0, 1 + D(x̄))]
    js:    -E[log σ(D(x))] - E[log(1 - σ(D(x̄)))]   (Eq. 2, as BCE on logits)
    """
    if kind == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + negative_logits).mean()
    if kind == "js":
        return F.softplus(-real_logits).mean() + F.softplus(negative_logits).mean()
    raise ValueError(f"loss must be one of {GAN_LOSSES}, got {kind!r}")


def generator_loss(fake_logits: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """G's loss: hinge -E[D(G(z))]; js the non-saturating -E[log σ(D(G(z)))]."""
    if kind == "hinge":
        return -fake_logits.mean()
    if kind == "js":
        return F.softplus(-fake_logits).mean()
    raise ValueError(f"loss must be one of {GAN_LOSSES}, got {kind!r}")


def mixture_counts(batch_size: int, nda_lambda: float) -> tuple[int, int]:
    """How many of a batch of D's negatives are generated vs NDA samples under Eq. 3's mixture
    λ·G + (1-λ)·P̄: round(λ·B) generated, the rest NDA, so the batch costs what a plain one does."""
    if not 0.0 <= nda_lambda <= 1.0:
        raise ValueError(f"nda_lambda must be in [0, 1], got {nda_lambda}")
    generated = int(round(nda_lambda * batch_size))
    return generated, batch_size - generated


def info_nce_with_negatives(queries: torch.Tensor, keys: torch.Tensor, queue: torch.Tensor,
                            extra_negatives: torch.Tensor | None, temperature: float) -> torch.Tensor:
    """InfoNCE of MoCo with explicit extra negatives per query (Eq. 8 of the NDA paper).

    queries, keys: N,D (L2-normalised; row i of ``keys`` is the positive of query i);
    queue: K,D negatives shared by all queries (the key queue, optionally followed by shared NDA
    views); extra_negatives: N,M,D negatives of each query (its NDA views), or None for plain MoCo.
    Gradient flows into every argument that carries one — NDA views embedded by the query encoder
    (Eq. 8's h_θ(x̄)) are pushed away from the queries. Returns
    mean_i -log( e^{q_i·k_i/τ} / (e^{q_i·k_i/τ} + Σ_j e^{q_i·n_j/τ} + Σ_m e^{q_i·z̄_im/τ}) ).
    The (n + m) factor of Eq. 8 is a constant and is left out.
    """
    logits = [(queries * keys).sum(1, keepdim=True), queries @ queue.T]
    if extra_negatives is not None:
        logits.append(torch.einsum("nd,nmd->nm", queries, extra_negatives))
    logits = torch.cat(logits, dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(queries), dtype=torch.long, device=queries.device))
