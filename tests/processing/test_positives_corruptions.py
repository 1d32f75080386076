import pytest
import torch

from hf_nda.processing import CORRUPTIONS, GaussianNoise, HorizontalFlip, RandomCrop, corrupt
from tests.conftest import gen


def test_random_crop_is_a_shifted_window_of_the_reflect_padded_image(batch):
    out = RandomCrop(padding=2)(batch, generator=gen(0))
    padded = torch.nn.functional.pad(batch, (2, 2, 2, 2), mode="reflect")
    for img, p in zip(out, padded):
        windows = [(dy, dx) for dy in range(5) for dx in range(5) if torch.equal(p[:, dy:dy + 32, dx:dx + 32], img)]
        assert windows


def test_flip_mirrors_or_keeps(batch):
    out = HorizontalFlip(p=0.5)(batch, generator=gen(1))
    flipped = [torch.equal(o, b.flip(-1)) for o, b in zip(out, batch)]
    kept = [torch.equal(o, b) for o, b in zip(out, batch)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


def test_gaussian_noise_std_and_range():
    x = torch.zeros(64, 1, 32, 32)
    out = GaussianNoise(std=0.1)(x, generator=gen(2))
    assert abs(out.std().item() - 0.1) < 0.005 and out.abs().max() <= 1


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corruptions_keep_shape_range_and_grow_with_severity(kind, batch):
    batch = batch.clamp(-0.9, 0.9)
    errors = []
    for severity in (1, 5):
        out = corrupt(batch, kind, severity, gen(3))
        assert out.shape == batch.shape and out.min() >= -1 and out.max() <= 1
        errors.append((out - batch).abs().mean().item())
    assert 0 < errors[0] < errors[1]


def test_contrast_hand_checked():
    x = torch.tensor([[-1.0, 1.0]]).view(1, 1, 1, 2)  # [0, 1] in image space, mean 0.5
    out = corrupt(x, "contrast", severity=5)  # c = 0.15: 0.5 ± 0.5·0.15
    torch.testing.assert_close(out, torch.tensor([[-0.15, 0.15]]).view(1, 1, 1, 2))


def test_corrupt_rejects_bad_arguments(batch):
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(batch, "fog")
    with pytest.raises(ValueError, match="severity"):
        corrupt(batch, "contrast", severity=6)
