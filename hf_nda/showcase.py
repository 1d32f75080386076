"""The negatives showcase: a PNG grid of real images and every negative transform of them
(the picture of paper Fig. 2), with a label per row."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

from .data import dataset_to_pixel_values, load_image_dataset
from .processing import NDAImageProcessor, NEGATIVE_NAMES, get_transform

MIN_CELL_PIXELS = 64  # sample grids: tiny images are upscaled (nearest neighbour) to at least this
SHOWCASE_CELL_PIXELS = 96  # the negatives figure: each image shown at least this large


def upscale(images: torch.Tensor, min_pixels: int) -> torch.Tensor:
    """Nearest-neighbour upscale N,C,H,W images by the smallest integer factor making the shorter
    side at least ``min_pixels`` (no change when they already are)."""
    factor = max(1, math.ceil(min_pixels / min(images.shape[-2:])))
    if factor == 1:
        return images
    return images.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def save_image_grid(images: torch.Tensor, path: str | Path, nrow: int, min_pixels: int = MIN_CELL_PIXELS) -> Path:
    """Save [-1, 1] images as one PNG grid (torchvision does the tiling); images smaller than
    ``min_pixels`` are upscaled by an integer factor (nearest neighbour) so they can be seen."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = upscale(images.detach().float().cpu(), min_pixels)
    save_image(images, path, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    return path


def save_labelled_rows(rows: list[torch.Tensor], labels: list[str], path: str | Path, title: str,
                       min_pixels: int = SHOWCASE_CELL_PIXELS):
    """One PNG of image rows (each N,C,H,W in [-1, 1]) with ``labels[i]`` written left of row ``i``
    and ``title`` above; images are upscaled by an integer factor (nearest neighbour) and drawn
    pixel for pixel, so the file is sharp and the same bytes for the same inputs. Returns the
    (closed) matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.textpath import TextPath

    if len(rows) != len(labels):
        raise ValueError(f"{len(rows)} rows but {len(labels)} labels")
    ncol = max(len(r) for r in rows)
    pad = 4
    grid = make_grid(upscale(torch.cat(rows).detach().float().cpu(), min_pixels), nrow=ncol, padding=pad,
                     normalize=True, value_range=(-1, 1), pad_value=1.0)
    image = (grid.permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    height, width = image.shape[:2]
    row_height = (height - pad) / len(rows)
    dpi, font = 100, 12  # points; 1 pt = dpi / 72 pixels
    px = dpi / 72
    label_width = max(TextPath((0, 0), label, size=font).get_extents().width for label in labels) * px
    left, bottom, right = math.ceil(label_width) + 16, 8, 8
    fig_w = left + width + right
    title_lines = textwrap.wrap(title, width=max(20, int(fig_w / (0.6 * font * px))))
    top = math.ceil(len(title_lines) * 1.3 * font * px) + 14
    fig_h = top + height + bottom
    fig = plt.figure(figsize=(fig_w / dpi, fig_h / dpi), dpi=dpi)
    ax = fig.add_axes((left / fig_w, bottom / fig_h, width / fig_w, height / fig_h))
    ax.imshow(image, interpolation="nearest", aspect="equal")
    ax.set_yticks([pad / 2 + row_height * (i + 0.5) for i in range(len(rows))], labels, fontsize=font)
    ax.set_xticks([])
    ax.tick_params(left=False, pad=6)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.text(0.5, 1 - 7 / fig_h, "\n".join(title_lines), ha="center", va="top", fontsize=font, linespacing=1.2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return fig


def show_negatives(dataset: str = "fashion_mnist", output: str = "negatives.png", n: int = 8,
                   transforms=NEGATIVE_NAMES, seed: int = 0, size: int = 32, data_dir: str | None = None) -> Path:
    """Write a figure whose first row is ``n`` real test images and each further row one
    transform of them, each row labelled with its transform's name.

    Example:
        >>> show_negatives("digits", "/tmp/negatives.png", n=4)  # doctest: +SKIP
    """
    processor = NDAImageProcessor(size={"height": size, "width": size})
    real = dataset_to_pixel_values(load_image_dataset(dataset, "test", data_dir=data_dir), processor, limit=n)
    generator = torch.Generator().manual_seed(seed)
    transforms = list(transforms)
    rows = [real] + [get_transform(name)(real, generator=generator) for name in transforms]
    title = (f"Negative data augmentations (paper Fig. 2): {len(real)} {dataset} test images (top row) "
             f"and each transform of the same images")
    save_labelled_rows(rows, ["real"] + transforms, output, title)
    return Path(output)
