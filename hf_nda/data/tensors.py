"""Turning a ``datasets.Dataset`` of images into one ``pixel_values`` tensor.

Small image datasets (MNIST-sized) fit in memory as one float tensor; training from that tensor
skips per-step PIL decoding, which would otherwise dominate a CPU step.
"""

from __future__ import annotations

import numpy as np
import torch


def dataset_to_pixel_values(dataset, processor, *, image_column: str = "image", limit: int | None = None,
                            batch_size: int = 4096) -> torch.Tensor:
    """Run ``processor`` over ``dataset[image_column]`` in batches and stack into N,C,H,W in [-1, 1].

    Example:
        >>> x = dataset_to_pixel_values(load_image_dataset("digits", "test"), NDAImageProcessor())  # doctest: +SKIP
    """
    if image_column not in dataset.column_names:
        raise ValueError(f"dataset has no column {image_column!r}; columns: {dataset.column_names}")
    n = len(dataset) if limit is None else min(limit, len(dataset))
    if n == 0:
        raise ValueError("the dataset is empty")
    chunks = []
    for start in range(0, n, batch_size):
        rows = dataset[start:min(start + batch_size, n)][image_column]
        chunks.append(processor([np.array(im) for im in rows], return_tensors="pt").pixel_values)
    return torch.cat(chunks)


def dataset_labels(dataset, label_column: str = "label", limit: int | None = None) -> torch.Tensor:
    """The label column as a long tensor (first ``limit`` rows)."""
    labels = dataset[label_column] if limit is None else dataset[:limit][label_column]
    return torch.as_tensor(labels, dtype=torch.long)
