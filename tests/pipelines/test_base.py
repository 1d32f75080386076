"""The contract every hf_nda pipeline keeps: transformers' steps (one documented ``__call__``), the model
class checked at construction, and one input path with clear errors."""

import inspect

import datasets
import numpy as np
import pytest
import torch
from PIL import Image
from transformers import Pipeline, pipeline

import hf_nda  # noqa: F401
from hf_nda import (AMRAutoencoder, AMRConfig, NDADiscriminator, NDADiscriminatorConfig, NDAGenerator,
                    NDAGeneratorConfig, NDAImageProcessor)
from hf_nda.pipelines import ImageBatch, MixupResynthesisPipeline, NDAPipeline, OODScoringPipeline, seeded_generator
from hf_nda.registration import PIPELINES


def _processor(size=32):
    return NDAImageProcessor(size={"height": size, "width": size}, num_channels=1, negatives=[])


@pytest.fixture(scope="module")
def disc_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("disc")
    torch.manual_seed(0)
    NDADiscriminator(NDADiscriminatorConfig(base_channels=8, image_size=32)).save_pretrained(path)
    _processor().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def amr_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("amr")
    torch.manual_seed(0)
    AMRAutoencoder(AMRConfig(image_size=32, base_channels=4)).save_pretrained(path)
    _processor().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def pipes(disc_dir, amr_dir):
    return {"ood-scoring": pipeline("ood-scoring", model=str(disc_dir)),
            "mixup-resynthesis": pipeline("mixup-resynthesis", model=str(amr_dir))}


def arrays(n=3, size=32, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size), dtype=np.uint8) for _ in range(n)]


def test_registered_tasks_use_transformers_steps_and_one_documented_call():
    for task, cls in PIPELINES.items():
        assert issubclass(cls, NDAPipeline) and cls.task_name == task
        assert cls.__call__ is NDAPipeline.__call__, f"{cls.__name__} overrides __call__"
        for step in ("_sanitize_parameters", "preprocess", "_forward", "postprocess"):
            assert getattr(cls, step) is not getattr(Pipeline, step), f"{cls.__name__} lacks {step}"
    source = inspect.getsource(NDAPipeline.__call__)
    assert "Why this override" in source and "super().__call__(" in source


def test_calls_go_through_the_base_steps_block_by_block(pipes, monkeypatch):
    calls = []
    original = Pipeline.forward

    def spy(self, model_inputs, **params):
        calls.append(len(model_inputs["pixel_values"]))
        return original(self, model_inputs, **params)

    monkeypatch.setattr(Pipeline, "forward", spy)
    assert len(pipes["ood-scoring"](arrays(7), batch_size=3)) == 7
    assert calls == [3, 3, 1]
    calls.clear()
    pipes["mixup-resynthesis"](arrays(3), weights=[0.2, 0.3, 0.5])
    assert calls == [3]  # the images of a mixup call are one group


@pytest.mark.parametrize("task,wrong", [("ood-scoring", "amr_dir"), ("mixup-resynthesis", "disc_dir")])
def test_wrong_model_class_fails_at_construction(task, wrong, request):
    expected = {"ood-scoring": "NDADiscriminator or ContrastiveEncoder", "mixup-resynthesis": "AMRAutoencoder"}[task]
    with pytest.raises(TypeError, match=f"{task} needs a model of class {expected}; got .*Load "):
        pipeline(task, model=str(request.getfixturevalue(wrong)))


def test_wrong_model_instance_and_missing_processor():
    with pytest.raises(TypeError, match="got NDAGenerator.*discriminator/ folder"):
        OODScoringPipeline(model=NDAGenerator(NDAGeneratorConfig(image_size=32)), image_processor=_processor())
    with pytest.raises(ValueError, match="needs an image processor"):
        MixupResynthesisPipeline(model=AMRAutoencoder(AMRConfig(image_size=32, base_channels=4)))


def test_every_input_form_gives_the_same_pixel_values(pipes, tmp_path):
    ims = arrays(3)
    paths = []
    for i, im in enumerate(ims):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(im).save(paths[-1])
    pil = [Image.fromarray(im) for im in ims]
    features = datasets.Features({"img": datasets.Image(), "label": datasets.Value("int64")})
    ds = datasets.Dataset.from_dict({"img": pil, "label": [0, 1, 2]}, features=features)
    forms = {"uint8 arrays": ims, "H×W×1 arrays": [im[:, :, None] for im in ims], "PIL": pil,
             "str paths": [str(p) for p in paths], "Path objects": paths, "tuple": tuple(pil),
             "generator": (im for im in ims), "N×H×W×1 array": np.stack(ims)[..., None],
             "1×H×W uint8 tensors": [torch.from_numpy(im)[None] for im in ims],
             "N×1×H×W uint8 tensor": torch.from_numpy(np.stack(ims))[:, None],
             "Dataset (its one Image column)": ds, "Dataset column": ds["img"], "ImageBatch": ImageBatch.of(pil)}
    for pipe in pipes.values():
        reference = pipe.image_processor(ims, return_tensors="pt").pixel_values
        forms["N×1×H×W float pixel_values"] = reference.clone()
        for name, form in forms.items():
            form = (im for im in ims) if name == "generator" else form
            torch.testing.assert_close(pipe.pixel_values(form), reference, msg=name)
        for i, single in enumerate((str(paths[0]), paths[0], pil[0], ims[0], torch.from_numpy(ims[0])[None])):
            torch.testing.assert_close(pipe.pixel_values(single), reference[:1], msg=f"single form {i}")


BAD_INPUTS = [
    ("empty list", lambda tmp: [], "empty input.*at least one image"),
    ("two-channel array", lambda tmp: [np.zeros((32, 32, 2), np.uint8)] * 2, "no channel axis of 1, 3 or 4"),
    ("5-D tensor", lambda tmp: torch.zeros(2, 2, 1, 32, 32, dtype=torch.uint8), "must be H×W, H×W×C or C×H×W"),
    ("NaN pixel_values", lambda tmp: torch.full((2, 1, 32, 32), float("nan")), "NaN.*nan_to_num"),
    ("NaN float arrays", lambda tmp: [np.full((32, 32, 1), np.nan, np.float32)] * 2, "NaN.*nan_to_num"),
    ("pixel_values of another size", lambda tmp: torch.zeros(2, 3, 32, 32), "the model takes"),
    ("missing file", lambda tmp: [str(tmp / "missing.png")] * 2, "image file not found"),
    ("unreadable file", lambda tmp: [_text_file(tmp)] * 2, "cannot read .*PIL can open"),
    ("an int", lambda tmp: 5, "cannot read images from a int; pass PIL images"),
    ("a list of dicts", lambda tmp: [{"x": 1}] * 2, "cannot read an image from a dict"),
    ("dataset without an image column", lambda tmp: datasets.Dataset.from_dict({"a": [1, 2]}), "no 'image' column"),
]


def _text_file(tmp):
    (tmp / "notes.png").write_text("not an image")
    return str(tmp / "notes.png")


@pytest.mark.parametrize("task", ["ood-scoring", "mixup-resynthesis"])
@pytest.mark.parametrize("name,make,message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_inputs_name_the_problem_and_the_fix(pipes, task, name, make, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        pipes[task](make(tmp_path))


def test_bad_batch_size(pipes):
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        pipes["ood-scoring"](arrays(2), batch_size=-1)


class LatentDecodingPipeline(NDAPipeline):
    """A new task in a few lines: latent codes (or a count of them) in, one image per code out."""

    task_name = "latent-decoding"
    model_classes = (NDAGenerator,)
    model_hint = "Load a GAN run's generator/ folder."

    def as_batch(self, inputs):
        if isinstance(inputs, int):
            return ImageBatch(self.model.sample_latents(inputs, generator=seeded_generator(0)))
        return ImageBatch(torch.as_tensor(inputs, dtype=torch.float32))

    def _sanitize_parameters(self):
        return {}, {}, {}

    def preprocess(self, latents):
        return {"latents": latents.images}

    def _forward(self, model_inputs):
        return {"images": self.model(model_inputs["latents"]).images}

    def postprocess(self, model_outputs):
        return self.image_processor.postprocess(model_outputs["images"])


def test_a_new_task_reuses_the_call_path_for_non_image_inputs():
    torch.manual_seed(0)
    image_generator = NDAGenerator(NDAGeneratorConfig(image_size=32, latent_dim=8, base_channels=4)).eval()
    pipe = LatentDecodingPipeline(model=image_generator, image_processor=_processor())
    out = pipe(5, batch_size=2)
    with torch.no_grad():
        expected = image_generator(image_generator.sample_latents(5, generator=seeded_generator(0))).images
    assert len(out) == 5 and all(np.array_equal(np.asarray(a), np.asarray(b))
                                 for a, b in zip(out, pipe.image_processor.postprocess(expected)))
    with pytest.raises(TypeError, match="latent-decoding needs a model of class NDAGenerator"):
        LatentDecodingPipeline(model=NDADiscriminator(NDADiscriminatorConfig(image_size=32)),
                               image_processor=_processor())
