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


@torch.no_grad()
def integrated_codes(model, images: torch.Tensor, topn: int | None = None, batch_size: int = 64):
    """(E f N,F, normalise(E h) N,P, P(T|x) N,|T|) of a :class:`~hf_nda.modeling.CRLTACModel` (eval mode)."""
    model.eval()
    device = next(model.parameters()).device
    outs = [model(b.to(device), topn=topn) for b in images.split(batch_size)]
    return tuple(torch.cat([getattr(o, k).float().cpu() for o in outs]) for k in ("features", "image_embeds", "probs"))


def digit_mass(probs: torch.Tensor, positions: torch.Tensor, crop_grid) -> float:
    """Mean P(T|x) mass on crops that intersect the cell (0..8) of each canvas image."""
    from ..data.canvas import cell_crop_mask

    return float((probs * cell_crop_mask(crop_grid)[positions].float()).sum(1).mean())


def crl_tac_probe(model, train_x, train_y, test_x, test_y, num_classes: int, test_positions=None,
                  knn_k: int = 20, topn: int | None = None) -> dict:
    """Linear probe (held-out test) and kNN of f and h integrated over P(T|x), the policy's mass on
    digit crops (canvas datasets) and the uniformity of h (test images)."""
    from .probe import fit_linear_probe, knn_accuracy

    train_f, train_h, _ = integrated_codes(model, train_x, topn)
    test_f, test_h, test_p = integrated_codes(model, test_x, topn)
    results = {}
    for name, (a, b) in {"f": (train_f, test_f), "h": (train_h, test_h)}.items():
        weight, bias = fit_linear_probe(a, train_y, num_classes)
        results[f"linear_top1_{name}"] = float(((b @ weight.T + bias).argmax(1) == test_y).float().mean())
        results[f"knn_top1_{name}"] = knn_accuracy(a, train_y, b, test_y, knn_k)
    results["uniformity_h"] = uniformity(test_h)
    results["entropy"] = float(-(test_p * test_p.clamp_min(1e-30).log()).sum(1).mean())
    if test_positions is not None:
        results["digit_mass"] = digit_mass(test_p, test_positions, model.transform_set)
    return results
