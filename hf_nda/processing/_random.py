"""Seeded random draws that give the same numbers on CPU and CUDA.

Small per-image parameters (permutations, patch corners, mixing weights) are drawn on the
generator's device and then moved to the batch's device, so one CPU ``torch.Generator`` gives the
same transform whether the batch lives on the CPU or a GPU.

``torch.distributions`` cannot take a ``torch.Generator``, which is why Gamma/Beta/Dirichlet
sampling is written here (Marsaglia & Tsang, 2000) instead of borrowed.
"""

from __future__ import annotations

import torch


def draw_device(generator: torch.Generator | None, like: torch.Tensor) -> torch.device:
    """Device the random numbers are drawn on: the generator's, else the batch's."""
    return generator.device if generator is not None else like.device


def uniform(shape, generator, like: torch.Tensor) -> torch.Tensor:
    """U[0, 1) floats of ``shape`` on ``like.device``."""
    return torch.rand(shape, generator=generator, device=draw_device(generator, like)).to(like.device)


def randint(low: int, high, shape, generator, like: torch.Tensor) -> torch.Tensor:
    """Integers in ``[low, high)``; ``high`` may be a tensor of per-row upper bounds (exclusive)."""
    u = torch.rand(shape, generator=generator, device=draw_device(generator, like), dtype=torch.float64)
    span = torch.as_tensor(high, device=u.device) - low
    return (u * span).long().add_(low).to(like.device)  # floor, as u * span >= 0


def normal(shape, generator, like: torch.Tensor) -> torch.Tensor:
    """Standard normal floats of ``shape`` with ``like``'s dtype and device."""
    z = torch.randn(shape, generator=generator, device=draw_device(generator, like))
    return z.to(device=like.device, dtype=like.dtype)


def gamma(concentration: torch.Tensor, generator: torch.Generator | None = None, tries: int = 4) -> torch.Tensor:
    """Gamma(concentration, 1) samples, one per element (Marsaglia-Tsang with rejection).

    ``tries`` proposals per element are drawn at once and the first accepted one kept, so the usual
    case is one batched pass; elements with no accepted proposal (rare) are drawn again.
    """
    alpha = concentration.to(torch.float32)
    boost = alpha < 1  # Gamma(a) = Gamma(a + 1) * U^(1/a) for a < 1
    a = torch.where(boost, alpha + 1, alpha)
    d = a - 1.0 / 3.0
    c = 1.0 / torch.sqrt(9.0 * d)
    x = torch.randn((tries, *a.shape), generator=generator, device=a.device)
    u = torch.rand((tries, *a.shape), generator=generator, device=a.device)
    v = (1 + c * x) ** 3
    ok = (v > 0) & (torch.log(u) < 0.5 * x**2 + d - d * v + d * torch.log(v.clamp_min(1e-30)))
    first = ok.to(torch.uint8).argmax(dim=0, keepdim=True)
    out = (d * torch.gather(v, 0, first)[0])
    missed = ~ok.any(dim=0)
    if missed.any():
        out[missed] = gamma(a[missed], generator, tries)
    boost_u = torch.rand(a.shape, generator=generator, device=a.device)
    out = torch.where(boost, out * boost_u ** (1.0 / alpha), out)
    return out.to(concentration.dtype)


def beta(alpha: float, beta_: float, n: int, generator, like: torch.Tensor) -> torch.Tensor:
    """``n`` draws of Beta(alpha, beta_) as float32 on ``like.device``."""
    dev = draw_device(generator, like)
    conc = torch.tensor([float(alpha), float(beta_)], device=dev).repeat_interleave(n)
    g = gamma(conc, generator)  # one batched draw for both Gamma variables
    return (g[:n] / (g[:n] + g[n:])).to(like.device)


def dirichlet(concentration: torch.Tensor, n: int, generator=None) -> torch.Tensor:
    """``n`` draws of Dirichlet(concentration): shape ``(n, k)``, rows sum to one."""
    g = gamma(concentration.expand(n, -1).contiguous(), generator)
    return g / g.sum(dim=1, keepdim=True)


def other_index(n: int, generator, like: torch.Tensor) -> torch.Tensor:
    """For each row ``i`` a uniformly chosen partner index ``j != i`` (needs ``n >= 2``)."""
    shift = torch.randint(1, n, (n,), generator=generator, device=draw_device(generator, like))
    return (torch.arange(n, device=shift.device) + shift).remainder_(n).to(like.device)
