import math

import pytest
import torch
import torch.nn.functional as F

from hf_nda.trainers import trainer_class
from hf_nda.trainers.contrastive import nt_xent
from hf_nda.trainers.crl_tac import (CRLTACTrainer, CRLTACTrainingArguments, distinct_views, h_objective,
                                     policy_objective)
from tests.conftest import assert_same_weights, kill_and_resume

TINY = ["--dataset", "canvas_mnist", "--max_train_samples", "64", "--batch_size", "8", "--num_views", "2",
        "--crop_stride", "16", "--projection_dim", "8", "--projection_hidden_dim", "16", "--report_to", "none",
        "--sample_steps", "0", "--logging_steps", "1"]


@pytest.mark.parametrize("jensen", [True, False])
def test_prop1_eq20_uniform_policy_m2_is_nt_xent(jensen):
    # eq. 20: m = 2 views of N images from a uniform P(T|x): −objective (2) = NT-Xent(τ = 1/β) − log(2N − 1)
    n, beta = 6, 0.5
    z1 = F.normalize(torch.randn(n, 16, generator=torch.Generator().manual_seed(0)), dim=1)
    z2 = F.normalize(torch.randn(n, 16, generator=torch.Generator().manual_seed(1)), dim=1)
    ours = h_objective(torch.stack([z1, z2], dim=1), beta, jensen)
    torch.testing.assert_close(-ours, nt_xent(z1, z2, temperature=1 / beta) - math.log(2 * n - 1))


def test_h_objective_by_hand_for_m3():
    z = F.normalize(torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(2)), dim=-1)
    beta, flat = 2.0, z.reshape(6, 4)
    total = 0.0
    for a in range(6):
        same = [b for b in range(6) if b // 3 == a // 3 and b != a]
        others = [b for b in range(6) if b != a]
        num = sum(beta * float(flat[a] @ flat[b]) for b in same) / 2
        den = math.log(sum(math.exp(beta * float(flat[a] @ flat[b])) for b in others) / 5)
        total += num - den
    assert float(h_objective(z, beta)) == pytest.approx(total / 6, rel=1e-5)


def toy_crops(n=16, seed=0):
    """12×12 canvases, one random 4×4 pattern each in one of the nine 4×4 cells; crops = the nine cells:
    one informative crop per image, eight blank ones that are identical across images."""
    from hf_nda.processing.discrete import CropGrid

    g = torch.Generator().manual_seed(seed)
    x = -torch.ones(n, 1, 12, 12)
    cells = torch.randint(0, 9, (n,), generator=g)
    for i, c in enumerate(cells.tolist()):
        r, col = divmod(c, 3)
        x[i, :, 4 * r:4 * r + 4, 4 * col:4 * col + 4] = torch.rand(1, 4, 4, generator=g) * 2 - 1
    grid = CropGrid(crop_size=4, stride=4, image_size=12)
    views, index = distinct_views(grid.apply_all(x).flatten(0, 1))
    codes = F.normalize(views.flatten(1) + 0.05, dim=1)  # a fixed h: the crop's pixels
    return index.view(n, 9), codes, F.one_hot(cells, 9).bool()


def test_policy_gradient_points_away_from_views_shared_by_every_image():
    index, codes, informative = toy_crops()
    logits = torch.zeros(informative.shape, requires_grad=True)
    policy_objective(logits.softmax(1), index, codes, beta=0.5).backward()
    grad = logits.grad  # gradient ascent direction of objective (2)
    assert grad.abs().max() > 1e-4
    assert bool((grad[informative] > 0).all()) and bool((grad[~informative] < 0).all())


def test_toy_policy_learns_to_avoid_blank_crops_within_a_few_hundred_steps():
    index, codes, informative = toy_crops()
    logits = torch.zeros(informative.shape, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.05)
    for _ in range(200):
        probs = logits.softmax(1)
        entropy = -(probs * probs.log()).sum(1).mean()
        loss = -(policy_objective(probs, index, codes, beta=0.5) + 0.0025 * entropy)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(logits.detach().softmax(1)[informative].mean()) > 0.9


def test_entropy_term_raises_the_entropy_when_the_objective_is_flat():
    index, codes, _ = toy_crops(4)
    codes = F.normalize(torch.ones_like(codes), dim=1)  # h maps every view alike: objective (2) is 0 for any P
    logits = torch.randn(4, 9, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    probs = logits.softmax(1)
    entropy = -(probs * probs.log()).sum(1).mean()
    objective = policy_objective(probs, index, codes, beta=0.5)
    assert abs(float(objective)) < 1e-6
    (-(objective + 0.0025 * entropy)).backward()
    with torch.no_grad():
        stepped = (logits - 10.0 * logits.grad).softmax(1)
    assert float(-(stepped * stepped.log()).sum(1).mean()) > float(entropy)


def test_sampled_policy_update_and_exact_one_agree_on_all_transforms():
    index, codes, _ = toy_crops(4)
    probs = torch.randn(4, 9).softmax(1)
    # 'sampled' with every transform as candidate and renormalised weights is the exact objective
    torch.testing.assert_close(policy_objective(probs / probs.sum(1, keepdim=True), index, codes, 0.5),
                               policy_objective(probs, index, codes, 0.5))


def tiny_args(tmp_path, **overrides):
    flags = dict(output_dir=str(tmp_path), dataset="canvas_mnist", max_train_samples=64, batch_size=8, num_views=2,
                 crop_stride=16, projection_dim=8, projection_hidden_dim=16, report_to="none", sample_steps=0,
                 max_steps=2, save_steps=0)
    return CRLTACTrainingArguments(**{**flags, **overrides})


def test_one_step_logs_both_objectives_entropy_and_digit_mass(tmp_path):
    trainer = CRLTACTrainer(tiny_args(tmp_path), argv=[])
    logs = trainer.training_step(0, trainer.step_generator(0))
    assert {"h_objective", "policy_objective", "entropy", "digit_mass"} <= set(logs)
    assert logs["entropy"] == pytest.approx(math.log(25), abs=1e-3)  # 5×5 crops, uniform at the start
    assert trainer_class("crl-tac") is CRLTACTrainer


def test_uniform_policy_trains_only_the_encoder(tmp_path):
    trainer = CRLTACTrainer(tiny_args(tmp_path, policy="uniform"), argv=[])
    assert set(trainer.models) == {"encoder"} and "policy" in trainer.frozen_models
    logs = trainer.training_step(0, trainer.step_generator(0))
    assert "policy_objective" not in logs


def test_bad_arguments_get_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="does not fit in a 84×84 canvas"):
        tiny_args(tmp_path, crop_size=100).validate()
    with pytest.raises(ValueError, match="--policy must be one of"):
        tiny_args(tmp_path, policy="random").validate()
    with pytest.raises(ValueError, match="--num_views must be >= 2"):
        tiny_args(tmp_path, num_views=1).validate()


def test_run_exports_loadable_parts_and_resumes_after_a_kill(tmp_path):
    from transformers import AutoModel

    import hf_nda  # noqa: F401
    from hf_nda import CRLTACModel

    flags = TINY + ["--max_steps", "4", "--save_steps", "2"]
    straight, resumed = kill_and_resume("crl-tac", flags, tmp_path, kill_after_step=3)
    assert_same_weights(straight, resumed, ("policy", "encoder"))
    model = AutoModel.from_pretrained(tmp_path / "straight")
    assert isinstance(model, CRLTACModel) and model.transform_set.num_transforms == 25
    assert "CRL-TAC" in (tmp_path / "straight" / "README.md").read_text()


def test_the_encoder_part_is_saved_with_a_crop_sized_processor(tmp_path):
    """The encoder alone takes crops: its folder's processor resizes to the crop size, so
    pipeline("image-feature-extraction") on it gives the encoder's features of the resized image."""
    import numpy as np
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModel, pipeline

    import hf_nda  # noqa: F401

    trainer = CRLTACTrainer(tiny_args(tmp_path, max_steps=1), argv=[])
    trainer.train()
    canvas = AutoImageProcessor.from_pretrained(tmp_path)
    crops = AutoImageProcessor.from_pretrained(tmp_path / "encoder")
    size = trainer.args.crop_size
    assert (crops.size.height, crops.size.width) == (size, size) and canvas.size.height == trainer.args.image_size
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8), mode="L")
    encoder = AutoModel.from_pretrained(tmp_path / "encoder").eval()
    with torch.no_grad():
        expected = encoder(crops(image, return_tensors="pt").pixel_values).features
    features = pipeline("image-feature-extraction", model=str(tmp_path / "encoder"))(image)
    torch.testing.assert_close(torch.tensor(features).reshape(expected.shape), expected, rtol=1e-4, atol=1e-5)


def test_recipe_parses_and_validates():
    from pathlib import Path

    from hf_nda.trainers.base import parse_args

    (args,) = parse_args(CRLTACTrainingArguments, [str(Path(__file__).parents[2] / "hf_nda/recipes/crl_tac_canvas_mnist.yaml")])
    args.validate()
    assert args.dataset == "canvas_mnist" and args.num_views == 8 and args.policy_head == "crops"


def test_objectives_stay_float32_under_bf16_autocast():
    from hf_nda.trainers.crl_tac import h_objective, policy_objective

    z = torch.nn.functional.normalize(torch.randn(4, 3, 8, generator=torch.Generator().manual_seed(0)), dim=-1)
    codes = torch.nn.functional.normalize(torch.randn(5, 8, generator=torch.Generator().manual_seed(1)), dim=1)
    weights, index = torch.full((2, 3), 1 / 3), torch.tensor([[0, 1, 2], [0, 3, 4]])
    plain = (h_objective(z, 0.5), policy_objective(weights, index, codes, 0.5))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = (h_objective(z.bfloat16(), 0.5), policy_objective(weights, index, codes.bfloat16(), 0.5))
    assert all(m.dtype == torch.float32 for m in mixed)
    assert torch.allclose(plain[1], mixed[1], atol=1e-2) and torch.allclose(plain[0], mixed[0], atol=1e-2)
