"""COP-Gen: the navigator/estimator game over a frozen generator, δ, baselines, resume, export."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel

import hf_nda  # noqa: F401
from hf_nda import COPGenNavigator, COPGenNavigatorConfig
from hf_nda.trainers.copgen import COPGenTrainer, COPGenTrainingArguments
from tests.conftest import assert_same_weights, kill_and_resume


def copgen_args(out, generator, **kw):
    base = dict(output_dir=str(out), generator=str(generator), dataset="digits", batch_size=16, max_steps=4,
                eval_steps=2, eval_latents=64, report_to="none", save_steps=2, sample_steps=0, logging_steps=1)
    return COPGenTrainingArguments(**{**base, **kw})


def test_estimator_step_lowers_and_navigator_step_raises_the_info_nce(tiny_gan_run, tmp_path):
    trainer = COPGenTrainer(copgen_args(tmp_path, tiny_gan_run, navigator_lr=1e-2, estimator_lr=1e-3), argv=[])
    (z,) = trainer.batch(0)
    pairs = trainer.view_pairs(z, torch.Generator().manual_seed(0))
    estimator = trainer.unwrap("estimator")

    def current_info_nce():  # the same anchors, latents and view parameters, current models
        with torch.no_grad():
            positives = trainer.adapter.decode(trainer.unwrap("navigator")(z).positives)
            views = trainer.views.apply(positives, pairs["positive_params"])
            return float(trainer.info_nce(estimator, pairs["anchor_views"], views))

    trainer.unwrap("navigator").eval()  # centring by the running mean: the same offsets before and after
    before = current_info_nce()
    trainer.estimator_update(pairs)
    after_estimator = current_info_nce()
    trainer.navigator_update(pairs)
    after_navigator = current_info_nce()
    assert after_estimator < before  # f tightens the bound
    assert after_navigator > after_estimator  # T moves the positives so that f finds them harder
    assert all(p.grad is None for p in trainer.adapter.parameters())  # the generator stays frozen


def test_run_layout_card_and_reload(tiny_gan_run, tmp_path):
    trainer = COPGenTrainer(copgen_args(tmp_path / "run", tiny_gan_run), argv=[])
    trainer.train()
    run = tmp_path / "run"
    for name in ("navigator", "estimator", "checkpoints", "README.md", "config.json", "log_history.jsonl"):
        assert (run / name).exists(), name
    rows = [json.loads(line) for line in (run / "log_history.jsonl").open()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and "agreement" in rows[1]
    for key in ("offset_norm", "shared_offset_norm", "instance_offset_norm", "z_norm", "offset_vs_gaussian"):
        assert key in rows[-1]
    nav = AutoModel.from_pretrained(run).eval()
    assert isinstance(nav, COPGenNavigator) and nav.config.generator["kind"] == "nda_gan"
    z = torch.randn(5, nav.config.latent_dim)
    trained = trainer.unwrap("navigator").eval()
    assert torch.allclose(nav(z).positives, trained(z).positives)
    checkpoint = trainer.checkpoints()[-1]
    assert not any("generator" in k for k in load_file(checkpoint / "extra_state.safetensors"))  # frozen, pretrained
    card = (run / "README.md").read_text()
    assert "hf-nda train copgen" in card and "agreement" in card


@pytest.mark.parametrize("positive", ["gaussian", "none"])
def test_baselines_write_the_same_layout_without_training(tiny_gan_run, tmp_path, positive):
    trainer = COPGenTrainer(copgen_args(tmp_path / positive, tiny_gan_run, positive=positive), argv=[])
    trainer.train()
    nav = AutoModel.from_pretrained(tmp_path / positive)
    assert nav.config.positive == positive and not (tmp_path / positive / "checkpoints").exists()
    assert not (tmp_path / positive / "estimator").exists()
    z = torch.randn(64, nav.config.latent_dim)
    moved = (nav(z, generator=torch.Generator().manual_seed(0)).positives - z).norm(dim=1)
    if positive == "none":
        assert torch.equal(moved, torch.zeros(64))
    else:  # σ · truncnorm: about σ·√d
        assert moved.mean() == pytest.approx(0.2 * nav.config.latent_dim ** 0.5, rel=0.2)


def test_project_keeps_every_move_within_delta():
    nav = COPGenNavigator(COPGenNavigatorConfig(latent_dim=32, delta=0.5, center=False))
    with torch.no_grad():
        for p in nav.parameters():
            p.mul_(50)  # moves far beyond δ before the projection
    out = nav(torch.randn(128, 32))
    assert (out.raw_offsets.norm(dim=1) > 0.5).all()
    assert (out.offsets.norm(dim=1) <= 0.5 + 1e-5).all()
    monitored = COPGenNavigator(COPGenNavigatorConfig(latent_dim=32, delta=0.5, constraint="monitor"))
    monitored.load_state_dict(nav.state_dict())
    assert (monitored(torch.randn(8, 32)).offsets.norm(dim=1) > 0.5).any()  # the authors' behaviour: not enforced


def test_centring_removes_the_shared_offset():
    nav = COPGenNavigator(COPGenNavigatorConfig(latent_dim=16, delta=100.0))
    with torch.no_grad():
        nav.transform[2].bias.fill_(3.0)  # a move every z would share
    out = nav(torch.randn(64, 16))
    assert out.raw_offsets.mean(0).norm() > 10 and out.offsets.mean(0).norm() < 1e-4


def test_penalty_grows_beyond_delta(tiny_gan_run, tmp_path):
    trainer = COPGenTrainer(copgen_args(tmp_path, tiny_gan_run, constraint="penalty", delta=1.0), argv=[])
    inside, outside = torch.full((4, 16), 0.1), torch.full((4, 16), 1.0)  # norms 0.4 and 4
    assert float(trainer.delta_penalty(inside)) == 0.0
    assert float(trainer.delta_penalty(outside)) == pytest.approx(10.0 * (4.0 - 1.0) ** 2)


def test_killed_run_resumes_to_identical_weights(tiny_gan_run, tmp_path):
    flags = ["--generator", str(tiny_gan_run), "--dataset", "digits", "--batch_size", "16", "--max_steps", "6",
             "--save_steps", "3", "--eval_steps", "2", "--eval_latents", "64", "--min_agreement", "0.5",
             "--report_to", "none", "--sample_steps", "0", "--logging_steps", "1"]
    straight, resumed = kill_and_resume("copgen", flags, tmp_path, kill_after_step=4)
    assert_same_weights(straight, resumed, ("navigator", "estimator"))


def test_bad_arguments_get_clear_errors(tiny_gan_run, tmp_path):
    with pytest.raises(ValueError, match="--generator is required"):
        COPGenTrainingArguments(output_dir=str(tmp_path)).validate()
    with pytest.raises(ValueError, match="--positive must be one of"):
        copgen_args(tmp_path, tiny_gan_run, positive="random").validate()
    nav = COPGenNavigator(COPGenNavigatorConfig(latent_dim=16))
    with pytest.raises(ValueError, match="16-number codes"):
        nav(torch.randn(2, 15))


def test_amr_generator_gets_a_fitted_prior_kept_with_the_run(tmp_path):
    from hf_nda import AMRAutoencoder, AMRConfig

    AMRAutoencoder(AMRConfig(image_size=16, base_channels=4, latent_channels=1)).save_pretrained(tmp_path / "ae")
    trainer = COPGenTrainer(copgen_args(tmp_path / "run", tmp_path / "ae", max_steps=2, eval_steps=0), argv=[])
    trainer.train()
    assert (tmp_path / "run" / "generator_prior" / "latent_prior.safetensors").exists()
    nav = AutoModel.from_pretrained(tmp_path / "run")
    assert nav.config.generator["kind"] == "amr" and nav.config.generator["prior_source"].endswith("generator_prior")
    from hf_nda.modeling.generators import load_generator

    adapter = load_generator(**nav.config.generator)  # the navigator's folder is enough to generate again
    assert adapter.has_prior and adapter.sample_latents(3).shape == (3, 1, 4, 4)
