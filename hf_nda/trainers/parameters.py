"""What happens to a model's parameters outside its optimizer step: frozen for another model's
update, or averaged (EMA)."""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def freeze(module: torch.nn.Module):
    """Parameters of ``module`` excluded from autograd for the block: no weight gradients are
    computed (nor, under DDP, all-reduced); gradients still flow through it to its input."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def ema_with_warmup(decay: float):
    """EMA update whose decay ramps up as min(decay, (1 + n) / (10 + n)) after n updates: a fixed
    0.999 would still be averaging in the random initialisation after a short run (torch's
    ``get_ema_multi_avg_fn`` has no warm-up)."""

    @torch.no_grad()
    def update(ema_params, params, num_averaged):
        weight = 1 - min(decay, (1 + int(num_averaged)) / (10 + int(num_averaged)))
        for ema_param, param in zip(ema_params, params):
            if ema_param.is_floating_point():
                ema_param.lerp_(param, weight)
            else:  # counters such as BatchNorm's num_batches_tracked
                ema_param.copy_(param)

    return update
