"""Bad inputs to the processing layer, walked as tables: every one raises a ValueError/TypeError whose
message names the argument (and, where there is one, the fix) — never a raw IndexError, OverflowError
or dtype error from deep inside torch/PIL, and never silently wrong pixels. Also: images of every
bit depth are read by their real range (16-bit PNG round trip), and small-α Mixup stays finite."""

import numpy as np
import pytest
import torch
from PIL import Image

from hf_nda.processing import (CropGrid, CutMix, Cutout, GaussianNoise, HorizontalFlip, Jigsaw, JigsawPermutations,
                               MoCoV2Views, Mixup, NDAImageProcessor, OneOf, OtherClass, RandomCrop, corrupt,
                               get_transform, transform_from_dict)
from hf_nda.processing import _random as rnd
from tests.conftest import gen

# ---- transform parameters: checked at construction --------------------------------------------------------

BAD_TRANSFORMS = [
    # (id, constructor, message naming the parameter)
    ("jigsaw k=1", lambda: Jigsaw(k=1), r"Jigsaw needs an integer grid size .*k in \[2, inf\), got k=1"),
    ("jigsaw k=2.5", lambda: Jigsaw(k=2.5), "integer grid size.*k=2.5"),
    ("jigsaw k=inf", lambda: Jigsaw(k=float("inf")), "k=inf"),
    ("jigsaw k=nan", lambda: Jigsaw(k=float("nan")), "k=nan"),
    ("jigsaw k='3'", lambda: Jigsaw(k="3"), "k='3'"),
    ("jigsaw k=True", lambda: Jigsaw(k=True), "k=True"),
    ("spec jigsaw-inf", lambda: get_transform("jigsaw-inf"), "cannot read 'inf' in 'jigsaw-inf' as k of 'jigsaw'"),
    ("spec jigsaw-nan", lambda: get_transform("jigsaw-nan"), "as k of 'jigsaw'.*finite number"),
    ("spec jigsaw-0", lambda: get_transform("jigsaw-0"), "k=0"),
    ("spec jigsaw-", lambda: get_transform("jigsaw-"), "cannot read '' in 'jigsaw-' as k"),
    ("spec jigsaw-2-3", lambda: get_transform("jigsaw-2-3"), "cannot read '2-3'"),
    ("spec jigsaw-two", lambda: get_transform("jigsaw-two"), "cannot read 'two'"),
    ("spec unknown name", lambda: get_transform("swirl-2"), "unknown transform 'swirl-2'; known"),
    ("spec stitch-2", lambda: get_transform("stitch-2"), "'stitch' takes no parameter"),
    ("spec mixup--1", lambda: get_transform("mixup--1"), "alpha=-1"),
    ("spec cutout-0.9 > max_frac", lambda: get_transform("cutout-0.9"), "min_frac <= max_frac.*min_frac=0.9"),
    ("spec an int", lambda: get_transform(3), "a transform is given by name"),
    ("spec None", lambda: get_transform(None), "a transform is given by name"),
    ("dict unknown name", lambda: transform_from_dict({"name": "swirl"}), "unknown transform 'swirl'"),
    ("dict unknown field", lambda: transform_from_dict({"name": "jigsaw", "kk": 3}), "no parameter 'kk'.*\\['k'\\]"),
    ("dict bad value", lambda: transform_from_dict({"name": "mixup", "alpha": 0}), "alpha=0"),
    ("dict not a dict", lambda: transform_from_dict("jigsaw"), "spec must be a dict"),
    ("cutout min_frac=0", lambda: Cutout(min_frac=0), r"min_frac in \(0, 1\], got min_frac=0"),
    ("cutout max_frac=1.5", lambda: Cutout(max_frac=1.5), "max_frac=1.5"),
    ("cutout min > max", lambda: Cutout(min_frac=0.6, max_frac=0.4), "min_frac <= max_frac"),
    ("cutout min_frac=-0.1", lambda: Cutout(min_frac=-0.1), "min_frac=-0.1"),
    ("cutmix max_frac=0", lambda: CutMix(max_frac=0), "CutMix needs .*max_frac"),
    ("cutmix min > max", lambda: CutMix(min_frac=0.9, max_frac=0.5), "CutMix needs min_frac <= max_frac"),
    ("mixup alpha=0", lambda: Mixup(alpha=0), r"Mixup needs .*alpha in \(0, inf\), got alpha=0"),
    ("mixup alpha=-1", lambda: Mixup(alpha=-1), "alpha=-1"),
    ("mixup alpha=inf", lambda: Mixup(alpha=float("inf")), "alpha=inf"),
    ("mixup alpha=nan", lambda: Mixup(alpha=float("nan")), "alpha=nan"),
    ("mixup alpha='2'", lambda: Mixup(alpha="2"), "alpha='2'"),
    ("otherclass labels str", lambda: OtherClass(negative_labels="1"), "negative_labels"),
    ("otherclass labels empty", lambda: OtherClass(negative_labels=[]), "non-empty list"),
    ("otherclass labels float", lambda: OtherClass(negative_labels=[1.5]), "negative_labels=1.5"),
    ("randomcrop padding=-1", lambda: RandomCrop(padding=-1), "padding=-1"),
    ("randomcrop padding=1.5", lambda: RandomCrop(padding=1.5), "padding=1.5"),
    ("flip p=1.5", lambda: HorizontalFlip(p=1.5), r"flip probability p in \[0, 1\], got p=1.5"),
    ("gaussian std=-0.1", lambda: GaussianNoise(std=-0.1), "std=-0.1"),
    ("mocov2 scale_min=0", lambda: MoCoV2Views(scale_min=0), "scale_min=0"),
    ("mocov2 jitter=2", lambda: MoCoV2Views(jitter=2), "jitter=2"),
    ("mocov2 blur_p=-1", lambda: MoCoV2Views(blur_p=-1), "blur_p=-1"),
    ("cropgrid crop_size=0", lambda: CropGrid(crop_size=0), "crop_size=0"),
    ("cropgrid stride=inf", lambda: CropGrid(stride=float("inf")), "stride=inf"),
    ("cropgrid stride='4'", lambda: CropGrid(stride="4"), "stride='4'"),
    ("cropgrid image_size 3-d", lambda: CropGrid(image_size=(84, 84, 3)), "image_size as one int or"),
    ("cropgrid image_size=-1", lambda: CropGrid(image_size=-1), "image_size=-1"),
    ("cropgrid crop too big", lambda: CropGrid(crop_size=90, image_size=84), "crop_size=90 does not fit"),
    ("jigsawperms k=5", lambda: JigsawPermutations(k=5), r"k in \[2, 4\], got k=5"),
    ("jigsawperms k=inf", lambda: JigsawPermutations(k=float("inf")), "k=inf"),
    ("oneof a string", lambda: OneOf("jigsaw"), r"transforms as a list.*\['jigsaw'\]"),
    ("oneof empty", lambda: OneOf([]), "at least one transform"),
    ("oneof unknown member", lambda: OneOf(["jigsaw", "swirl"]), "unknown transform 'swirl'"),
    ("oneof resizing member", lambda: OneOf(["jigsaw", "cropgrid"]), "must keep the image shape"),
]


@pytest.mark.parametrize("make,message", [b[1:] for b in BAD_TRANSFORMS], ids=[b[0] for b in BAD_TRANSFORMS])
def test_bad_transform_parameters_name_the_parameter(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_valid_parameters_are_kept_and_serialise():
    assert get_transform("jigsaw-3") == Jigsaw(k=3) and Jigsaw(k=3.0).k == 3 and isinstance(Jigsaw(k=3.0).k, int)
    assert get_transform("mixup-0.01") == Mixup(alpha=0.01)
    assert Cutout(min_frac=0.5, max_frac=0.5).to_dict() == {"name": "cutout", "min_frac": 0.5, "max_frac": 0.5}
    assert OneOf(["jigsaw", {"name": "cutout"}]).transforms[1] == Cutout()
    assert transform_from_dict(CropGrid(image_size=(84, 64)).to_dict()) == CropGrid(image_size=(84, 64))
    assert Jigsaw(k=np.int64(3)).k == 3 and Mixup(alpha=np.float32(0.5)).alpha == 0.5


# ---- transform calls: bad batches, generators, labels ----------------------------------------------------

X = torch.rand(4, 1, 8, 8, generator=gen(0)) * 2 - 1

BAD_CALLS = [
    ("generator an int", lambda: Jigsaw()(X, generator=0), TypeError, "generator must be a torch.Generator.*manual_seed"),
    ("generator in sample_params", lambda: Cutout().sample_params(X, generator=1), TypeError, "generator must be"),
    ("generator in OneOf.sample_params", lambda: OneOf(["jigsaw"]).sample_params(X, generator="0"), TypeError,
     "generator must be"),
    ("other of another dtype", lambda: Mixup()(X, X.double()), ValueError, "other.to\\(images\\)"),
    ("other of another shape", lambda: CutMix()(X, X[:2]), ValueError, "images \\(4, 1, 8, 8\\) vs other"),
    ("empty channel axis", lambda: Jigsaw()(torch.zeros(2, 0, 8, 8)), ValueError, "empty axis"),
    ("randomcrop padding >= side", lambda: RandomCrop(padding=8)(X), ValueError, "padding=8.*RandomCrop\\(padding=7\\)"),
    ("otherclass float labels", lambda: OtherClass()(X, labels=torch.tensor([0.0, 1, 0, 1])), ValueError,
     "integer class ids.*float32"),
    ("otherclass string labels", lambda: OtherClass()(X, labels=["a", "b", "a", "b"]), ValueError,
     "integer class ids"),
    ("otherclass no labels", lambda: OtherClass()(X), ValueError, "needs the batch labels"),
    ("jigsaw 3 on 8 px", lambda: Jigsaw(k=3)(X), ValueError, "divisible by 3"),
    ("corruption kind a list", lambda: corrupt(X, ["contrast"]), ValueError, "unknown corruption kind"),
    ("corruption severity 2.5", lambda: corrupt(X, "contrast", severity=2.5), ValueError, "severity=2.5"),
    ("corruption severity True", lambda: corrupt(X, "contrast", severity=True), ValueError, "severity=True"),
    ("corruption severity 6", lambda: corrupt(X, "contrast", severity=6), ValueError, r"severity in \[1, 5\]"),
    ("corruption generator", lambda: corrupt(X, "gaussian_noise", generator=3), TypeError, "generator must be"),
]


@pytest.mark.parametrize("call,error,message", [b[1:] for b in BAD_CALLS], ids=[b[0] for b in BAD_CALLS])
def test_bad_transform_calls_name_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---- Mixup with a small alpha: Beta sampled stably -----------------------------------------------------

@pytest.mark.parametrize("alpha", [0.01, 1e-4])
def test_small_alpha_mixup_is_finite_over_many_seeds(alpha):
    x = torch.rand(16, 1, 8, 8, generator=gen(0)) * 2 - 1
    mixup = Mixup(alpha=alpha)
    weights = []
    for seed in range(200):
        params = mixup.sample_params(x, generator=gen(seed))
        out = mixup.apply(x, params)
        assert torch.isfinite(out).all(), f"seed {seed}"
        weights.append(params["weight"])
    w = torch.cat(weights)
    assert ((w >= 0) & (w <= 1)).all()
    # Beta(α, α) with small α puts its mass near 0 and 1, half on each side
    assert ((w < 0.01) | (w > 0.99)).float().mean() > 0.9
    assert (w > 0.5).float().mean().item() == pytest.approx(0.5, abs=0.05)


def test_small_concentration_dirichlet_rows_sum_to_one():
    d = rnd.dirichlet(torch.full((3,), 0.005), 500, gen(0))
    assert torch.isfinite(d).all()
    torch.testing.assert_close(d.sum(1), torch.ones(500))


# ---- the image processor -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def proc():
    return NDAImageProcessor(size={"height": 8, "width": 8}, num_channels=1, negatives=[])


RAMP = (np.arange(64).reshape(8, 8) * 4).astype(np.uint8)  # 0 .. 252

BAD_IMAGES = [
    # (id, image, call kwargs, message naming the argument / the fix)
    ("int32 with 16-bit values", RAMP.astype(np.int32) * 257, {}, "int32 with values in \\[0, 64764\\].*astype\\(np.uint16\\)"),
    ("int8 with negative values", RAMP.astype(np.int8), {}, "int8 with values in \\[-128"),
    ("PIL I with 16-bit values", Image.fromarray(RAMP.astype(np.int32) * 257), {}, "no known range.*uint16"),
    ("float [0, 1] read as [0, 255]", RAMP / 255.0, {}, "do_rescale=True.*come out black.*do_rescale=False"),
    ("float [-1, 1] given to the processor", RAMP / 127.5 - 1, {}, "ready pixel_values.*N×C×H×W float tensor"),
    ("float [0, 65535]", RAMP.astype(np.float32) * 257, {}, "read as \\[0, 255\\].*scale the image"),
    ("float [0, 255] with do_rescale=False", RAMP.astype(np.float32), {"do_rescale": False},
     "do_rescale=False reads floats as \\[0, 1\\]; for floats in \\[0, 255\\] leave do_rescale=True"),
    ("float [-1, 1] with do_rescale=False", RAMP / 127.5 - 1, {"do_rescale": False}, "ready pixel_values"),
    ("uint8 with do_rescale=False", RAMP, {"do_rescale": False}, "do_rescale=False.*integer image.*uint8"),
    ("float tensor [-1, 1]", torch.from_numpy(RAMP / 127.5 - 1)[None], {}, "ready pixel_values"),
    ("complex array", RAMP.astype(np.complex64), {}, "real numbers.*complex64"),
    ("object array", RAMP.astype(object), {}, "real numbers.*object"),
    ("NaN float", np.full((8, 8), np.nan, np.float32), {}, "NaN.*nan_to_num"),
    ("no pixels", np.zeros((0, 8, 1), np.uint8), {}, "has no pixels"),
    ("two channels", np.zeros((8, 8, 2), np.uint8), {}, "no channel axis of 1, 3 or 4"),
]


@pytest.mark.parametrize("image,kwargs,message", [b[1:] for b in BAD_IMAGES], ids=[b[0] for b in BAD_IMAGES])
def test_bad_images_name_the_range_and_the_fix(proc, image, kwargs, message):
    with pytest.raises(ValueError, match=message):
        proc(image, return_tensors="pt", **kwargs)
    if isinstance(image, np.ndarray) and image.ndim == 2 and image.dtype != object:  # the stacked fast path too
        with pytest.raises(ValueError, match=message):
            proc([image, image], return_tensors="pt", **kwargs)


BAD_PROCESSORS = [
    ("num_channels=2", {"num_channels": 2}, "num_channels must be 1 .* or 3"),
    ("num_channels=True", {"num_channels": True}, "num_channels must be"),
    ("size 0", {"size": {"height": 0, "width": 8}}, "size must give the output's positive height and width"),
    ("size negative", {"size": -3}, "size must give"),
    ("size without height", {"size": {"shortest_edge": 8}}, "size must give"),
    ("image_mean per channel", {"image_mean": [0.5, 0.5]}, "image_mean needs one value per channel"),
    ("image_std zero", {"image_std": 0}, "image_std must be non-zero"),
    ("negatives unknown", {"negatives": ["swirl"]}, "unknown transform 'swirl'"),
    ("negatives not a list", {"negatives": 3}, "negatives must be a list"),
]


@pytest.mark.parametrize("kwargs,message", [b[1:] for b in BAD_PROCESSORS], ids=[b[0] for b in BAD_PROCESSORS])
def test_bad_processor_settings_name_the_setting(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NDAImageProcessor(**kwargs)


def test_a_lone_negative_name_is_one_transform():
    assert NDAImageProcessor(negatives="cutout").negatives == ["cutout"]


def _assert_same_as_8bit(proc, image, reference=RAMP):
    expected = proc(reference, return_tensors="pt").pixel_values
    got = proc(image, return_tensors="pt").pixel_values
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name,image", [
    ("uint16 array", RAMP.astype(np.uint16) * 257),
    ("big-endian uint16 array", (RAMP.astype(np.uint16) * 257).astype(">u2")),
    ("uint16 tensor", torch.from_numpy(RAMP.astype(np.int32) * 257).to(torch.uint16)),
    ("PIL I;16", Image.fromarray(RAMP.astype(np.uint16) * 257)),
    ("int64 array of 8-bit values", RAMP.astype(np.int64)),
    ("int8 array of small values", (RAMP // 2).astype(np.int8)),  # read as 8-bit values 0..126
    ("PIL I of 8-bit values", Image.fromarray(RAMP.astype(np.int32))),
    ("PIL F of [0, 255] floats", Image.fromarray(RAMP.astype(np.float32))),
    ("float [0, 255] array", RAMP.astype(np.float64)),
    ("PIL LA", Image.fromarray(RAMP).convert("LA")),
    ("PIL P", Image.fromarray(RAMP).convert("P")),
    ("PIL CMYK", Image.fromarray(RAMP).convert("RGB").convert("CMYK")),
])
def test_every_bit_depth_is_read_by_its_real_range(proc, name, image):
    reference = (RAMP // 2) if "small" in name else RAMP
    _assert_same_as_8bit(proc, image, reference)
    if isinstance(image, np.ndarray):
        _assert_same_as_8bit(proc, [image, image], [reference, reference])


def test_one_bit_and_bool_images_are_black_and_white(proc):
    mask = RAMP > 100
    expected = proc(mask.astype(np.uint8) * 255, return_tensors="pt").pixel_values
    for form in (mask, [mask, mask], Image.fromarray(mask)):
        got = proc(form, return_tensors="pt").pixel_values
        torch.testing.assert_close(got, expected.expand_as(got))
    assert set(expected.unique().tolist()) <= {-1.0, 1.0}


def test_float_input_in_0_1_with_do_rescale_false(proc):
    expected = proc(RAMP, return_tensors="pt").pixel_values
    floats = RAMP.astype(np.float32) / 255
    for got in (proc(floats, do_rescale=False, return_tensors="pt").pixel_values,
                NDAImageProcessor(size=8, negatives=[], do_rescale=False)(floats, return_tensors="pt").pixel_values):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


def test_16_bit_png_round_trip(proc, tmp_path):
    """A 16-bit PNG (what scanners, microscopes and medical images write) keeps its full precision:
    pixel_values equal value / 65535 mapped to [-1, 1], and back through uint16 → PNG → processor."""
    size = NDAImageProcessor(size={"height": 16, "width": 16}, negatives=[], do_resize=False)
    values = np.linspace(0, 65535, 256).round().astype(np.uint16).reshape(16, 16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    loaded = Image.open(tmp_path / "deep.png")
    assert loaded.mode.startswith("I")  # Pillow reads 16-bit gray PNGs as I;16 (older versions: I)
    pixel_values = size(str(tmp_path / "deep.png"), return_tensors="pt").pixel_values
    expected = torch.from_numpy(values.astype(np.float64) / 65535 * 2 - 1).float()
    torch.testing.assert_close(pixel_values[0, 0], expected, rtol=0, atol=1e-5)
    assert len(pixel_values.unique()) == 256  # 16-bit steps survive (8 bits would merge neighbours)
    # back: [-1, 1] → uint16 → PNG → the same pixel_values
    back = ((pixel_values[0, 0].double() + 1) / 2 * 65535).round().numpy().astype(np.uint16)
    assert np.array_equal(back, values)
    Image.fromarray(back).save(tmp_path / "again.png")
    torch.testing.assert_close(size(str(tmp_path / "again.png"), return_tensors="pt").pixel_values, pixel_values)
