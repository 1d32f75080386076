"""Pictures and numbers of a learned augmentation policy (CRL-TAC §3.2, App. 5.5): P(T|x) heat maps
over a crop grid next to their images (paper Fig. 3), the mass on crops that intersect the digit's
cell, and the uniformity of a representation (average pairwise Gaussian potential, Wang & Isola)."""

from __future__ import annotations

from pathlib import Path

import torch


def heat_maps(probs: torch.Tensor, crop_grid) -> torch.Tensor:
    """N,|T| probabilities → N,rows,cols maps scaled to [0, 1] per image (pixel (i, j) = P(T_ij|x),
    T_ij the crop with top-left corner on grid row i, column j).

    Example:
        >>> from hf_nda.processing.discrete import CropGrid
        >>> heat_maps(torch.full((2, 289), 1 / 289), CropGrid()).shape
        torch.Size([2, 17, 17])
    """
    rows, cols = crop_grid.grid
    maps = probs.float().view(len(probs), rows, cols)
    return maps / maps.amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)


def uniformity(z: torch.Tensor, t: float = 2.0, max_points: int = 2000) -> float:
    """Average pairwise Gaussian potential mean_{i<j} exp(−t‖z_i − z_j‖²) of normalised codes (lower
    = more uniform on the sphere; the paper reports 0.0845 learned vs 0.9757 SimCLR). Note: Wang &
    Isola's *loss* is the log of this; the paper reports the potential itself."""
    z = torch.nn.functional.normalize(z[:max_points].float(), dim=1)
    return float(torch.pdist(z).pow(2).mul(-t).exp().mean())


def plot_policy_maps(images: torch.Tensor, probs: torch.Tensor, crop_grid, path: str | Path,
                     title: str | None = None, rows_of: dict[str, torch.Tensor] | None = None) -> Path:
    """A PNG like the paper's Fig. 3: images on top, their P(T|x) heat maps below (one more row of
    maps per extra entry of ``rows_of``: name → N,|T| probabilities, e.g. another policy's)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    named = {"P(T|x)": probs, **(rows_of or {})}
    n = len(images)
    fig, axes = plt.subplots(1 + len(named), n, figsize=(1.3 * n, 1.4 * (1 + len(named))), squeeze=False)
    for j in range(n):
        axes[0, j].imshow(images[j, 0].cpu().numpy(), cmap="gray", vmin=-1, vmax=1)
        for r, (name, p) in enumerate(named.items(), start=1):
            axes[r, j].imshow(heat_maps(p[j:j + 1], crop_grid)[0].cpu().numpy(), cmap="magma", vmin=0, vmax=1)
            if j == 0:
                axes[r, j].set_ylabel(name, fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
