"""Offline-capable image datasets, out-of-distribution suites and generated pair datasets."""

from .ood_suite import DEFAULT_OTHER, build_ood_suite
from .pairs import generate_pairs, load_pair_dataset
from .sources import load_image_dataset
from .tensors import cached_pixel_values, dataset_labels, dataset_to_pixel_values

__all__ = ["DEFAULT_OTHER", "build_ood_suite", "load_image_dataset", "cached_pixel_values", "dataset_labels", "dataset_to_pixel_values",
           "generate_pairs", "load_pair_dataset"]
