import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel

import hf_nda  # noqa: F401
from hf_nda.trainers.gan import NDAGANTrainer, NDAGANTrainingArguments
from tests.conftest import assert_same_weights, kill_and_resume, run_trainer_module

TINY = ["--dataset", "digits", "--image_size", "28", "--batch_size", "16", "--g_channels", "8", "--d_channels", "8",
        "--latent_dim", "16", "--d_steps", "1", "--report_to", "none", "--logging_steps", "1"]


def run_module(argv, **kwargs):
    return run_trainer_module("gan", argv, **kwargs)


def test_training_lowers_d_loss_and_moves_g(tmp_path):
    args = NDAGANTrainingArguments(output_dir=str(tmp_path / "run"), dataset="digits", image_size=28, batch_size=32,
                                   g_channels=8, d_channels=8, latent_dim=16, d_steps=1, max_steps=150,
                                   logging_steps=1, save_steps=0, sample_steps=0, report_to="none", ema_decay=0.0)
    trainer = NDAGANTrainer(args, argv=[])
    g0 = {k: v.clone() for k, v in trainer.unwrap("generator").state_dict().items()}
    z = torch.randn(8, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = trainer.unwrap("generator").eval()(z).images
    trainer.train()
    d_losses = [row["d_loss"] for row in trainer.log_history]
    assert sum(d_losses[-20:]) / 20 < sum(d_losses[:5]) / 5 - 0.2  # hinge D loss starts near 2
    g1 = trainer.unwrap("generator").state_dict()
    assert any(not torch.equal(g0[k], g1[k]) for k in g0 if g0[k].is_floating_point())
    with torch.no_grad():
        after = trainer.unwrap("generator").eval()(z).images
    assert (after - before).abs().mean() > 0.01
    # the run directory: both models load with AutoModel and give the trained model's outputs
    run = tmp_path / "run"
    for name in ("generator", "discriminator", "checkpoints", "samples", "README.md", "run_info.json",
                 "preprocessor_config.json", "log_history.jsonl"):
        assert (run / name).exists(), name
    g_loaded = AutoModel.from_pretrained(run / "generator").eval()
    assert torch.equal(g_loaded(z).images, after)
    d_loaded = AutoModel.from_pretrained(run)  # the run itself loads as its discriminator
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    trained = trainer.unwrap("discriminator").eval()(x).logits
    assert torch.allclose(d_loaded(x).logits, trained, rtol=1e-5, atol=1e-6)  # spectral norm: last-bit rounding
    assert "hf-nda train gan" in (run / "README.md").read_text()


def test_killed_run_resumes_to_identical_weights(tmp_path):
    common = TINY + ["--max_steps", "8", "--save_steps", "4", "--sample_steps", "0", "--nda", "jigsaw"]
    straight, resumed = kill_and_resume("gan", common, tmp_path, kill_after_step=4)  # right after the step-4 checkpoint
    assert_same_weights(straight, resumed, ("generator", "discriminator"))
    steps = [json.loads(line)["step"] for line in (tmp_path / "resumed" / "log_history.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8]  # streamed: the killed run's rows kept, the rest appended once


def test_two_process_cpu_run_trains_and_saves_once(tmp_path):
    out = tmp_path / "ddp"
    run_module([*TINY, "--max_steps", "4", "--save_steps", "2", "--output_dir", str(out)], processes=2)
    info = json.loads((out / "run_info.json").read_text())
    assert info["family"] == "gan" and info["num_processes"] == 2  # real gloo DDP, not two lone runs
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-0000002", "step-0000004"]
    assert len(list((out / "generator").glob("*.safetensors"))) == 1
    assert AutoModel.from_pretrained(out / "discriminator") is not None


def test_cli_entry_points_and_bad_flags(tmp_path, capsys):
    from hf_nda.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "gan", "--help"])
    assert exit_info.value.code == 0
    for flags, message in ((["--loss", "wgan"], "loss must be one of"), (["--nda", "swirl"], "unknown transform")):
        with pytest.raises(SystemExit) as exit_info:
            main(["train", "gan", "--output_dir", str(tmp_path), *flags])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.fixture
def fresh_accelerator_state():
    """Accelerate keeps one process-wide state (mixed precision included): reset it around a test
    that needs another precision than the rest of the suite."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def test_bf16_mixed_precision_with_gradient_accumulation(tmp_path, fresh_accelerator_state):
    args = NDAGANTrainingArguments(output_dir=str(tmp_path / "bf16"), dataset="digits", image_size=28, batch_size=16,
                                   g_channels=8, d_channels=8, latent_dim=16, d_steps=1, max_steps=3,
                                   mixed_precision="bf16", gradient_accumulation_steps=2, report_to="none",
                                   save_steps=0, sample_steps=0)
    trainer = NDAGANTrainer(args, argv=[])
    trainer.train()
    assert all(torch.isfinite(row["d_loss"] * torch.ones(1)).all() for row in trainer.log_history)
    weights = load_file(tmp_path / "bf16" / "generator" / "model.safetensors")
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
