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


def _gamma_parts(concentration: torch.Tensor, generator, tries: int):
    """One Gamma(concentration, 1) draw per element, as ``(base, boost_u, alpha, boost)``: the sample is
    ``base * boost_u ** (1 / alpha)`` where ``boost`` (alpha < 1), else ``base`` (Marsaglia-Tsang with
    rejection; ``tries`` proposals per element are drawn at once and the first accepted one kept)."""
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
    base = (d * torch.gather(v, 0, first)[0])
    missed = ~ok.any(dim=0)
    if missed.any():
        base[missed] = gamma(a[missed], generator, tries)
    boost_u = torch.rand(a.shape, generator=generator, device=a.device)
    return base, boost_u, alpha, boost


def _combine(parts) -> torch.Tensor:
    base, boost_u, alpha, boost = parts
    return torch.where(boost, base * boost_u ** (1.0 / alpha), base)


def _log_combine(parts) -> torch.Tensor:
    """The same draws as :func:`_combine`, as float64 logarithms: finite where the float32 sample
    underflows to 0 (a small concentration raises U to a large power)."""
    base, boost_u, alpha, boost = (p.double() if p.is_floating_point() else p for p in parts)
    return torch.log(base) + torch.where(boost, torch.log(boost_u) / alpha, torch.zeros_like(base))


def gamma(concentration: torch.Tensor, generator: torch.Generator | None = None, tries: int = 4) -> torch.Tensor:
    """Gamma(concentration, 1) samples, one per element (Marsaglia-Tsang with rejection).

    ``tries`` proposals per element are drawn at once and the first accepted one kept, so the usual
    case is one batched pass; elements with no accepted proposal (rare) are drawn again. For a small
    concentration (below about 0.05) a float32 sample can underflow to 0; :func:`beta` and
    :func:`dirichlet` normalise in log space there, so they stay finite.
    """
    return _combine(_gamma_parts(concentration, generator, tries)).to(concentration.dtype)


def _normalised(parts, shape, dtype) -> torch.Tensor:
    """Gamma draws (``parts``, reshaped to ``shape`` with the normalised axis last) divided by their
    sum. Rows whose float32 sum underflows (tiny concentrations) are normalised in log space
    instead (a softmax of the log-samples, float64), so every row is finite and sums to one; rows
    that do not underflow are computed exactly as a plain division."""
    g = _combine(parts).to(dtype).reshape(shape)
    out = g / g.sum(dim=-1, keepdim=True)
    bad = ~torch.isfinite(out).all(dim=-1)
    if bad.any():
        log_g = _log_combine(parts).reshape(shape)[bad]
        # every sample of a row at -inf (U = 0 exactly): give the row equal weights instead of NaN
        log_g = torch.where(torch.isneginf(log_g).all(dim=-1, keepdim=True), torch.zeros_like(log_g), log_g)
        out[bad] = torch.softmax(log_g, dim=-1).to(out.dtype)
    return out


def beta(alpha: float, beta_: float, n: int, generator, like: torch.Tensor) -> torch.Tensor:
    """``n`` draws of Beta(alpha, beta_) as float32 on ``like.device``; finite for any alpha, beta_ > 0
    (for small ones, where both Gamma draws underflow, the ratio is taken in log space)."""
    dev = draw_device(generator, like)
    conc = torch.tensor([float(alpha), float(beta_)], device=dev).repeat_interleave(n)
    parts = _gamma_parts(conc, generator, 4)  # one batched draw for both Gamma variables
    # rows (g1, g2): element i of the first half pairs with element i of the second
    pairs = _normalised(tuple(p.view(2, n).T for p in parts), (n, 2), conc.dtype)
    return pairs[:, 0].contiguous().to(like.device)


def dirichlet(concentration: torch.Tensor, n: int, generator=None) -> torch.Tensor:
    """``n`` draws of Dirichlet(concentration): shape ``(n, k)``, rows sum to one (finite also for
    small concentrations, see :func:`beta`)."""
    conc = concentration.expand(n, -1).contiguous()
    return _normalised(_gamma_parts(conc, generator, 4), conc.shape, concentration.dtype)


def other_index(n: int, generator, like: torch.Tensor) -> torch.Tensor:
    """For each row ``i`` a uniformly chosen partner index ``j != i`` (needs ``n >= 2``)."""
    shift = torch.randint(1, n, (n,), generator=generator, device=draw_device(generator, like))
    return (torch.arange(n, device=shift.device) + shift).remainder_(n).to(like.device)
