"""Bad inputs and parameters to the pipeline tasks, walked as tables: each raises a ValueError/TypeError
naming the argument (batch sizes, thresholds, tpr, seeds, counts, unknown keywords, fits on too few
images, tensors in another range) — never an empty result, a silently ignored value or a raw error."""

import warnings

import numpy as np
import pytest
import torch
from transformers import pipeline

import hf_nda  # noqa: F401
from hf_nda import (AMRAutoencoder, AMRConfig, ContrastiveEncoder, ContrastiveEncoderConfig, COPGenNavigator,
                    COPGenNavigatorConfig, NDADiscriminator, NDADiscriminatorConfig, NDAGenerator, NDAGeneratorConfig,
                    NDAImageProcessor)
from hf_nda.modeling.generators import load_generator
from hf_nda.pipelines import seeded_generator


def _processor():
    return NDAImageProcessor(size={"height": 32, "width": 32}, num_channels=1, negatives=[])


@pytest.fixture(scope="module")
def pipes(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipes")
    torch.manual_seed(0)
    NDADiscriminator(NDADiscriminatorConfig(base_channels=8)).save_pretrained(root / "disc")
    AMRAutoencoder(AMRConfig(image_size=32, base_channels=4)).save_pretrained(root / "amr")
    ContrastiveEncoder(ContrastiveEncoderConfig(backbone="resnet18", projection_dim=8, ood_k=3)).save_pretrained(
        root / "enc")
    for name in ("disc", "amr", "enc"):
        _processor().save_pretrained(root / name)
    NDAGenerator(NDAGeneratorConfig(latent_dim=16, base_channels=8)).save_pretrained(root / "gen")
    adapter = load_generator(str(root / "gen"))
    COPGenNavigator(COPGenNavigatorConfig(latent_dim=16, generator=adapter.describe())).save_pretrained(root / "nav")
    return {"disc": pipeline("ood-scoring", model=str(root / "disc")),
            "enc": pipeline("ood-scoring", model=str(root / "enc")),
            "amr": pipeline("mixup-resynthesis", model=str(root / "amr")),
            "nav": pipeline("positive-generation", model=str(root / "nav")),
            "root": root}


def images(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (32, 32), dtype=np.uint8) for _ in range(n)]


IMS = images()

BAD_CALLS = [
    # (id, pipe, call, error, message naming the argument)
    ("batch_size=0", "disc", lambda p: p(IMS, batch_size=0), ValueError, "batch_size must be >= 1.*batch_size=0"),
    ("batch_size=-1", "disc", lambda p: p(IMS, batch_size=-1), ValueError, "batch_size=-1"),
    ("batch_size=2.5", "disc", lambda p: p(IMS, batch_size=2.5), ValueError, "batch_size=2.5"),
    ("batch_size='2'", "disc", lambda p: p(IMS, batch_size="2"), ValueError, "batch_size='2'"),
    ("batch_size=True", "disc", lambda p: p(IMS, batch_size=True), ValueError, "batch_size=True"),
    ("scores batch_size=0", "disc", lambda p: p.scores(IMS, batch_size=0), ValueError, "batch_size=0"),
    ("features batch_size=0", "enc", lambda p: p.features(IMS, batch_size=0), ValueError, "batch_size=0"),
    ("mixup batch_size=0", "amr", lambda p: p(IMS[:2], batch_size=0), ValueError, "batch_size=0"),
    ("pairs batch_size=0", "nav", lambda p: p(4, batch_size=0), ValueError, "batch_size"),
    ("unknown keyword", "disc", lambda p: p(IMS, treshold=1.0), TypeError,
     "ood-scoring got unexpected argument.*treshold.*it takes batch_size, num_workers, threshold"),
    ("unknown keyword (mixup)", "amr", lambda p: p(IMS[:2], weight=[0.5, 0.5]), TypeError, "weight; it takes.*weights"),
    ("unknown keyword (pairs)", "nav", lambda p: p(2, positives=2), TypeError, "positives; it takes.*num_positives"),
    ("threshold a string", "disc", lambda p: p(IMS, threshold="high"), ValueError, "threshold='high'"),
    ("threshold NaN", "disc", lambda p: p(IMS, threshold=float("nan")), ValueError, "threshold=nan"),
    ("fit on one image", "disc", lambda p: p.fit(IMS[:1]), ValueError, "fit needs at least 2 in-distribution images, got 1"),
    ("fit on fewer images than k", "enc", lambda p: p.fit(IMS[:3]), ValueError,
     "fit needs at least 4 .*got 3.*ood_k=3.*lower scorer.model.config.ood_k"),
    ("fit tpr=1", "disc", lambda p: p.fit(IMS, tpr=1), ValueError, r"tpr in \(0, 1\), got tpr=1"),
    ("fit tpr=0", "disc", lambda p: p.fit(IMS, tpr=0), ValueError, "tpr=0"),
    ("fit tpr=95", "disc", lambda p: p.fit(IMS, tpr=95), ValueError, "tpr=95"),
    ("fit tpr a string", "disc", lambda p: p.fit(IMS, tpr="0.9"), ValueError, "tpr='0.9'"),
    ("fit batch_size=0", "disc", lambda p: p.fit(IMS, batch_size=0), ValueError, "batch_size=0"),
    ("pixel_values in [0, 255]", "disc", lambda p: p(torch.full((2, 1, 32, 32), 200.0)), ValueError,
     r"pixel_values in \[-1, 1\].*\[200, 200\].*uint8"),
    ("pixel_values in [-3, 3]", "disc", lambda p: p(torch.linspace(-3, 3, 2048).view(2, 1, 32, 32)), ValueError,
     r"pixel_values in \[-1, 1\]"),
    ("one float image in [-1, 1]", "disc", lambda p: p(torch.zeros(1, 32, 32) - 0.5), ValueError,
     "ready pixel_values.*N×C×H×W float tensor"),
    ("16-bit values in int32", "disc", lambda p: p([IMS[0].astype(np.int32) * 257] * 2), ValueError,
     "int32 .*no known range.*uint16"),
    ("mixup num_mixes=0", "amr", lambda p: p(IMS[:2], num_mixes=0), ValueError, "num_mixes must be an int >= 1"),
    ("mixup num_mixes=-1", "amr", lambda p: p(IMS[:2], num_mixes=-1), ValueError, "num_mixes=-1"),
    ("mixup num_mixes=2.5", "amr", lambda p: p(IMS[:2], num_mixes=2.5), ValueError, "num_mixes=2.5"),
    ("mixup interpolation_steps=1", "amr", lambda p: p(IMS[:2], interpolation_steps=1), ValueError,
     "interpolation_steps must be an int >= 2"),
    ("mixup seed a string", "amr", lambda p: p(IMS[:2], seed="a"), ValueError, "seed must be a non-negative int"),
    ("mixup seed=-1", "amr", lambda p: p(IMS[:2], seed=-1), ValueError, "seed=-1"),
    ("mixup weights a string", "amr", lambda p: p(IMS[:2], weights="ab"), ValueError, "weights must be numbers"),
    ("mixup weights NaN", "amr", lambda p: p(IMS[:2], weights=[float("nan"), 1.0]), ValueError,
     "weights must be finite"),
    ("mixup weights wrong count", "amr", lambda p: p(IMS[:2], weights=[1.0]), ValueError, "2 entries"),
    ("mixup weights and attributes", "amr", lambda p: p(IMS[:2], weights=[0.5, 0.5], attributes=[1, 0]), ValueError,
     "not both"),
    ("mixup mixer unknown", "amr", lambda p: p(IMS[:2], mixer="swirl"), ValueError, "unknown mixer='swirl'"),
    ("mixup mixer a list", "amr", lambda p: p(IMS[:2], mixer=["mixup"]), ValueError, "unknown mixer"),
    ("mixup one image", "amr", lambda p: p(IMS[:1]), ValueError, "two or more images"),
    ("pairs count True", "nav", lambda p: p(True), ValueError, "count of anchors must be a positive int"),
    ("pairs count 2.5", "nav", lambda p: p(2.5), ValueError, "count of anchors.*2.5"),
    ("pairs count 0", "nav", lambda p: p(0), ValueError, "count of anchors must be >= 1"),
    ("pairs num_positives=True", "nav", lambda p: p(2, num_positives=True), ValueError, "num_positives"),
    ("pairs integer latents", "nav", lambda p: p(torch.zeros(2, 16, dtype=torch.long)), ValueError,
     "latents must be a float tensor.*int64"),
    ("pairs empty latents", "nav", lambda p: p(torch.zeros(0, 16)), ValueError, "N >= 1|empty"),
    ("pairs NaN latents", "nav", lambda p: p(torch.full((2, 16), float("nan"))), ValueError, "NaN"),
    ("pairs numpy latents", "nav", lambda p: p(np.zeros((2, 16), np.float32)), ValueError,
     r"has no encoder; pass latents.*ndarray of shape \(2, 16\)"),
]


@pytest.mark.parametrize("name,call,error,message", [b[1:] for b in BAD_CALLS], ids=[b[0] for b in BAD_CALLS])
def test_bad_calls_name_the_argument(pipes, name, call, error, message):
    with pytest.raises(error, match=message):
        call(pipes[name])


BAD_CONSTRUCTIONS = [
    ("batch_size=-1 at construction", "disc", {"batch_size": -1}, ValueError, "batch_size=-1"),
    ("batch_size=0 at construction", "disc", {"batch_size": 0}, ValueError, "batch_size=0"),
]


@pytest.mark.parametrize("folder,kwargs,error,message", [b[1:] for b in BAD_CONSTRUCTIONS],
                         ids=[b[0] for b in BAD_CONSTRUCTIONS])
def test_bad_construction_arguments_fail_at_construction(pipes, folder, kwargs, error, message):
    with pytest.raises(error, match=message):
        pipeline("ood-scoring", model=str(pipes["root"] / folder), **kwargs)


@pytest.mark.parametrize("task,folder,expected", [
    ("ood-scoring", "amr", "NDADiscriminator or ContrastiveEncoder"),
    ("mixup-resynthesis", "disc", "AMRAutoencoder"),
    ("positive-generation", "disc", "COPGenNavigator"),
])
def test_a_model_of_another_family_fails_at_construction(pipes, task, folder, expected):
    with pytest.raises(TypeError, match=f"{task} needs a model of class {expected}; got .*Load "):
        pipeline(task, model=str(pipes["root"] / folder))


def test_fit_on_few_images_warns_and_on_enough_does_not(pipes):
    with pytest.warns(UserWarning, match="fit on 4 images at tpr=0.95.*20 or more images"):
        pipes["disc"].fit(IMS, tpr=0.95)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pipes["disc"].fit(images(20, seed=1), tpr=0.95)
        pipes["enc"].fit(IMS, tpr=0.5)  # ood_k + 1 = 4 images suffice for a kNN scorer


def test_valid_arguments_keep_their_meaning(pipes):
    p = pipes["disc"]
    ref = p.scores(IMS)
    torch.testing.assert_close(p.scores(IMS, batch_size=np.int64(3)), ref, rtol=1e-4, atol=1e-4)
    pixel_values = p.image_processor(IMS, return_tensors="pt").pixel_values
    torch.testing.assert_close(p.scores(pixel_values), ref, rtol=1e-4, atol=1e-4)  # ready pixel_values in [-1, 1] as they are
    mix = pipes["amr"]
    a = mix(IMS[:2], weights=(0.3, 0.7), seed=np.int64(1), interpolation_steps=0)
    assert "interpolation" not in a and len(a["images"]) == 1
    assert seeded_generator(None) is None and seeded_generator(np.int64(3)).initial_seed() == 3


def test_a_pixel_values_batch_without_negative_values_is_flagged(pipes):
    with pytest.warns(UserWarning, match=r"no negative value.*\[0, 1\], pass x \* 2 - 1"):
        pipes["disc"](torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(0)))
