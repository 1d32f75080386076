"""What a user sees: the report plots and the negatives figure stay readable with many series."""

import numpy as np
import pytest
import torch
from PIL import Image

from hf_nda.evaluation.report import plot_roc_curves, plot_score_differences, series_styles
from hf_nda.processing import CORRUPTIONS, NEGATIVE_NAMES
from hf_nda.showcase import save_image_grid, save_labelled_rows, show_negatives


def _suite(n_in=200):
    g = torch.Generator().manual_seed(0)
    in_scores = torch.randn(n_in, generator=g)
    suite = {"mnist": torch.randn(150, generator=g) + 1}  # an unpaired set of another size
    for i, name in enumerate([f"nda/{n}" for n in NEGATIVE_NAMES] + [f"corruption/{c}" for c in CORRUPTIONS]):
        suite[name] = in_scores + 0.1 * i + 0.3 * torch.randn(n_in, generator=g)
    return in_scores, suite


def _line_style(line):
    import matplotlib.colors

    return matplotlib.colors.to_hex(line.get_color()), line.get_linestyle()


@pytest.mark.parametrize("n", [1, 10, 11, 12, 40, 41, 120])
def test_series_styles_never_repeat(n):
    import matplotlib.colors

    styles = series_styles(n)
    assert len(styles) == n
    assert len({(matplotlib.colors.to_hex(s["color"]), s["linestyle"]) for s in styles}) == n
    if n <= 10:  # few series: distinct colours alone
        assert len({matplotlib.colors.to_hex(s["color"]) for s in styles}) == n


def test_score_differences_one_titled_panel_per_set_on_a_shared_axis(tmp_path):
    in_scores, suite = _suite()
    paired = {k: v for k, v in suite.items() if "/" in k}
    assert len(paired) >= 11  # more than matplotlib's 10-colour cycle
    fig = plot_score_differences(in_scores, paired, tmp_path / "d.png")
    assert [ax.get_title() for ax in fig.axes] == list(paired)
    assert len({ax.get_xlim() for ax in fig.axes}) == 1  # shared x axis
    assert all(ax.patches for ax in fig.axes)  # each panel holds its histogram
    assert "D(x) − D(T(x))" in fig._suptitle.get_text() and "> 0" in fig._suptitle.get_text()
    assert any("D(x) − D(T(x))" in ax.get_xlabel() for ax in fig.axes)
    width, height = Image.open(tmp_path / "d.png").size
    assert width >= 1000 and height >= 500  # 12 panels laid out as a grid, not one squeezed strip

    fig = plot_score_differences(in_scores, dict(list(paired.items())[:2]), tmp_path / "two.png")
    assert len(fig.axes) == 2 and Image.open(tmp_path / "two.png").size[1] < height
    plot_score_differences(in_scores, {}, tmp_path / "none.png")
    assert (tmp_path / "none.png").stat().st_size > 0


def test_roc_curves_every_set_distinct_and_labelled(tmp_path):
    in_scores, suite = _suite()
    fig = plot_roc_curves(in_scores, suite, tmp_path / "roc.png")
    assert [ax.get_title() for ax in fig.axes] == ["other datasets", "NDA transforms of the test images",
                                                    "corruptions of the test images"]
    entries = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
    assert len(entries) == len(suite) and all("AUROC" in e for e in entries)
    for ax in fig.axes:
        curves = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
        assert len({_line_style(line) for line in curves}) == len(curves)
    assert (tmp_path / "roc.png").stat().st_size > 0

    many = {f"dataset{i}": s for i, s in enumerate(suite.values())}  # 13 sets in one panel
    fig = plot_roc_curves(in_scores, many, tmp_path / "many.png")
    (ax,) = fig.axes
    curves = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert len(curves) == 13 and len({_line_style(line) for line in curves}) == 13
    assert len(ax.get_legend().get_texts()) == 13
    plot_roc_curves(in_scores, {}, tmp_path / "none.png")


def test_labelled_rows_name_every_row_and_grow_with_rows(tmp_path):
    rows = [torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(i)) * 2 - 1 for i in range(3)]
    fig = save_labelled_rows(rows, ["real", "jigsaw", "a_long_transform_name"], tmp_path / "3.png", "title")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["real", "jigsaw", "a_long_transform_name"]
    width3, height3 = Image.open(tmp_path / "3.png").size
    assert width3 >= 4 * 96  # 8 px images are upscaled to be seen
    save_labelled_rows(rows[:2], ["real", "jigsaw"], tmp_path / "2.png", "title")
    width2, height2 = Image.open(tmp_path / "2.png").size
    assert height3 - height2 >= 96 and width2 < width3  # a row of images more; a shorter longest label
    with pytest.raises(ValueError, match="labels"):
        save_labelled_rows(rows, ["real"], tmp_path / "x.png", "title")


def test_show_negatives_is_readable_and_deterministic(tmp_path):
    path = show_negatives("digits", str(tmp_path / "a.png"), n=4, transforms=["jigsaw", "cutout"])
    again = show_negatives("digits", str(tmp_path / "b.png"), n=4, transforms=["jigsaw", "cutout"])
    assert path.read_bytes() == again.read_bytes()
    width, height = Image.open(path).size
    assert width >= 4 * 96 and height >= 3 * 96  # 3 rows (real + 2 transforms) of visible images
    more = show_negatives("digits", str(tmp_path / "c.png"), n=4, transforms=["jigsaw", "cutout", "mixup"])
    assert Image.open(more).size[1] >= height + 96


def test_sample_grids_upscale_tiny_images_only(tmp_path):
    tiny = save_image_grid(torch.zeros(4, 3, 8, 8), tmp_path / "tiny.png", nrow=2)
    assert Image.open(tiny).size == (2 + 2 * (64 + 2),) * 2  # 8 px → 64 px (× 8, nearest neighbour)
    big = save_image_grid(torch.zeros(4, 3, 64, 64), tmp_path / "big.png", nrow=2)
    assert Image.open(big).size == (2 + 2 * (64 + 2),) * 2  # already large enough: unchanged
    checkerboard = (torch.arange(8)[:, None] + torch.arange(8)).remainder(2).float() * 2 - 1  # ±1 pixels
    pixels = np.asarray(Image.open(save_image_grid(checkerboard.expand(1, 1, 8, 8), tmp_path / "px.png", nrow=1)))
    assert set(np.unique(pixels).tolist()) <= {0, 255}  # nearest neighbour: no blended grey values
    assert pixels.shape[:2] == (64, 64)  # one image: no padding
    assert (pixels[:8, :8] == pixels[0, 0]).all() and pixels[0, 0, 0] != pixels[0, 8, 0]  # 8×8 blocks
