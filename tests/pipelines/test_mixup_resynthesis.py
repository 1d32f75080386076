import numpy as np
import pytest
import torch
from PIL import Image
from transformers import pipeline

import hf_nda  # noqa: F401
from hf_nda import AMRAutoencoder, AMRConfig, NDAImageProcessor
from hf_nda.pipelines import MixupResynthesisPipeline


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("amr_model")
    torch.manual_seed(0)
    AMRAutoencoder(AMRConfig(image_size=16, base_channels=4, num_classes=3)).save_pretrained(path)
    NDAImageProcessor(size={"height": 16, "width": 16}, num_channels=1, negatives=[]).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def resynth(model_dir):
    return pipeline("mixup-resynthesis", model=str(model_dir))


def images(n=3, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size), dtype=np.uint8) for _ in range(n)]


def as_array(pil_images):
    return np.stack([np.asarray(im) for im in pil_images])


def test_pipeline_output_equals_decoding_the_mixed_codes(resynth):
    assert isinstance(resynth, MixupResynthesisPipeline)
    ims = images(3)
    out = resynth(ims, weights=[0.2, 0.3, 0.5])
    ae, proc = resynth.model, resynth.image_processor
    with torch.no_grad():
        h = ae.encode(proc(ims, return_tensors="pt").pixel_values)
        direct = ae.decode((0.2 * h[0] + 0.3 * h[1] + 0.5 * h[2])[None])
    assert np.array_equal(as_array(out["images"]), as_array(proc.postprocess(direct)))
    assert out["weights"] == [pytest.approx([0.2, 0.3, 0.5])]


def test_bernoulli_and_class_mixes_repeat_under_a_seed(resynth):
    ims = images(2)
    a = resynth(ims, mixer="bernoulli", num_mixes=4, seed=3)
    b = resynth(ims, mixer="bernoulli", num_mixes=4, seed=3)
    assert len(a["images"]) == 4 and np.array_equal(as_array(a["images"]), as_array(b["images"]))
    c = resynth(ims, attributes=[0.5, 0.5, 0.0], num_mixes=2, seed=1)
    ae, proc = resynth.model, resynth.image_processor
    with torch.no_grad():
        h = ae.encode(proc(ims, return_tensors="pt").pixel_values)
        y = torch.tensor([[0.5, 0.5, 0.0]]).expand(2, -1)
        direct = ae.decode(ae.class_mix(h[:1].expand(2, -1, -1, -1), h[1:].expand(2, -1, -1, -1), y,
                                        generator=torch.Generator().manual_seed(1)))
    assert np.array_equal(as_array(c["images"]), as_array(proc.postprocess(direct)))
    assert c["attributes"] == [[0.5, 0.5, 0.0]] * 2


def test_interpolation_strip_on_request(resynth):
    ims = images(2)
    out = resynth(ims, weights=[0.5, 0.5], interpolation_steps=5)
    strip = out["interpolation"]
    assert strip.size == (5 * 16, 16)
    ae, proc = resynth.model, resynth.image_processor
    x = proc(ims, return_tensors="pt").pixel_values
    frames = proc.postprocess(ae.interpolate(x[:1], x[1:], steps=5)[0])
    assert np.array_equal(np.asarray(strip)[:, 16:32], np.asarray(frames[1]))


def test_accepts_paths_pil_tensors_and_dataset_columns(resynth, tmp_path):
    import datasets

    ims = images(2, size=24)  # resized by the processor: same size within the call is what matters
    paths = []
    for i, im in enumerate(ims):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(im).save(paths[-1])
    reference = as_array(resynth(ims, weights=[0.5, 0.5])["images"])
    pixel_values = resynth.image_processor(ims, return_tensors="pt").pixel_values
    for form in (paths, [Image.fromarray(im) for im in ims], [torch.from_numpy(im.copy())[None] for im in ims],
                 datasets.Dataset.from_dict({"image": [Image.fromarray(im) for im in ims]}), tuple(ims),
                 np.stack(ims)[..., None], torch.from_numpy(np.stack(ims))[:, None], pixel_values):
        assert np.array_equal(as_array(resynth(form, weights=[0.5, 0.5])["images"]), reference)


def test_bad_input_gives_clear_errors(resynth, model_dir):
    with pytest.raises(ValueError, match="must share a size"):
        resynth([images(1, 16)[0], images(1, 20)[0]])
    with pytest.raises(ValueError, match="sum to one"):
        resynth(images(2), weights=[0.5, 0.6])
    with pytest.raises(ValueError, match="2 entries"):
        resynth(images(2), weights=[0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        resynth(images(2), attributes=[1.0, 0.0])
    with pytest.raises(ValueError, match="two or more images"):
        resynth(images(1))
    with pytest.raises(ValueError, match="mixes two images"):
        resynth(images(3), attributes=[1.0, 0.0, 0.0])
