"""Transforms in two halves (sample_params → apply) and the discrete transform sets."""

import itertools
import json

import pytest
import torch

from hf_nda.processing import (TRANSFORMS, CropGrid, Jigsaw, JigsawPermutations, MoCoV2Views, OneOf, Rotations,
                               get_transform, transform_from_dict)
from tests.conftest import gen

# An instance per registered name: these, else the class built with its defaults.
_CHOSEN = {
    "jigsaw": lambda: Jigsaw(k=2), "stitch": lambda: get_transform("stitch"), "cutout": lambda: get_transform("cutout"),
    "cutmix": lambda: get_transform("cutmix"), "mixup": lambda: get_transform("mixup"),
    "otherclass": lambda: get_transform("otherclass"), "randomcrop": lambda: get_transform("randomcrop"),
    "flip": lambda: get_transform("flip"), "gaussian": lambda: get_transform("gaussian"), "mocov2": MoCoV2Views,
    "oneof": lambda: OneOf(["jigsaw", "stitch", "cutout", "cutmix", "mixup", "flip", "rotations"]),
    "cropgrid": lambda: CropGrid(crop_size=8, stride=4, image_size=16), "jigsawperms": JigsawPermutations,
    "rotations": Rotations,
}
INSTANCES = {name: _CHOSEN.get(name, cls) for name, cls in TRANSFORMS.items()}
LABELS = torch.tensor([0, 0, 1, 1, 2, 2])

# Seeded outputs of the one-call form before it was split in two (weighted sums, so a change in the
# order of the random draws shows): the split must not change what today's calls return.
REFERENCE = {"jigsaw": -32.037149, "stitch": 15.481318, "cutout": 13.837909, "cutmix": 41.365538,
             "mixup": 25.090335, "otherclass": -21.590778, "randomcrop": 47.372283, "flip": 12.240276,
             "gaussian": 30.619102, "mocov2": 7.539054, "oneof": 29.424540}


def _images(shape=(6, 3, 16, 16), seed=123):
    return torch.rand(shape, generator=gen(seed)) * 2 - 1


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_one_call_form_gives_the_same_seeded_output_as_before(name):
    x = _images()
    t = OneOf(["jigsaw", "stitch", "cutmix", "mixup", "flip"]) if name == "oneof" else get_transform(name)
    out = t(x, generator=gen(0), labels=LABELS)
    weights = torch.cos(torch.arange(x.numel(), dtype=torch.float64)).view_as(x)
    assert (out.double() * weights).sum().item() == pytest.approx(REFERENCE[name], abs=1e-4)


@pytest.mark.parametrize("name", sorted(INSTANCES))
@pytest.mark.parametrize("shape", [(6, 3, 16, 16), (6, 2, 3, 16, 16)], ids=["images", "video"])
@pytest.mark.parametrize("seed", [0, 1])
def test_apply_of_sampled_params_equals_the_one_call_form_bitwise(name, shape, seed):
    t, x = INSTANCES[name](), _images(shape)
    expected = t(x, generator=gen(seed), labels=LABELS)
    params = t.sample_params(x, generator=gen(seed), labels=LABELS)
    assert torch.equal(t.apply(x, params), expected)
    assert torch.equal(t.apply(x, t.sample_params(x, generator=gen(seed), labels=LABELS)), expected)  # deterministic


@pytest.mark.parametrize("name", ["stitch", "cutmix", "mixup", "oneof"])
def test_params_drawn_for_a_separate_other_batch(name):
    t, x, other = INSTANCES[name](), _images(), _images(seed=7)
    params = t.sample_params(x, other, generator=gen(3))
    assert torch.equal(t.apply(x, params, other), t(x, other, generator=gen(3)))


def test_different_seeds_give_different_params():
    x = _images()
    for name in ["jigsaw", "cutout", "mixup", "randomcrop", "mocov2", "cropgrid"]:
        t = INSTANCES[name]()
        a, b = t.sample_params(x, generator=gen(0)), t.sample_params(x, generator=gen(1))
        assert any(not torch.equal(a[k], b[k]) for k in a), name


def test_params_are_documented_tensors_with_one_row_per_image():
    x = _images()
    for name in ["jigsaw", "stitch", "cutout", "cutmix", "mixup", "randomcrop", "flip", "gaussian", "mocov2"]:
        t = INSTANCES[name]()
        params = t.sample_params(x, generator=gen(0), labels=LABELS)
        assert set(t.param_keys) <= set(params) <= set(t.param_keys) | set(t.optional_param_keys)
        assert all(v.shape[0] == 6 for v in params.values())
    assert Jigsaw(k=3).sample_params(torch.zeros(2, 1, 9, 9))["perm"].shape == (2, 9)


def test_hand_chosen_params_do_what_they_say():
    x = _images()
    flip = torch.tensor([True, False, True, False, False, False])
    out = get_transform("flip").apply(x, {"flip": flip})
    assert torch.equal(out[0], x[0].flip(-1)) and torch.equal(out[1], x[1])
    pairs = {"weight": torch.full((6,), 0.5), "partner": torch.tensor([1, 0, 3, 2, 5, 4])}
    mixed = get_transform("mixup").apply(x, pairs)
    torch.testing.assert_close(mixed[0], (x[0] + x[1]) / 2)
    swapped = Jigsaw(k=2).apply(x, {"perm": torch.tensor([2, 3, 0, 1]).expand(6, 4)})
    torch.testing.assert_close(swapped, torch.cat([x[..., 8:, :], x[..., :8, :]], dim=2))


def test_oneof_choice_lets_a_policy_pick_the_member_per_image():
    t, x = OneOf(["jigsaw", "flip"]), _images()
    choice = torch.tensor([0, 0, 0, 1, 1, 1])
    params = t.sample_params(x, generator=gen(0), choice=choice)
    assert torch.equal(params["choice"], choice)
    out = t.apply(x, params)
    assert torch.equal(out[:3], Jigsaw().apply(x[:3], params["members"][0]))
    assert torch.equal(out[3:], get_transform("flip").apply(x[3:], params["members"][1]))
    with pytest.raises(ValueError, match="out of range"):
        t.sample_params(x, choice=torch.tensor([0, 1, 2, 0, 0, 0]))


@pytest.mark.parametrize("bad, message", [
    ({}, "lack \\['perm'\\]"),
    ({"perm": torch.zeros(5, 4, dtype=torch.long)}, "one row per image"),
    ([[0, 1, 2, 3]], "takes the dict"),
])
def test_bad_params_get_a_clear_error(bad, message):
    with pytest.raises(ValueError, match=message):
        Jigsaw().apply(_images(), bad)


def test_mixing_params_drawn_for_other_need_other():
    x, other = _images(), _images(seed=7)
    params = get_transform("cutmix").sample_params(x, other, generator=gen(0))
    with pytest.raises(ValueError, match="pass that batch"):
        get_transform("cutmix").apply(x, params)


# ---- differentiability: a trainer back-propagates through augmentations into what made the images


@pytest.mark.parametrize("name", ["mocov2", "randomcrop", "jigsaw", "cutout", "cutmix", "mixup", "gaussian",
                                  "cropgrid", "rotations", "oneof"])
def test_gradient_flows_back_to_the_input_pixels(name):
    t = INSTANCES[name]()
    x = (_images() * 0.5).requires_grad_()
    out = t(x, generator=gen(0))
    (out * torch.randn(out.shape, generator=gen(1))).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_mocov2_views_pass_gradcheck_for_fixed_params():
    views, x = MoCoV2Views(), (torch.rand(2, 3, 8, 8, generator=gen(2), dtype=torch.float64) - 0.5) * 0.5
    params = views.sample_params(x, generator=gen(3))
    torch.autograd.gradcheck(lambda y: views.apply(y, params), x.requires_grad_())


def test_crop_grid_gradient_counts_the_crops_covering_each_pixel():
    grid, x = CropGrid(crop_size=20, stride=4, image_size=84), torch.zeros(1, 1, 84, 84, requires_grad=True)
    grid.apply_all(x).sum().backward()
    cover = torch.zeros(84, 84)
    for i in range(grid.num_transforms):
        top, left = grid.corner(i)
        cover[top:top + 20, left:left + 20] += 1
    assert torch.equal(x.grad[0, 0], cover)


# ---- discrete sets


def test_crop_grid_on_84_canvas_has_289_crops_and_apply_all_matches_apply_index():
    grid, x = CropGrid(crop_size=20, stride=4), _images((3, 2, 84, 84))
    assert grid.num_transforms == 289 and grid.grid == (17, 17)
    everything = grid.apply_all(x)
    assert everything.shape == (3, 289, 2, 20, 20)
    for j in range(289):
        assert torch.equal(everything[:, j], grid.apply_index(x, torch.full((3,), j)))


def test_crop_grid_index_means_the_crop_at_that_corner():
    grid, x = CropGrid(crop_size=20, stride=4), _images((5, 3, 84, 84))
    index = torch.tensor([0, 16, 17, 150, 288])
    out = grid.apply_index(x, index)
    for i, j in enumerate(index.tolist()):  # one image at a time, by slicing
        top, left = grid.corner(j)
        assert torch.equal(out[i], x[i, :, top:top + 20, left:left + 20])
        assert torch.equal(out[i:i + 1], grid.apply_index(x[i:i + 1], index[i:i + 1]))
    assert grid.corner(288) == (64, 64) and grid.describe(17) == "crop 20×20 at top=4, left=0"


def test_crop_grid_output_size_resizes_every_crop_alike():
    grid, x = CropGrid(crop_size=20, stride=8, output_size=32), _images((2, 1, 84, 84))
    everything = grid.apply_all(x)
    assert everything.shape == (2, grid.num_transforms, 1, 32, 32)
    index = torch.tensor([3, 40])
    torch.testing.assert_close(grid.apply_index(x, index), everything[torch.arange(2), index], rtol=0, atol=1e-6)


def test_crop_grid_on_video_and_on_the_wrong_canvas():
    grid, clip = CropGrid(crop_size=8, stride=4, image_size=16), _images((2, 3, 1, 16, 16))
    assert grid.apply_index(clip, torch.tensor([0, 8])).shape == (2, 3, 1, 8, 8)
    assert grid.apply_all(clip).shape == (2, 9, 3, 1, 8, 8)
    with pytest.raises(ValueError, match="image_size=\\(32, 32\\)"):
        grid.apply_index(_images((2, 1, 32, 32)), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="does not fit"):
        CropGrid(crop_size=100)
    with pytest.raises(ValueError, match="keep the image shape"):
        OneOf(["jigsaw", grid])


def test_jigsaw_permutations_are_the_23_non_identity_ones_in_order():
    t = JigsawPermutations(k=2)
    perms = t.permutation(torch.arange(t.num_transforms))
    expected = [p for p in itertools.permutations(range(4)) if p != (0, 1, 2, 3)]
    assert t.num_transforms == 23 and [tuple(p) for p in perms.tolist()] == expected
    assert torch.equal(t.index_of(perms), torch.arange(23))
    with pytest.raises(ValueError, match="identity"):
        t.index_of(torch.arange(4))


def test_jigsaw_permutations_k3_round_trip():
    t = JigsawPermutations(k=3)
    index = torch.randint(0, t.num_transforms, (500,), generator=gen(4))
    perms = t.permutation(index)
    assert t.num_transforms == 362879 and (perms.sort(dim=1).values == torch.arange(9)).all()
    assert torch.equal(t.index_of(perms), index)


def test_jigsaw_permutations_apply_what_jigsaw_applies():
    t, x = JigsawPermutations(k=2), _images()
    index = torch.tensor([0, 5, 9, 13, 22, 7])
    out = t.apply_index(x, index)
    assert torch.equal(out, Jigsaw(k=2).apply(x, {"perm": t.permutation(index)}))
    everything = t.apply_all(x)
    assert everything.shape == (6, 23, 3, 16, 16)
    assert not (everything == x[:, None]).flatten(2).all(2).any()  # never the identity
    for i in range(6):  # one image at a time, tile by tile
        perm = t.permutation(index[i]).tolist()
        tiles = [x[i, :, r * 8:(r + 1) * 8, c * 8:(c + 1) * 8] for r in range(2) for c in range(2)]
        top, bottom = torch.cat([tiles[perm[0]], tiles[perm[1]]], 2), torch.cat([tiles[perm[2]], tiles[perm[3]]], 2)
        expected = torch.cat([top, bottom], 1)
        assert torch.equal(out[i], expected)
    drawn = Jigsaw(k=2).sample_params(x, generator=gen(5))["perm"]
    assert ((t.index_of(drawn) >= 0) & (t.index_of(drawn) < 23)).all()


def test_rotations_by_index_equal_rot90_one_image_at_a_time():
    t, x = Rotations(), _images((8, 3, 16, 16))
    index = torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])
    out = t.apply_index(x, index)
    for i in range(8):
        assert torch.equal(out[i], torch.rot90(x[i], int(index[i]), dims=(-2, -1)))
    assert t.apply_all(x).shape == (8, 4, 3, 16, 16)
    assert [t.describe(i) for i in (0, 2)] == ["unchanged (0°)", "rotate 180° counter-clockwise"]
    with pytest.raises(ValueError, match="square"):
        t.apply_index(_images((2, 1, 16, 8)), torch.tensor([0, 1]))


@pytest.mark.parametrize("transform", [CropGrid(), CropGrid(crop_size=8, stride=2, image_size=(32, 48), output_size=16),
                                       JigsawPermutations(k=3), Rotations()])
def test_discrete_sets_round_trip_through_json(transform):
    spec = json.loads(json.dumps(transform.to_dict()))
    assert spec["num_transforms"] == transform.num_transforms
    assert transform_from_dict(spec) == transform and get_transform(spec) == transform
    assert type(transform).from_dict(spec) == transform
    with pytest.raises(ValueError, match="saved spec says"):
        transform_from_dict({**spec, "num_transforms": transform.num_transforms + 1})


def test_discrete_sets_by_name_and_from_dict_of_the_wrong_class():
    assert get_transform("cropgrid-20") == CropGrid(crop_size=20)
    assert get_transform("jigsawperms-3") == JigsawPermutations(k=3)
    with pytest.raises(ValueError, match="not a CropGrid"):
        CropGrid.from_dict(Rotations().to_dict())


@pytest.mark.parametrize("bad, message", [
    (torch.tensor([0, 289]), "indices\\[1\\] = 289 is out of range: valid indices are 0..288"),
    (torch.tensor([-1, 0]), "out of range"),
    (torch.tensor([0.0, 1.0]), "integer .* indices.long"),
    (torch.tensor([True, False]), "integer"),
    (torch.tensor([[0, 1]]), "shape \\(2,\\)"),
    (torch.tensor([0, 1, 2]), "shape \\(2,\\)"),
    ("0, 1", "LongTensor"),
])
def test_bad_indices_get_a_clear_error(bad, message):
    grid, x = CropGrid(), _images((2, 1, 84, 84))
    with pytest.raises(ValueError, match=message):
        grid.apply_index(x, bad)
    with pytest.raises(ValueError, match="index"):
        grid.apply(x, {"index": bad})


def test_indices_as_a_list_or_int32_are_accepted():
    grid, x = CropGrid(), _images((2, 1, 84, 84))
    expected = grid.apply_index(x, torch.tensor([1, 2]))
    assert torch.equal(grid.apply_index(x, [1, 2]), expected)
    assert torch.equal(grid.apply_index(x, torch.tensor([1, 2], dtype=torch.int32)), expected)
    assert torch.equal(grid.apply(x, {"index": [1, 2]}), expected)


def test_calling_a_discrete_set_draws_uniform_indices():
    t, x = Rotations(), _images((4000, 1, 4, 4))
    index = t.sample_params(x, generator=gen(6))["index"]
    assert torch.bincount(index, minlength=4).min() > 900
    assert torch.equal(t(x, generator=gen(6)), t.apply_index(x, index))


def test_stitch_against_a_separate_batch_takes_the_second_half_from_the_same_row():
    x, other = _images(), _images(seed=7)
    out = get_transform("stitch")(x, other, generator=gen(8))
    for img, a, b in zip(out, x, other):
        top = torch.equal(img[:, :8], a[:, :8]) and torch.equal(img[:, 8:], b[:, 8:])
        left = torch.equal(img[:, :, :8], a[:, :, :8]) and torch.equal(img[:, :, 8:], b[:, :, 8:])
        assert top or left
