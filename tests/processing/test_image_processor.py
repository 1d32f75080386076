import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoImageProcessor

import hf_nda  # noqa: F401  (registers NDAImageProcessor with AutoImageProcessor)
from hf_nda.processing import NDAImageProcessor
from tests.conftest import gen


@pytest.fixture
def proc():
    return NDAImageProcessor(size={"height": 32, "width": 32}, num_channels=1, negatives=["jigsaw", "cutmix"])


def test_all_input_forms_give_the_same_pixel_values(proc, tmp_path):
    arr = (np.arange(28 * 28) % 256).astype(np.uint8).reshape(28, 28)
    Image.fromarray(arr).save(tmp_path / "x.png")
    forms = [Image.fromarray(arr), arr, arr[:, :, None], torch.from_numpy(arr), str(tmp_path / "x.png"),
             [Image.fromarray(arr)]]
    outs = [proc(f, return_tensors="pt").pixel_values for f in forms]
    for o in outs:
        assert o.shape == (1, 1, 32, 32)
        torch.testing.assert_close(o, outs[0])
    assert outs[0].min() >= -1 and outs[0].max() <= 1


def test_range_maps_0_255_to_minus1_1(proc):
    black, white = np.zeros((32, 32), np.uint8), np.full((32, 32), 255, np.uint8)
    pv = proc([black, white], return_tensors="pt").pixel_values
    assert torch.all(pv[0] == -1) and torch.all(pv[1] == 1)


def test_channel_conversion_is_explicit():
    rgb = Image.new("RGB", (32, 32), (255, 0, 0))
    gray = NDAImageProcessor(num_channels=1)(rgb, return_tensors="pt").pixel_values
    assert gray.shape == (1, 1, 32, 32)
    torch.testing.assert_close(gray[0, 0, 0, 0], torch.tensor(76 / 127.5 - 1))  # round(0.299 * 255) = 76
    rgb_out = NDAImageProcessor(num_channels=3)(Image.new("L", (32, 32), 255), return_tensors="pt").pixel_values
    assert rgb_out.shape == (1, 3, 32, 32) and torch.all(rgb_out == 1)
    with pytest.raises(ValueError, match="num_channels"):
        NDAImageProcessor(num_channels=2)


def test_negatives_and_postprocess_round_trip(proc):
    x = torch.rand(6, 1, 32, 32, generator=gen(0)) * 2 - 1
    neg = proc.negatives_of(x, generator=gen(1))
    assert neg.shape == x.shape and not torch.equal(neg, x)
    assert torch.equal(neg, proc.negatives_of(x, generator=gen(1)))
    pil = proc.postprocess(x)
    back = proc(pil, return_tensors="pt").pixel_values
    assert (back - x).abs().max() <= 1 / 127.5 + 1e-6  # 8-bit quantisation only


def test_save_load_with_auto_image_processor_gives_identical_output(proc, tmp_path):
    proc.save_pretrained(tmp_path)
    loaded = AutoImageProcessor.from_pretrained(tmp_path)
    assert type(loaded) is NDAImageProcessor and loaded.negatives == ["jigsaw", "cutmix"]
    images = [np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(4)]
    a = proc(images, return_tensors="pt").pixel_values
    b = loaded(images, return_tensors="pt").pixel_values
    assert torch.equal(a, b)
    assert torch.equal(proc.negatives_of(a, gen(2)), loaded.negatives_of(b, gen(2)))


def test_works_as_a_datasets_transform(proc):
    import datasets

    ds = datasets.Dataset.from_dict({"image": [Image.new("L", (28, 28), v) for v in (0, 255)], "label": [0, 1]},
                                    features=datasets.Features({"image": datasets.Image(),
                                                                "label": datasets.ClassLabel(names=["a", "b"])}))
    ds = ds.with_transform(proc.as_dataset_transform())
    batch = ds[:2]
    assert batch["pixel_values"].shape == (2, 1, 32, 32) and batch["labels"].tolist() == [0, 1]


def test_bad_inputs(proc, tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        proc(np.full((8, 8, 1), np.nan, dtype=np.float32), return_tensors="pt")
    with pytest.raises(ValueError, match="empty"):
        proc([], return_tensors="pt")
    with pytest.raises(ValueError, match="not found"):
        proc(str(tmp_path / "missing.png"))
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match="cannot read .*notes.png as an image"):
        proc(tmp_path / "notes.png")
    for shape in ((8, 8, 2), (2, 8, 8), (8, 8, 5)):
        with pytest.raises(ValueError, match="no channel axis of 1, 3 or 4"):
            proc(np.zeros(shape, np.uint8), return_tensors="pt")
    with pytest.raises(ValueError, match="must be H×W, H×W×C or C×H×W"):
        proc([np.zeros(8, np.uint8)], return_tensors="pt")
    with pytest.raises(ValueError, match="cannot read images from a int"):
        proc(5, return_tensors="pt")
    with pytest.raises(ValueError, match="no negatives"):
        NDAImageProcessor(negatives=[]).negatives_of(torch.zeros(2, 1, 32, 32))
