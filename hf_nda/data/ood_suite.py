"""Out-of-distribution suites: named image sets that an in-distribution detector should reject.

Three kinds of set, all with the in-distribution test images' size and channel count:
another dataset (e.g. MNIST digits against Fashion-MNIST), every negative transform applied to the
test images, and CIFAR-10-C style corruptions of the test images.
"""

from __future__ import annotations

import torch

from ..processing import CORRUPTIONS, NEGATIVE_NAMES, corrupt, get_transform
from .sources import load_image_dataset
from .tensors import dataset_to_pixel_values

DEFAULT_OTHER = {"fashion_mnist": ["mnist"], "mnist": ["fashion_mnist"], "digits": ["fashion_mnist"]}


def build_ood_suite(in_test: torch.Tensor, processor, *, other_datasets=("mnist",), negatives=NEGATIVE_NAMES,
                    corruptions=tuple(CORRUPTIONS), severity: int = 5, seed: int = 0,
                    max_per_set: int | None = None) -> dict[str, torch.Tensor]:
    """Return ``{name: pixel_values}`` OOD sets built from ``in_test`` (N,C,H,W in [-1, 1]).

    Names: the other datasets' names, ``"nda/<transform>"`` and ``"corruption/<kind>"``.
    ``processor`` (an :class:`~hf_nda.processing.NDAImageProcessor`) brings other datasets to the
    size and channels of ``in_test``.

    Example:
        >>> suite = build_ood_suite(x_test, proc, other_datasets=["mnist"], severity=5)  # doctest: +SKIP
        >>> sorted(suite)[:3]  # doctest: +SKIP
        ['corruption/contrast', 'corruption/defocus_blur', 'corruption/gaussian_blur']
    """
    if max_per_set is not None:
        in_test = in_test[:max_per_set]
    generator = torch.Generator().manual_seed(seed)
    suite: dict[str, torch.Tensor] = {}
    for name in other_datasets:
        other = dataset_to_pixel_values(load_image_dataset(name, "test"), processor, limit=len(in_test))
        suite[name] = other
    for name in negatives:
        suite[f"nda/{name}"] = get_transform(name)(in_test, generator=generator)
    for kind in corruptions:
        suite[f"corruption/{kind}"] = corrupt(in_test, kind, severity, generator)
    for name, images in suite.items():
        if images.shape[1:] != in_test.shape[1:]:
            raise ValueError(f"OOD set {name} has image shape {tuple(images.shape[1:])}, expected "
                             f"{tuple(in_test.shape[1:])}")
    return suite
