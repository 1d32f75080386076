"""Shared fixtures. The suite runs offline: the Hub is never contacted (HF_HUB_OFFLINE=1) and the
datasets come from their local sources, cached once per session in a temporary HF_NDA_CACHE."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _dataset_cache(tmp_path_factory):
    if "HF_NDA_CACHE" not in os.environ:
        os.environ["HF_NDA_CACHE"] = str(tmp_path_factory.mktemp("hf_nda_cache"))
    yield


@pytest.fixture
def batch():
    """A seeded batch of distinct images, 8×3×32×32 in [-1, 1]."""
    return torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(123)) * 2 - 1


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="session")
def tiny_gan_run(tmp_path_factory):
    """A finished 3-step NDA-GAN run on sklearn digits at 28 px (tiny widths): a real run directory."""
    from hf_nda.trainers.gan import NDAGANTrainer, NDAGANTrainingArguments

    out = tmp_path_factory.mktemp("tiny_gan") / "run"
    args = NDAGANTrainingArguments(output_dir=str(out), dataset="digits", image_size=28, batch_size=8, g_channels=8,
                                   d_channels=8, latent_dim=16, d_steps=1, max_steps=3, report_to="none",
                                   save_steps=0, sample_steps=0)
    NDAGANTrainer(args, argv=["--dataset", "digits", "--max_steps", "3"]).train()
    return out
