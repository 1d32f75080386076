"""The AMR autoencoder behind the :class:`GeneratorAdapter` contract: decoder as G, encoder as the
exact inverse, and a Gaussian latent prior fitted to the codes of training images.

Why a full-covariance Gaussian: AMR has no prior of its own (its codes are whatever the encoder
makes of the data), and the bottleneck is a ``C × 4 × 4`` grid whose neighbouring cells and channels
are strongly correlated; a diagonal Gaussian would sample codes with independent cells, which decode
to blotchy images off the data manifold. The code has at most a few thousand numbers, so the
Cholesky factor is cheap to fit, store (``latent_prior.safetensors``) and sample from.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ..configuration_amr import LATENT_SIZE
from ..modeling_amr import AMRAutoencoder
from .base import GeneratorAdapter, resolve_file

PRIOR_FILE = "latent_prior.safetensors"


class AMRGeneratorAdapter(GeneratorAdapter):
    """An :class:`~hf_nda.AMRAutoencoder` as a frozen COP-Gen generator: ``decode`` is its decoder,
    ``encode`` its encoder (so ``decode(encode(x))`` is the autoencoder's reconstruction), and the
    latent prior is N(mean, L Lᵀ) fitted to codes of training images with :meth:`fit_prior`
    (truncation applies to the whitened draw ε in ``z = mean + L ε``).

    The prior lives in buffers ``prior_mean`` (D,) and ``prior_scale_tril`` (D, D), D = ``latent_dim``;
    :meth:`save_prior` writes them to ``latent_prior.safetensors``, which ``load_generator`` reads from
    the model's folder (or from ``prior_source=``).

    Example:
        >>> from hf_nda import AMRAutoencoder, AMRConfig
        >>> adapter = AMRGeneratorAdapter(AMRAutoencoder(AMRConfig(image_size=16, base_channels=4)))
        >>> x = torch.rand(64, 1, 16, 16) * 2 - 1
        >>> adapter.fit_prior(x).sample_latents(3, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([3, 2, 4, 4])
        >>> torch.equal(adapter.decode(adapter.encode(x), clamp=False), adapter.model(x).reconstructions)
        True
    """

    kind = "amr"
    has_encoder = True
    model_type = "amr_autoencoder"
    subfolders = ("", "autoencoder")  # an autoencoder folder, or an AMR run (autoencoder/ and a top-level copy)

    def __init__(self, autoencoder: AMRAutoencoder, source: str = "", truncation: float | None = None,
                 revision: str | None = None):
        if not isinstance(autoencoder, AMRAutoencoder):
            raise ValueError(f"AMRGeneratorAdapter wraps an AMRAutoencoder, got {type(autoencoder).__name__}")
        c = autoencoder.config
        super().__init__(autoencoder, source, (c.latent_channels, LATENT_SIZE, LATENT_SIZE), c.image_size,
                         c.num_channels, truncation, revision=revision)
        self.register_buffer("prior_mean", None)
        self.register_buffer("prior_scale_tril", None)
        self.prior_source: str | None = None  # where the prior was loaded from / saved to
        self.prior_num_images = 0

    # ---- loading ----------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, source, *, truncation: float | None = None, prior_source: str | None = None,
                        subfolder: str | None = None, **kwargs) -> "AMRGeneratorAdapter":
        """Load the autoencoder (folder, AMR run directory or repo id) and the latent prior: from
        ``prior_source`` (a folder, a ``.safetensors`` file or a repo id; it must hold one) or, by
        default, from the model's own folder when it has a ``latent_prior.safetensors``."""
        autoencoder, source, subfolder, hub = cls.load_located(AMRAutoencoder, source, subfolder, kwargs,
                                                               "autoencoder/ (an AMR run directory)")
        adapter = cls(autoencoder, source, truncation, revision=hub.get("revision"))
        if prior_source is not None:
            return adapter.load_prior(prior_source, **hub)
        candidates = (resolve_file(source, PRIOR_FILE, sub, **hub) for sub in dict.fromkeys(("", subfolder)))
        found = next((path for path in candidates if path is not None), None)
        if found is not None:
            adapter._load_prior_file(found, origin=source)
        return adapter

    def _load_options(self) -> dict:
        if self.has_prior and self.prior_source is None:
            warnings.warn("this AMR adapter's fitted latent prior is not saved, so load_generator(**describe()) will "
                          "not restore it; call adapter.save_prior(folder) first", stacklevel=3)
        return {"prior_source": self.prior_source}

    # ---- the prior --------------------------------------------------------------------------------
    @property
    def has_prior(self) -> bool:
        return self.prior_mean is not None

    @torch.no_grad()
    def fit_prior(self, images, batch_size: int = 256, jitter: float = 1e-6) -> "AMRGeneratorAdapter":
        """Fit N(mean, Σ) to the codes f(x) of ``images``: an (N, C, H, W) tensor in [-1, 1], or an
        iterable of such batches (or of dicts with ``pixel_values`` / tuples whose first item is the
        batch). Sums are accumulated in float64, one batch at a time. Σ's Cholesky factor is taken
        with ``jitter · mean(diag Σ)`` added to the diagonal, raised tenfold until it succeeds
        (needed when there are fewer images than latent numbers)."""
        d = self.latent_dim
        total, outer, n = torch.zeros(d, dtype=torch.float64), torch.zeros(d, d, dtype=torch.float64), 0
        for batch in _batches(images, batch_size):
            h = self.encode(batch).flatten(1).double().cpu()
            total, outer, n = total + h.sum(0), outer + h.T @ h, n + len(h)
        if n < 2:
            raise ValueError(f"fit_prior needs at least 2 images, got {n}")
        if n <= d:
            warnings.warn(f"fitting a {d}-dimensional Gaussian to {n} codes: the covariance is singular and only "
                          "the jitter makes it usable; fit on more training images", stacklevel=2)
        mean = total / n
        cov = (outer - n * torch.outer(mean, mean)) / (n - 1)
        self._set_prior(mean, _cholesky(cov, jitter), n)
        self.prior_source = None
        return self

    def save_prior(self, folder: str | os.PathLike | None = None) -> Path:
        """Write the prior to ``folder/latent_prior.safetensors`` (default: the model's folder, when it
        was loaded from a local one); ``describe()`` then points ``prior_source`` there."""
        if not self.has_prior:
            raise ValueError("no latent prior to save: call adapter.fit_prior(train_images) first")
        if folder is None:
            if not os.path.isdir(self.source):
                raise ValueError(f"the model was not loaded from a local folder ({self.source!r}): "
                                 "pass save_prior(folder)")
            folder = self.source
        path = Path(folder) / PRIOR_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{PRIOR_FILE}")
        tensors = {"mean": self.prior_mean.float().cpu().contiguous(),
                   "scale_tril": self.prior_scale_tril.float().cpu().contiguous()}
        save_file(tensors, str(tmp), metadata={"latent_shape": ",".join(map(str, self.latent_shape)),
                                               "num_images": str(self.prior_num_images)})
        os.replace(tmp, path)  # never a half-written prior
        self.prior_source = str(folder)
        return path

    def load_prior(self, source: str | os.PathLike, **hub_kwargs) -> "AMRGeneratorAdapter":
        """Read a prior saved by :meth:`save_prior` from a folder, a file or a repo id."""
        source = str(source)
        path = Path(source) if os.path.isfile(source) else resolve_file(source, PRIOR_FILE, **hub_kwargs)
        if path is None:
            raise ValueError(f"no {PRIOR_FILE} at {source!r}; fit one with adapter.fit_prior(train_images) and "
                             "adapter.save_prior(folder)")
        return self._load_prior_file(path, origin=source)

    def _load_prior_file(self, path: Path, origin: str) -> "AMRGeneratorAdapter":
        tensors = load_file(str(path))
        d = self.latent_dim
        shapes = {k: tuple(v.shape) for k, v in tensors.items()}
        if shapes != {"mean": (d,), "scale_tril": (d, d)}:
            raise ValueError(f"{path} is not a latent prior of this generator (latent_dim {d}): it holds {shapes}")
        with safe_open(str(path), "pt") as f:
            num_images = int((f.metadata() or {}).get("num_images", 0))
        self._set_prior(tensors["mean"], tensors["scale_tril"], num_images)
        self.prior_source = origin
        return self

    def _set_prior(self, mean: torch.Tensor, scale_tril: torch.Tensor, num_images: int) -> None:
        self.prior_mean = mean.to(device=self.device, dtype=torch.float32)
        self.prior_scale_tril = scale_tril.to(device=self.device, dtype=torch.float32)
        self.prior_num_images = num_images

    def _from_standard_normal(self, eps: torch.Tensor) -> torch.Tensor:
        if not self.has_prior:
            raise ValueError("this AMR generator has no latent prior yet: call adapter.fit_prior(train_images) (and "
                             f"adapter.save_prior(folder) to keep it), or load one with prior_source= / a {PRIOR_FILE} "
                             "next to the model")
        mean, tril = self.prior_mean.to(eps.device), self.prior_scale_tril.to(eps.device)
        return torch.addmm(mean, eps.flatten(1), tril.T).view_as(eps)  # mean + L ε, one matmul for the batch

    # ---- decode / encode --------------------------------------------------------------------------
    def _decode(self, latents: torch.Tensor, labels) -> torch.Tensor:
        return self.model.decode(latents)

    def _encode(self, images: torch.Tensor, labels) -> torch.Tensor:
        return self.model.encode(images)


def _batches(images, batch_size: int):
    if isinstance(images, torch.Tensor):
        yield from images.split(batch_size)
        return
    for batch in images:
        if isinstance(batch, dict):
            batch = batch["pixel_values"]
        elif isinstance(batch, (tuple, list)):
            batch = batch[0]
        yield batch


def _cholesky(cov: torch.Tensor, jitter: float) -> torch.Tensor:
    scale = cov.diagonal().mean().clamp_min(1e-12)
    eye = torch.eye(len(cov), dtype=cov.dtype)
    for attempt in range(8):
        factor, info = torch.linalg.cholesky_ex(cov + jitter * 10**attempt * scale * eye)
        if info == 0:
            return factor
    raise ValueError("the code covariance is not positive definite even with jitter; are the codes all equal?")
