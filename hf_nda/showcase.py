"""The negatives showcase: a PNG grid of real images and every negative transform of them
(the picture of paper Fig. 2)."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import save_image

from .data import dataset_to_pixel_values, load_image_dataset
from .processing import NDAImageProcessor, NEGATIVE_NAMES, get_transform


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int) -> Path:
    """Save [-1, 1] images as one PNG grid (torchvision does the tiling)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images.detach().float().cpu(), path, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    return path


def show_negatives(dataset: str = "fashion_mnist", output: str = "negatives.png", n: int = 8,
                   transforms=NEGATIVE_NAMES, seed: int = 0, size: int = 32, data_dir: str | None = None) -> Path:
    """Write a grid whose first row is ``n`` real test images and each further row one transform.

    Example:
        >>> show_negatives("digits", "/tmp/negatives.png", n=4)  # doctest: +SKIP
    """
    processor = NDAImageProcessor(size={"height": size, "width": size})
    real = dataset_to_pixel_values(load_image_dataset(dataset, "test", data_dir=data_dir), processor, limit=n)
    generator = torch.Generator().manual_seed(seed)
    rows = [real] + [get_transform(name)(real, generator=generator) for name in transforms]
    return save_image_grid(torch.cat(rows), output, nrow=len(real))
