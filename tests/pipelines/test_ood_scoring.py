from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import pipeline

import hf_nda  # noqa: F401
from hf_nda import NDADiscriminator, NDADiscriminatorConfig, NDAImageProcessor
from tests.conftest import gen


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("disc")
    torch.manual_seed(0)
    NDADiscriminator(NDADiscriminatorConfig(base_channels=8, image_size=28)).save_pretrained(path)
    NDAImageProcessor(size={"height": 28, "width": 28}, num_channels=1).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)) for _ in range(10)]


def direct_scores(pipe, images):
    pixel_values = pipe.image_processor(images, return_tensors="pt").pixel_values
    with torch.no_grad():
        return -pipe.model(pixel_values).logits


def test_scores_equal_the_discriminator_called_directly(model_dir, images):
    pipe = pipeline("ood-scoring", model=str(model_dir))
    expected = direct_scores(pipe, images)
    for batch_size in (1, 3, 64):
        got = torch.tensor([r["score"] for r in pipe(images, batch_size=batch_size)])
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    single = pipe(images[0])
    assert isinstance(single, dict) and single["score"] == pytest.approx(expected[0].item(), rel=1e-5)


def test_every_input_form(model_dir, images, tmp_path):
    import datasets

    pipe = pipeline("ood-scoring", model=str(model_dir))
    expected = direct_scores(pipe, images[:3])
    paths = []
    for i, im in enumerate(images[:3]):
        im.save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    arrays = [np.array(im) for im in images[:3]]
    ds = datasets.Dataset.from_dict({"image": images[:3]}, features=datasets.Features({"image": datasets.Image()}))
    pixel_values = pipe.image_processor(images[:3], return_tensors="pt").pixel_values
    renamed = ds.rename_column("image", "img")
    forms = (paths, [Path(p) for p in paths], arrays, images[:3], tuple(arrays), (a for a in arrays), ds, ds["image"],
             renamed, renamed["img"], pixel_values, [torch.from_numpy(a) for a in arrays],
             torch.from_numpy(np.stack(arrays))[:, None], np.stack(arrays)[..., None])
    for batch_size in (1, 2, 64):
        for form in forms:
            form = (a for a in arrays) if isinstance(form, type(a for a in ())) else form
            got = torch.tensor([r["score"] for r in pipe(form, batch_size=batch_size)])
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    for single in (paths[0], Path(paths[0]), arrays[0], images[0], torch.from_numpy(arrays[0])[None]):
        assert pipe(single)["score"] == pytest.approx(expected[0].item(), rel=1e-5, abs=1e-5)


def test_fit_threshold_survives_save_and_load(model_dir, images, tmp_path):
    pipe = pipeline("ood-scoring", model=str(model_dir))
    assert "is_ood" not in pipe(images[0])
    threshold = pipe.fit(images, tpr=0.8)
    scores = pipe.scores(images)
    assert (scores <= threshold).float().mean().item() == pytest.approx(0.8, abs=0.1)
    flags = [r["is_ood"] for r in pipe(images)]
    assert flags == [s > threshold for s in scores.tolist()] and any(flags)
    pipe.save_pretrained(tmp_path / "fitted")
    reloaded = pipeline("ood-scoring", model=str(tmp_path / "fitted"))
    assert reloaded.model.config.ood_threshold == pytest.approx(threshold)
    assert [r["is_ood"] for r in reloaded(images)] == flags


def test_device_and_batching_arguments(model_dir, images):
    pipe = pipeline("ood-scoring", model=str(model_dir), device="cpu", batch_size=4)
    assert pipe.device.type == "cpu" and len(pipe(images)) == 10


def test_bad_inputs(model_dir, tmp_path):
    pipe = pipeline("ood-scoring", model=str(model_dir))
    with pytest.raises(ValueError, match="empty"):
        pipe([])
    with pytest.raises(ValueError, match="NaN"):
        pipe(torch.full((2, 1, 28, 28), float("nan")))
    with pytest.raises(ValueError, match="the model takes"):
        pipe(torch.zeros(2, 3, 28, 28))
    big = pipe(Image.new("RGB", (64, 64)))  # resized and converted by the processor
    assert "score" in big
    from hf_nda.evaluation.report import load_scorer

    (tmp_path / "empty_run").mkdir()
    with pytest.raises(ValueError, match="holds no model"):
        load_scorer(str(tmp_path / "empty_run"))
