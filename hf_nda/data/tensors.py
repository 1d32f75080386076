"""Turning a ``datasets.Dataset`` of images into one ``pixel_values`` tensor.

Small image datasets (MNIST-sized) fit in memory as one float tensor; training from that tensor
skips per-step PIL decoding, which would otherwise dominate a CPU step.
"""

from __future__ import annotations

import os

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
        # The images as decoded (PIL): the processor reads each mode by its real range (a palette
        # image's colours, not its indices; a 16-bit image's 0..65535), which np.array(im) would lose.
        chunks.append(processor(list(rows), return_tensors="pt").pixel_values)
    return torch.cat(chunks)


def dataset_labels(dataset, label_column: str = "label", limit: int | None = None) -> torch.Tensor:
    """The label column as a long tensor (first ``limit`` rows)."""
    labels = dataset[label_column] if limit is None else dataset[:limit][label_column]
    return torch.as_tensor(labels, dtype=torch.long)


def cached_pixel_values(name: str, split: str, processor, *, data_dir: str | None = None):
    """``(pixel_values, labels)`` of a named dataset split, processed once and cached as safetensors
    under ``HF_NDA_CACHE`` (keyed by size and channels); a path to a saved dataset or an image folder
    is processed without caching.
    """
    from safetensors.torch import load_file, save_file

    from .sources import cache_dir, is_local_dataset_path, load_image_dataset, load_local_path

    if is_local_dataset_path(name):
        dataset = load_local_path(name, split)
        return dataset_to_pixel_values(dataset, processor), dataset_labels(dataset)
    size, channels = processor.size, processor.num_channels
    target = cache_dir() / "tensors" / f"{name}-{split}-{size.height}x{size.width}x{channels}.safetensors"
    if data_dir is None and target.exists():
        try:
            tensors = load_file(target)
            return tensors["pixel_values"], tensors["labels"]
        except Exception:  # a damaged cache file is rebuilt, never trusted
            target.unlink(missing_ok=True)
    dataset = load_image_dataset(name, split, data_dir=data_dir)
    pixel_values, labels = dataset_to_pixel_values(dataset, processor), dataset_labels(dataset)
    if data_dir is None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        save_file({"pixel_values": pixel_values.contiguous(), "labels": labels.contiguous()}, tmp)
        os.replace(tmp, target)
    return pixel_values, labels
