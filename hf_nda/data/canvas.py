"""Canvas datasets (CRL-TAC §3): each 28×28 image placed at one of the 3×3 cells of a blank
84×84 canvas, so that most crops of an image are blank — and identical across images.

``load_image_dataset("canvas_mnist")`` / ``("canvas_fashion_mnist")`` build them from the same
offline sources as ``mnist`` / ``fashion_mnist`` (columns ``image``, ``label``, ``position``: the
cell, row-major 0..8). Positions are drawn with a seed per split, so a dataset is reproducible.
"""

from __future__ import annotations

import numpy as np
import torch

CANVAS_SPLIT_SEEDS = {"train": 1, "test": 2}


def place_on_canvas(images: np.ndarray, positions: np.ndarray, grid: int = 3, background: int = 0) -> np.ndarray:
    """N,h,w uint8 images → N,grid·h,grid·w canvases with image i in cell ``positions[i]`` (row-major).

    Example:
        >>> place_on_canvas(np.full((1, 2, 2), 9, np.uint8), np.array([4])).shape
        (1, 6, 6)
    """
    n, h, w = images.shape
    if positions.shape != (n,) or positions.min(initial=0) < 0 or positions.max(initial=0) >= grid * grid:
        raise ValueError(f"positions must be N={n} cell numbers in 0..{grid * grid - 1}")
    canvas = np.full((n, grid * h, grid * w), background, dtype=images.dtype)
    rows, cols = positions // grid, positions % grid
    for cell in np.unique(positions):  # one vectorised copy per cell, not per image
        sel = positions == cell
        r, c = int(rows[sel][0]), int(cols[sel][0])
        canvas[sel, r * h:(r + 1) * h, c * w:(c + 1) * w] = images[sel]
    return canvas


def canvas_split(dataset, seed: int, grid: int = 3):
    """One split of an image dataset (``image``, ``label``) placed on canvases, with a ``position``."""
    import datasets

    images = np.stack([np.array(im.convert("L")) for im in dataset["image"]])
    positions = np.random.default_rng(seed).integers(0, grid * grid, len(images))
    canvas = place_on_canvas(images, positions, grid)
    label_feature = dataset.features["label"]
    features = datasets.Features({"image": datasets.Image(), "label": label_feature,
                                  "position": datasets.ClassLabel(num_classes=grid * grid)})
    return datasets.Dataset.from_dict({"image": list(canvas), "label": dataset["label"],
                                       "position": positions.tolist()}, features=features)


def canvas_dataset_dict(base):
    """Every split of ``base`` (a ``DatasetDict``) on canvases, seeded per split."""
    import datasets

    return datasets.DatasetDict({split: canvas_split(ds, CANVAS_SPLIT_SEEDS.get(split, 3 + i))
                                 for i, (split, ds) in enumerate(base.items())})


def cell_crop_mask(crop_grid, grid: int = 3) -> torch.Tensor:
    """Bool ``grid²``×|T|: crop t of ``crop_grid`` (a :class:`~hf_nda.processing.discrete.CropGrid`)
    intersects cell c of its canvas, cut into ``grid``×``grid`` equal cells.

    Example:
        >>> from hf_nda.processing.discrete import CropGrid
        >>> round(float(cell_crop_mask(CropGrid(crop_size=20, stride=4, image_size=84)).float().mean()), 3)
        0.24
    """
    height, width = (crop_grid.image_size,) * 2 if isinstance(crop_grid.image_size, int) else crop_grid.image_size
    if height != width or height % grid:
        raise ValueError(f"cells need a square canvas divisible by {grid}, got {height}×{width}")
    cell_size, crop_size = height // grid, crop_grid.crop_size
    corners = torch.tensor([crop_grid.corner(i) for i in range(crop_grid.num_transforms)])
    cells = torch.arange(grid * grid)
    top, left = (cells // grid * cell_size)[:, None], (cells % grid * cell_size)[:, None]
    t, l = corners[:, 0][None], corners[:, 1][None]
    rows = (t < top + cell_size) & (t + crop_size > top)
    cols = (l < left + cell_size) & (l + crop_size > left)
    return rows & cols
