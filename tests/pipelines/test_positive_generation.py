import numpy as np
import pytest
import torch
from transformers import pipeline

import hf_nda  # noqa: F401
from hf_nda import (AMRAutoencoder, AMRConfig, COPGenNavigator, COPGenNavigatorConfig, NDAGenerator,
                    NDAGeneratorConfig, NDAImageProcessor)
from hf_nda.modeling.generators import AMRGeneratorAdapter, load_generator
from hf_nda.pipelines import PositiveGenerationPipeline
from hf_nda.pipelines.positive_generation import block_seed, positive_pairs


@pytest.fixture(scope="module")
def generator_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("nda_generator")
    torch.manual_seed(0)
    NDAGenerator(NDAGeneratorConfig(latent_dim=16, base_channels=8, image_size=28)).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def adapter(generator_dir):
    return load_generator(str(generator_dir))


def navigator(adapter, **config):
    torch.manual_seed(1)
    nav = COPGenNavigator(COPGenNavigatorConfig(latent_dim=16, generator=adapter.describe(), **config))
    nav.running_mean_offset.normal_(0, 0.1)  # a non-trivial shared offset, removed at inference
    return nav.eval()


@pytest.fixture(scope="module")
def navigator_dir(adapter, tmp_path_factory):
    path = tmp_path_factory.mktemp("navigator")
    navigator(adapter).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def pipe(navigator_dir):
    return pipeline("positive-generation", model=str(navigator_dir))


def arrays(pil_images):
    return np.stack([np.asarray(im) for im in pil_images])


def test_loads_by_folder_and_equals_decoding_z_and_its_positives(pipe, adapter):
    assert isinstance(pipe, PositiveGenerationPipeline)
    assert (pipe.image_processor.size.height, pipe.image_processor.num_channels) == (28, 1)
    z = torch.randn(5, 16, generator=torch.Generator().manual_seed(0))
    out = pipe(z, batch_size=2, return_latents=True)
    with torch.no_grad():
        anchors, positives = adapter.decode(z), adapter.decode(pipe.model(z).positives)
    to_pil = pipe.image_processor.postprocess
    assert len(out) == 5 and set(out[0]) == {"anchor", "positive", "latent", "positive_latent"}
    assert np.array_equal(arrays(r["anchor"] for r in out), arrays(to_pil(anchors)))
    assert np.array_equal(arrays(r["positive"] for r in out), arrays(to_pil(positives)))
    assert torch.equal(torch.stack([r["latent"] for r in out]), z)
    assert not np.array_equal(arrays(r["anchor"] for r in out), arrays(r["positive"] for r in out))


def test_a_count_samples_the_generator_prior_with_the_seed(pipe, adapter):
    out = pipe(6, seed=3, batch_size=6, return_latents=True)
    z = adapter.sample_latents(6, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.stack([r["latent"] for r in out]), z)
    with torch.no_grad():
        direct = pipe.image_processor.postprocess(adapter.decode(pipe.model(z).positives))
    assert np.array_equal(arrays(r["positive"] for r in out), arrays(direct))


def test_same_seed_same_output_and_blocks_seeded_by_block_seed(pipe):
    a, b = pipe(7, seed=5, batch_size=3), pipe(7, seed=5, batch_size=3)
    c = pipe(7, seed=6, batch_size=3)
    assert np.array_equal(arrays(r["anchor"] for r in a), arrays(r["anchor"] for r in b))
    assert not np.array_equal(arrays(r["anchor"] for r in a), arrays(r["anchor"] for r in c))
    second_block = pipe(3, seed=block_seed(5, 1), batch_size=3)  # block 1 of the seeded call, made again
    assert np.array_equal(arrays(r["positive"] for r in a[3:6]), arrays(r["positive"] for r in second_block))


def test_gaussian_positives_use_the_seed_and_num_positives(adapter):
    pipe = PositiveGenerationPipeline(model=navigator(adapter, positive="gaussian", sigma=0.5), image_generator=adapter)
    z = torch.randn(4, 16, generator=torch.Generator().manual_seed(0))
    a = pipe(z, num_positives=3, seed=0, return_latents=True)
    b = pipe(z, num_positives=3, seed=0)
    assert set(a[0]) == {"anchor", "positives", "latent", "positive_latents"} and len(a[0]["positives"]) == 3
    assert a[0]["positive_latents"].shape == (3, 16)
    assert all(np.array_equal(arrays(x["positives"]), arrays(y["positives"])) for x, y in zip(a, b))
    moves = a[0]["positive_latents"] - a[0]["latent"]
    assert not torch.allclose(moves[0], moves[1])  # three different Gaussian moves of one anchor
    with torch.no_grad():  # the same as positive_pairs with the block's generator
        pairs = positive_pairs(pipe.model, adapter, z, num_positives=3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.stack([r["positive_latents"] for r in a]), pairs.positive_latents)


def test_loads_from_an_instance_and_a_single_latent_gives_one_result(adapter):
    pipe = pipeline("positive-generation", model=navigator(adapter))
    one = pipe(torch.zeros(16))
    assert isinstance(one, dict) and one["anchor"].size == (28, 28)
    flat_or_shaped = pipe(torch.zeros(2, 16))
    assert len(flat_or_shaped) == 2


def test_bad_inputs_get_clear_errors(pipe, adapter):
    with pytest.raises(ValueError, match=r"shape \(N, 16\)"):
        pipe(torch.randn(3, 15))
    with pytest.raises(ValueError, match=r"kind nda_gan\) has no encoder; pass latents or a count"):
        pipe([np.zeros((28, 28), np.uint8)])
    with pytest.raises(ValueError, match=r"has no encoder; .*\(N, 16\).*\(2, 1, 28, 28\)"):
        pipe(torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="count of anchors"):
        pipe(0)
    with pytest.raises(ValueError, match="num_positives"):
        pipe(2, num_positives=0)
    with pytest.raises(ValueError, match="seed"):
        pipe(2, seed=-1)
    with pytest.raises(TypeError, match="COPGenNavigator"):
        PositiveGenerationPipeline(model=NDAGenerator(NDAGeneratorConfig(latent_dim=16, base_channels=8)))


def test_a_navigator_paired_with_another_generator_fails_at_construction(adapter, tmp_path):
    other = COPGenNavigator(COPGenNavigatorConfig(latent_dim=8, generator=adapter.describe()))
    with pytest.raises(ValueError, match="navigator paired with another generator"):
        PositiveGenerationPipeline(model=other, image_generator=adapter)
    other.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="navigator paired with another generator"):
        pipeline("positive-generation", model=str(tmp_path))
    with pytest.raises(ValueError, match="names no generator"):
        PositiveGenerationPipeline(model=COPGenNavigator(COPGenNavigatorConfig(latent_dim=16)))


def test_images_are_encoded_by_a_generator_with_an_encoder():
    torch.manual_seed(0)
    amr = AMRGeneratorAdapter(AMRAutoencoder(AMRConfig(image_size=16, base_channels=4)))
    nav = COPGenNavigator(COPGenNavigatorConfig(latent_dim=amr.latent_dim, generator=amr.describe())).eval()
    pipe = PositiveGenerationPipeline(model=nav, image_generator=amr)
    assert isinstance(pipe.image_processor, NDAImageProcessor) and pipe.image_processor.size.height == 16
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (16, 16), dtype=np.uint8) for _ in range(3)]
    out = pipe(images, return_latents=True)
    with torch.no_grad():
        z = amr.encode(pipe.image_processor(images, return_tensors="pt").pixel_values)
        direct = pipe.image_processor.postprocess(amr.decode(nav(z).positives))
    assert torch.equal(torch.stack([r["latent"] for r in out]), z)
    assert np.array_equal(arrays(r["positive"] for r in out), arrays(direct))
    assert pipe(z.flatten(1))[0].keys() == {"anchor", "positive"}  # flat codes are taken as latents


def test_a_copgen_run_directory_loads_with_its_generator(tiny_gan_run, tmp_path):
    from hf_nda.trainers.copgen import COPGenTrainer, COPGenTrainingArguments

    run = tmp_path / "copgen"
    args = COPGenTrainingArguments(output_dir=str(run), generator=str(tiny_gan_run), positive="gaussian",
                                   dataset="digits", batch_size=4, max_steps=1, eval_steps=0, report_to="none",
                                   save_steps=0, sample_steps=0)
    COPGenTrainer(args, argv=[]).train()
    pipe = pipeline("positive-generation", model=str(run))
    out = pipe(3, seed=0, return_latents=True)
    assert len(out) == 3 and out[0]["anchor"].size == (28, 28)
    assert pipe.image_generator.source == str(tiny_gan_run) and pipe.image_generator.truncation == 2.0
    assert all(bool((r["latent"].abs() <= 2).all()) for r in out)  # drawn from the run's truncated prior
