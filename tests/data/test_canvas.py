import numpy as np
import pytest

from hf_nda.data.canvas import cell_crop_mask, place_on_canvas
from hf_nda.processing.discrete import CropGrid


def test_place_on_canvas_puts_each_image_in_its_cell():
    images = np.arange(1, 10, dtype=np.uint8)[:, None, None].repeat(2, 1).repeat(2, 2)  # 9 images, 2×2
    canvas = place_on_canvas(images, np.arange(9))
    for cell in range(9):
        r, c = divmod(cell, 3)
        block = canvas[cell, 2 * r:2 * r + 2, 2 * c:2 * c + 2]
        assert (block == cell + 1).all() and canvas[cell].sum() == block.sum()
    with pytest.raises(ValueError, match="cell numbers"):
        place_on_canvas(images[:2], np.array([0, 9]))


def test_cell_mask_gives_the_uniform_policy_the_paper_mass():
    mask = cell_crop_mask(CropGrid(crop_size=20, stride=4, image_size=84))
    assert mask.shape == (9, 289)
    assert mask.sum(1).tolist() == [49, 77, 49, 77, 121, 77, 49, 77, 49]
    assert float(mask.float().mean()) == pytest.approx(0.24, abs=0.002)
    with pytest.raises(ValueError, match="square canvas divisible by 3"):
        cell_crop_mask(CropGrid(crop_size=20, stride=4, image_size=(84, 90)))


def test_load_canvas_mnist_is_seeded_and_has_positions():
    from hf_nda.data import load_image_dataset

    ds = load_image_dataset("canvas_mnist")
    assert set(ds) == {"train", "test"} and ds["train"].column_names == ["image", "label", "position"]
    row = ds["test"][0]
    pixels, cell = np.array(row["image"]), row["position"]
    assert pixels.shape == (84, 84)
    r, c = divmod(cell, 3)
    inside = pixels[28 * r:28 * r + 28, 28 * c:28 * c + 28]
    assert inside.sum() == pixels.sum() > 0  # the digit is in its cell, the rest of the canvas is blank
    again = load_image_dataset("canvas_mnist", "test")
    assert again["position"][:50] == ds["test"]["position"][:50]
