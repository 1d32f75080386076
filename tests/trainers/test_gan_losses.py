import math

import pytest
import torch

from hf_nda.trainers.gan import NDAGANTrainer, NDAGANTrainingArguments
from hf_nda.trainers.losses import discriminator_loss, generator_loss, mixture_counts
from tests.conftest import gen


def test_hinge_losses_by_hand():
    real, neg = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0, 1.0])
    # D: mean(max(0, 1 - [2, .5])) + mean(max(0, 1 + [-2, 0, 1])) = 0.25 + 1.0
    assert discriminator_loss(real, neg, "hinge").item() == pytest.approx(0.25 + 1.0)
    assert generator_loss(torch.tensor([1.0, -3.0]), "hinge").item() == pytest.approx(1.0)


def test_js_losses_by_hand():
    real, neg = torch.tensor([0.0]), torch.tensor([math.log(3.0)])
    # -log σ(0) - log(1 - σ(log 3)) = log 2 + log 4
    assert discriminator_loss(real, neg, "js").item() == pytest.approx(math.log(2) + math.log(4))
    assert generator_loss(torch.tensor([math.log(3.0)]), "js").item() == pytest.approx(-math.log(0.75))
    with pytest.raises(ValueError, match="loss must be one of"):
        generator_loss(real, "wasserstein")


def test_mixture_counts():
    assert mixture_counts(64, 1.0) == (64, 0)
    assert mixture_counts(64, 0.25) == (16, 48)
    assert mixture_counts(64, 0.0) == (0, 64)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        mixture_counts(64, 1.5)


@pytest.fixture(scope="module")
def trainers(tmp_path_factory):
    def make(nda, lam, name):
        args = NDAGANTrainingArguments(output_dir=str(tmp_path_factory.mktemp(name)), dataset="digits",
                                       image_size=28, batch_size=8, g_channels=8, d_channels=8, latent_dim=16,
                                       nda=[nda], nda_lambda=lam, report_to="none", max_steps=1)
        return NDAGANTrainer(args, argv=[])
    return {"plain": make("none", 0.25, "plain"), "lam1": make("jigsaw", 1.0, "lam1"),
            "nda": make("jigsaw", 0.25, "nda")}


def test_lambda_one_is_exactly_the_plain_gan(trainers):
    real, labels = trainers["plain"].batch(0)
    plain, _ = trainers["plain"].negatives(real, None, gen(7))
    lam1, _ = trainers["lam1"].negatives(real, None, gen(7))
    assert torch.equal(plain, lam1)  # same init (same seed), all negatives generated, same draws
    d = trainers["plain"].models["discriminator"].eval()  # no power iteration between the two calls
    l_plain = discriminator_loss(d(real).logits, d(plain).logits)
    l_lam1 = discriminator_loss(d(real).logits, d(lam1).logits)
    assert torch.equal(l_plain, l_lam1)


def test_lambda_mixture_uses_the_stated_fraction(trainers):
    t = trainers["nda"]
    real, _ = t.batch(0)
    negatives, _ = t.negatives(real, None, gen(8))
    assert negatives.shape == real.shape  # a batch costs what a plain batch costs
    n_generated, n_nda = mixture_counts(len(real), 0.25)
    assert (n_generated, n_nda) == (2, 6)
    g = gen(8)
    generated = t.generate(n_generated, g)  # same draws in the same order as negatives()
    expected_nda = t.negative_transform(real[:n_nda], generator=g)
    torch.testing.assert_close(negatives[:n_generated], generated)
    assert torch.equal(negatives[n_generated:], expected_nda)


def test_conditional_gan_with_other_class_negatives_trains(tmp_path):
    args = NDAGANTrainingArguments(output_dir=str(tmp_path), dataset="digits", image_size=28, batch_size=16,
                                   g_channels=8, d_channels=8, latent_dim=16, conditional=True,
                                   nda=["otherclass", "jigsaw"], nda_lambda=0.5, d_steps=2, report_to="none",
                                   max_steps=2, gradient_accumulation_steps=2, save_steps=0, sample_steps=0)
    trainer = NDAGANTrainer(args, argv=[])
    assert trainer.num_classes == 10
    real, labels = trainer.batch(0)
    negatives, negative_labels = trainer.negatives(real, labels, gen(9))
    assert negatives.shape == real.shape and negative_labels.shape == labels.shape
    assert torch.equal(negative_labels[8:], labels[:8])  # NDA negatives keep their real labels
    logs = trainer.training_step(0, gen(10))
    assert math.isfinite(logs["d_loss"]) and math.isfinite(logs["g_loss"])
