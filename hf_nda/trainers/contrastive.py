"""The contrastive parts every contrastive family shares: InfoNCE with extra negatives (MoCo,
NDA-MoCo's Eq. 8), NT-Xent (SimCLR; COP-Gen's MI estimator, CRL-TAC's encoder), the key queue and
the momentum update.

lightly has an ``NTXentLoss`` and a memory bank, but no per-query extra negatives (Eq. 8) and no
gradient into shared negatives; these few lines are the whole of it, so we keep them here rather
than add a dependency.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(queries: torch.Tensor, keys: torch.Tensor, negatives: torch.Tensor | None = None,
             extra_negatives: torch.Tensor | None = None, temperature: float = 0.07) -> torch.Tensor:
    """InfoNCE of MoCo with shared and per-query negatives (Eq. 8 of the NDA paper).

    queries, keys: N,D (L2-normalised; row i of ``keys`` is the positive of query i);
    negatives: K,D shared by all queries (the key queue, optionally followed by shared NDA views);
    extra_negatives: N,M,D negatives of each query (its own NDA views), or None.
    Gradient flows into every argument that carries one — NDA views embedded by the query encoder
    (Eq. 8's h_θ(x̄)) are pushed away from the queries. Returns
    mean_i -log( e^{q_i·k_i/τ} / (e^{q_i·k_i/τ} + Σ_j e^{q_i·n_j/τ} + Σ_m e^{q_i·z̄_im/τ}) ).
    The (n + m) factor of Eq. 8 is a constant and is left out.

    Example:
        >>> q = k = F.normalize(torch.randn(4, 8), dim=1)
        >>> float(info_nce(q, k, F.normalize(torch.randn(16, 8), dim=1), temperature=0.2)) > 0
        True
    """
    logits = [(queries * keys).sum(1, keepdim=True)]
    if negatives is not None:
        logits.append(queries @ negatives.T)
    if extra_negatives is not None:
        logits.append(torch.einsum("nd,nmd->nm", queries, extra_negatives))
    logits = torch.cat(logits, dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(queries), dtype=torch.long, device=queries.device))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """NT-Xent (SimCLR): 2N embeddings, each one's positive is its pair, its negatives the other
    2N − 2; averaged over all 2N anchors.

    z1, z2: N,D, L2-normalised (row i of z1 and of z2 are two views of one instance).

    Example:
        >>> z = F.normalize(torch.randn(8, 16), dim=1)
        >>> float(nt_xent(z, z, temperature=0.1)) < float(nt_xent(z, z.roll(1, 0), temperature=0.1))
        True
    """
    if z1.shape != z2.shape or z1.ndim != 2 or len(z1) < 2:
        raise ValueError(f"nt_xent needs two N,D batches of one shape with N >= 2; got {tuple(z1.shape)} "
                         f"and {tuple(z2.shape)}")
    n = len(z1)
    z = torch.cat([z1, z2])
    logits = (z @ z.T) / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, targets)


class KeyQueue(torch.nn.Module):
    """A ring buffer of the last ``size`` keys (any size; wraps around).

    Example:
        >>> queue = KeyQueue(4096, 128, torch.Generator().manual_seed(0))
        >>> queue.enqueue(F.normalize(torch.randn(256, 128), dim=1))
    """

    def __init__(self, size: int, dim: int, generator: torch.Generator):
        super().__init__()
        self.register_buffer("keys", F.normalize(torch.randn(size, dim, generator=generator), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        size = len(self.keys)
        keys = keys[-size:]
        slots = (self.ptr + torch.arange(len(keys), device=keys.device)) % size
        self.keys[slots] = keys.to(self.keys.dtype)
        self.ptr.copy_((self.ptr + len(keys)) % size)


@torch.no_grad()
def momentum_update(key_encoder: torch.nn.Module, query_encoder: torch.nn.Module, momentum: float) -> None:
    """θ_k ← m·θ_k + (1 - m)·θ_q for every parameter."""
    for pk, pq in zip(key_encoder.parameters(), query_encoder.parameters()):
        pk.mul_(momentum).add_(pq.detach(), alpha=1 - momentum)
