import json
import math

import pytest
import torch
from transformers import AutoModel

import hf_nda  # noqa: F401
from hf_nda.trainers.amr import (AMRTrainer, AMRTrainingArguments, acai_critic_loss, autoencoder_loss,
                                 amr_discriminator_loss, soft_cross_entropy)
from tests.conftest import assert_same_weights, kill_and_resume, run_trainer_module

TINY = ["--dataset", "digits", "--image_size", "16", "--batch_size", "16", "--base_channels", "4",
        "--d_channels", "4", "--report_to", "none", "--logging_steps", "1"]


def tiny_args(tmp_path, **kwargs):
    defaults = dict(output_dir=str(tmp_path / "run"), dataset="digits", image_size=16, batch_size=32, base_channels=8,
                    d_channels=8, max_steps=150, logging_steps=1, save_steps=0, sample_steps=0, report_to="none")
    return AMRTrainingArguments(**{**defaults, **kwargs})


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


def test_eq3_losses_against_hand_computed_values():
    x = torch.tensor([[[[0.5, -1.0]]]])
    recon = torch.tensor([[[[0.0, -0.5]]]])
    r, f, m = torch.tensor([2.0]), torch.tensor([-1.0]), torch.tensor([0.5])
    mse = ((0.5 - 0.0) ** 2 + (-1.0 + 0.5) ** 2) / 2
    # autoencoder: λ‖x − g(f(x))‖² + ℓ(D(recon), 1) + ℓ(D(mix), 1), ℓ(l, 1) = log(1 + e^{−l})
    assert float(autoencoder_loss(x, recon, f, m, 10.0)) == pytest.approx(10 * mse + softplus(1.0) + softplus(-0.5), rel=1e-6)
    assert float(autoencoder_loss(x, recon, f, None, 10.0)) == pytest.approx(10 * mse + softplus(1.0), rel=1e-6)  # AE+GAN
    # discriminator: ℓ(D(x), 1) + ℓ(D(recon), 0) + ℓ(D(mix), 0), ℓ(l, 0) = log(1 + e^{l})
    assert float(amr_discriminator_loss(r, f, m)) == pytest.approx(softplus(-2.0) + softplus(-1.0) + softplus(0.5), rel=1e-6)
    assert float(amr_discriminator_loss(r, f, None)) == pytest.approx(softplus(-2.0) + softplus(-1.0), rel=1e-6)


def test_eq7_class_term_and_acai_critic_against_hand_computed_values():
    logits = torch.tensor([[1.0, 0.0, -1.0]])
    target = torch.tensor([[0.25, 0.75, 0.0]])  # ỹ = 0.25·e0 + 0.75·e1
    log_z = math.log(math.e + 1 + math.exp(-1))
    assert float(soft_cross_entropy(logits, target)) == pytest.approx(-(0.25 * (1 - log_z) + 0.75 * (0 - log_z)), rel=1e-6)
    pred, alpha, blend = torch.tensor([0.1, 0.4]), torch.tensor([0.2, 0.3]), torch.tensor([0.5, -0.5])
    assert float(acai_critic_loss(pred, alpha, blend)) == pytest.approx((0.01 + 0.01) / 2 + 0.25, rel=1e-5)


def test_amr_training_learns_on_tiny_data(tmp_path):
    trainer = AMRTrainer(tiny_args(tmp_path, mixer="mixup", k=3), argv=["--mixer", "mixup", "--k", "3"])
    trainer.train()
    rows = trainer.log_history
    first, last = rows[:10], rows[-10:]
    mean = lambda rs, key: sum(r[key] for r in rs) / len(rs)  # noqa: E731
    assert mean(last, "recon") < 0.6 * mean(first, "recon")
    assert mean(last, "probe_acc") > mean(first, "probe_acc") + 0.2  # the online probe learns from the codes
    run = tmp_path / "run"
    for name in ("autoencoder", "discriminator", "checkpoints", "samples", "README.md", "log_history.jsonl"):
        assert (run / name).exists(), name
    ae = AutoModel.from_pretrained(run).eval()  # the run itself loads as its autoencoder
    x = trainer.source.images[:4]
    with torch.no_grad():
        assert torch.equal(ae.encode(x), trainer.unwrap("autoencoder").eval().encode(x))
    card = (run / "README.md").read_text()
    assert "hf-nda train amr --mixer mixup --k 3" in card and "Online linear probe" in card


def test_supervised_class_mixer_and_classifier_branch_learn(tmp_path):
    trainer = AMRTrainer(tiny_args(tmp_path, supervised=True, max_steps=60, learning_rate=1e-3), argv=[])
    ae = trainer.unwrap("autoencoder")
    embed0 = [p.detach().clone() for p in ae.class_mixer.parameters()]
    trainer.train()
    assert all(not torch.equal(a, b) for a, b in zip(embed0, ae.class_mixer.parameters()))
    D = trainer.unwrap("discriminator").eval()
    x, y = trainer.source.images[:256], trainer.source.labels[:256]
    with torch.no_grad():
        accuracy = float((D(x).class_logits.argmax(1) == y).float().mean())
    assert accuracy > 0.5  # p(y|x) of the classifier branch is trained on real labels (10 classes)
    assert "class_mix_cls" in trainer.log_history[-1]


def test_acai_baseline_runs_and_its_critic_regresses_alpha(tmp_path):
    trainer = AMRTrainer(tiny_args(tmp_path, adversary="acai", max_steps=60), argv=[])
    trainer.train()
    assert all(math.isfinite(r["d_loss"]) for r in trainer.log_history)
    assert not trainer.unwrap("discriminator").config.spectral_norm


def test_bad_arguments_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="between 2 and the images per micro-batch"):
        tiny_args(tmp_path, k=40).validate()
    with pytest.raises(ValueError, match="multiple of 16"):
        tiny_args(tmp_path, bottleneck=40).validate()
    with pytest.raises(ValueError, match="ACAI"):
        tiny_args(tmp_path, adversary="acai", mixer="bernoulli").validate()
    with pytest.raises(ValueError, match="--mixer"):
        tiny_args(tmp_path, mixer="cutmix").validate()


def run_module(argv, **kwargs):
    return run_trainer_module("amr", argv, **kwargs)


def test_killed_run_resumes_to_identical_weights(tmp_path):
    common = TINY + ["--max_steps", "6", "--save_steps", "3", "--sample_steps", "0", "--mixer", "bernoulli"]
    straight, resumed = kill_and_resume("amr", common, tmp_path, kill_after_step=3)
    assert_same_weights(straight, resumed, ("autoencoder", "discriminator"))
    steps = [json.loads(line)["step"] for line in (tmp_path / "resumed" / "log_history.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]  # streamed: the killed run's rows kept, the rest appended once


def test_cli_and_probe_on_a_run(tmp_path):
    from hf_nda.cli import main

    run = tmp_path / "cli"
    assert main(["train", "amr", *TINY, "--max_steps", "3", "--save_steps", "0", "--output_dir", str(run)]) == 0
    assert main(["probe", "--model", str(run), "--dataset", "digits", "--max_train", "1437"]) == 0
    results = json.loads((run / "probe_results.json").read_text())
    assert 0 <= results["linear_top1"] <= 1 and results["num_test"] == 360
    card = (run / "README.md").read_text()
    assert "linear (logistic regression)" in card and "name: linear probe top-1" in card  # card metadata


def test_two_process_cpu_run_trains_and_saves_once(tmp_path):
    out = tmp_path / "ddp"
    run_module([*TINY, "--supervised", "true", "--max_steps", "3", "--save_steps", "2", "--output_dir", str(out)],
               processes=2, port=29541)
    assert json.loads((out / "run_info.json").read_text())["num_processes"] == 2  # real gloo DDP
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-0000002", "step-0000003"]
    assert type(AutoModel.from_pretrained(out / "autoencoder")).__name__ == "AMRAutoencoder"


def test_recipe_parses_and_validates():
    from pathlib import Path

    from hf_nda.trainers.arguments import parse_args

    recipe = Path(__file__).parents[2] / "hf_nda" / "recipes" / "amr_mnist.yaml"
    (args,) = parse_args(AMRTrainingArguments, [str(recipe)])
    args.validate()
    assert (args.mixer, args.k, args.lambda_recon, args.bottleneck) == ("mixup", 2, 10.0, 32)
