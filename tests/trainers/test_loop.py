"""The shared loop itself: sources, frozen models, schedules, export declared once."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hf_nda.data.batches import LatentSource, PairSource
from hf_nda.trainers.base import BaseTrainer
from tests.conftest import run_trainer_module
from tests.toy_trainers import LatentToyTrainer, PairToyTrainer, ToyArguments


def toy_args(tmp_path, **kw):
    return ToyArguments(output_dir=str(tmp_path), batch_size=16, report_to="none", sample_steps=0, logging_steps=1,
                        **{"max_steps": 60, "save_steps": 0, **kw})


def test_latent_source_is_seeded_truncated_and_rank_disjoint():
    a, b = LatentSource(latent_dim=8).bind(32, seed=3), LatentSource(latent_dim=8).bind(32, seed=3)
    assert torch.equal(a.batch(5)[0], b.batch(5)[0])  # a pure function of (seed, draw, rank)
    assert not torch.equal(a.batch(5)[0], a.batch(6)[0])
    other_rank = LatentSource(latent_dim=8).bind(32, seed=3, rank=1, world_size=2)
    assert not torch.equal(a.batch(5)[0], other_rank.batch(5)[0])
    assert a.batch(0)[0].abs().max() <= 2.0  # truncated to [-2, 2] (BigGAN / COP-Gen)
    custom = LatentSource(sample=lambda n, g: torch.ones(n, 3)).bind(4, seed=0)
    assert torch.equal(custom.batch(0)[0], torch.ones(4, 3))
    with pytest.raises(RuntimeError, match="bind"):
        LatentSource(latent_dim=2).batch(0)


def test_pair_source_keeps_pairs_together():
    anchors = torch.arange(10.0).view(10, 1, 1, 1)
    source = PairSource(anchors, anchors + 100).bind(4, seed=0)
    a, p = source.batch(3)
    assert torch.equal(p, a + 100)
    with pytest.raises(ValueError, match="one shape"):
        PairSource(anchors, anchors[:, :, :1, :1].expand(10, 2, 1, 1))


def test_latent_source_and_frozen_model_drive_a_trainer(tmp_path):
    trainer = LatentToyTrainer(toy_args(tmp_path, save_steps=30), argv=[])
    decoder = trainer.frozen_models["decoder"]
    before = {k: v.clone() for k, v in decoder.state_dict().items()}
    trainer.train()
    losses = [row["loss"] for row in trainer.log_history]
    assert sum(losses[-5:]) < 0.2 * sum(losses[:5])  # it learns through the frozen decoder
    assert not decoder.training and all(p.grad is None and not p.requires_grad for p in decoder.parameters())
    for k, v in decoder.state_dict().items():  # eval mode: not even BN running statistics move
        assert torch.equal(v, before[k]), k
    checkpoint = trainer.checkpoints()[-1]
    weights = load_file(checkpoint / "model.safetensors")
    assert sorted(tuple(v.shape) for v in weights.values()) == [(4,), (4, 16), (16,), (16, 4)]  # the mapper only
    assert len(list(checkpoint.glob("model*.safetensors"))) == 1
    assert not any("decoder" in k for k in load_file(checkpoint / "extra_state.safetensors"))


def test_pair_source_drives_a_contrastive_trainer(tmp_path):
    trainer = PairToyTrainer(toy_args(tmp_path, max_steps=40), argv=[])
    trainer.train()
    losses = [row["loss"] for row in trainer.log_history]
    assert sum(losses[-5:]) < 0.3 * sum(losses[:5])


def test_frozen_model_is_not_ddp_wrapped_in_two_processes(tmp_path):
    script = Path(__file__).parents[1] / "toy_trainers.py"
    env = {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    import os

    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
                           "127.0.0.1", "--master_port", "29541", str(script), str(tmp_path)],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for rank in (0, 1):
        seen = json.loads((tmp_path / f"rank-{rank}.json").read_text())
        assert seen["num_processes"] == 2
        assert seen["mapper_type"] == "DistributedDataParallel"  # the trained model is wrapped ...
        assert seen["decoder_type"] == "Sequential" and not seen["decoder_training"]  # ... the frozen one not
        assert not any(seen["decoder_grads"])


def test_schedule_learning_rate_after_kill_and_resume_equals_uninterrupted(tmp_path):
    common = ["--dataset", "digits", "--image_size", "28", "--batch_size", "8", "--g_channels", "8",
              "--d_channels", "8", "--latent_dim", "16", "--d_steps", "1", "--report_to", "none", "--logging_steps", "1",
              "--max_steps", "8", "--save_steps", "3", "--sample_steps", "0", "--lr_scheduler_type", "cosine",
              "--warmup_steps", "2"]
    run_trainer_module("gan", common + ["--output_dir", str(tmp_path / "straight")])
    killed = run_trainer_module("gan", common + ["--output_dir", str(tmp_path / "resumed")], kill_after_step=5,
                                check=False)
    assert killed.returncode == -9
    run_trainer_module("gan", common + ["--output_dir", str(tmp_path / "resumed")])

    def lrs(run):
        return [(row["step"], row["lr"]) for row in map(json.loads, (tmp_path / run / "log_history.jsonl").open())]

    straight = lrs("straight")
    assert straight == lrs("resumed")  # killed at 5, resumed from the step-3 checkpoint: same schedule
    assert straight[0][1] == pytest.approx(2e-4 / 2) and straight[-1][1] == pytest.approx(0.0, abs=1e-12)
    a = load_file(tmp_path / "straight" / "discriminator" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "discriminator" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_frozen_helper_stops_weight_gradients_but_not_input_gradients():
    from hf_nda.trainers.parameters import freeze

    net = torch.nn.Linear(3, 1)
    x = torch.randn(2, 3, requires_grad=True)
    with freeze(net):
        net(x).sum().backward()
    assert net.weight.grad is None and x.grad is not None and net.weight.requires_grad


def test_gan_generator_update_computes_no_discriminator_gradients(tmp_path):
    from hf_nda.trainers.gan import NDAGANTrainer, NDAGANTrainingArguments

    args = NDAGANTrainingArguments(output_dir=str(tmp_path), dataset="digits", image_size=28, batch_size=8,
                                   g_channels=8, d_channels=8, latent_dim=16, d_steps=1, report_to="none")
    trainer = NDAGANTrainer(args, argv=[])
    D, original, seen = trainer.unwrap("discriminator"), trainer.backward_and_step, {}

    def spy(name, loss_fn, micro):
        D.zero_grad(set_to_none=True)
        out = original(name, loss_fn, micro)
        seen[name] = [p.grad is not None for p in D.parameters()]
        return out

    trainer.backward_and_step = spy
    trainer.training_step(0, trainer.step_generator(0))
    assert all(seen["discriminator"])  # D's own update has its gradients ...
    assert not any(seen["generator"])  # ... G's update computes none of them
    assert all(p.requires_grad for p in D.parameters())  # and D is trainable again afterwards
    assert [p.grad is not None for p in trainer.unwrap("generator").parameters()] and isinstance(trainer, BaseTrainer)
