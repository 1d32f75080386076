"""Running a module in evaluation mode for a while (torch has no context manager for it)."""

from contextlib import contextmanager

import torch


@contextmanager
def evaluation_mode(module: torch.nn.Module):
    """``module.eval()`` inside the block, its previous mode restored after it (even on an error).

    Example:
        >>> net = torch.nn.Dropout(0.5)
        >>> with evaluation_mode(net):
        ...     net.training
        False
        >>> net.training
        True
    """
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
