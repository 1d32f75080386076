"""Bad inputs to the models, walked as tables: a config.json that disagrees with its weights is an
error at ``from_pretrained`` (never a randomly initialised model with a warning), and every forward
refuses wrong shapes, channels, dtypes, devices, labels and (in eval mode) NaN with a ValueError/TypeError
that names the argument — never a raw dtype error from a convolution or an IndexError from an embedding."""

import json
import logging
import shutil

import pytest
import torch
from transformers import AutoModel, AutoModelForImageClassification

import hf_nda  # noqa: F401  (registers the Auto classes)
from hf_nda import (AMRAutoencoder, AMRConfig, AMRDiscriminator, AMRDiscriminatorConfig, COPGenNavigator,
                    COPGenNavigatorConfig, ContrastiveEncoder, ContrastiveEncoderConfig,
                    ContrastiveEncoderForImageClassification, NDADiscriminator, NDADiscriminatorConfig, NDAGenerator,
                    NDAGeneratorConfig)

# ---- strict loading: the config must describe the weights ---------------------------------------------

SAVED = {  # name: (model factory, Auto class)
    "discriminator": (lambda: NDADiscriminator(NDADiscriminatorConfig(base_channels=8, num_classes=3)), AutoModel),
    "generator": (lambda: NDAGenerator(NDAGeneratorConfig(base_channels=8, latent_dim=16)), AutoModel),
    "amr": (lambda: AMRAutoencoder(AMRConfig(image_size=32, base_channels=4)), AutoModel),
    "amr_discriminator": (lambda: AMRDiscriminator(AMRDiscriminatorConfig(image_size=32, base_channels=4)), AutoModel),
    "encoder": (lambda: ContrastiveEncoder(ContrastiveEncoderConfig(backbone="resnet18", projection_dim=8)), AutoModel),
    "navigator": (lambda: COPGenNavigator(COPGenNavigatorConfig(latent_dim=16)), AutoModel),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved")
    torch.manual_seed(0)
    for name, (make, _) in SAVED.items():
        make().save_pretrained(root / name)
    return root


EDITED_CONFIGS = [
    # (id, saved model, config.json changes, message naming what disagrees)
    ("spectral norm off", "discriminator", {"spectral_norm": False}, "missing from the checkpoint.*downs.0.weight"),
    ("fewer classes", "discriminator", {"num_classes": 2}, r"another shape.*class_embed.*\(3, .*\) in the checkpoint"),
    ("no classes", "discriminator", {"num_classes": 0}, "has no place for.*class_embed"),
    ("wider", "discriminator", {"base_channels": 16}, "another shape"),
    ("another architecture", "discriminator", {"architecture": "resnet"}, "missing from the checkpoint.*blocks"),
    ("another model_type", "discriminator", {"model_type": "nda_generator"}, "weights of the NDAGenerator"),
    ("generator latent_dim", "generator", {"latent_dim": 32}, r"project.weight \(.*, 16\) in the checkpoint"),
    ("generator made conditional", "generator", {"num_classes": 10}, "missing from the checkpoint.*gain"),
    ("amr latent_channels", "amr", {"latent_channels": 4}, "another shape"),
    ("amr class mixer", "amr", {"num_classes": 3}, "missing from the checkpoint.*class_mixer"),
    ("amr discriminator sn off", "amr_discriminator", {"spectral_norm": False}, "missing from the checkpoint"),
    ("encoder projection", "encoder", {"projection_dim": 16}, "another shape.*head"),
    ("encoder claims fitted", "encoder", {"ood_num_fitted": 5}, "missing from the checkpoint.*ood_bank"),
    ("encoder backbone", "encoder", {"backbone": "resnet34"}, "missing from the checkpoint"),
    ("navigator linear", "navigator", {"navigator": "linear"}, "transform"),
    ("navigator latent_dim", "navigator", {"latent_dim": 8}, "another shape"),
]


def _edited(saved, tmp_path, name, changes):
    folder = tmp_path / name
    shutil.copytree(saved / name, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize("name,changes,message", [e[1:] for e in EDITED_CONFIGS], ids=[e[0] for e in EDITED_CONFIGS])
def test_a_config_edited_to_disagree_with_its_weights_is_an_error(saved, tmp_path, name, changes, message):
    folder = _edited(saved, tmp_path, name, changes)
    with pytest.raises(ValueError, match=message) as caught:
        AutoModel.from_pretrained(folder)
    text = str(caught.value)
    assert "does not hold the weights" in text and "Restore the config.json" in text and "strict=False" in text


def test_the_refusal_names_the_config_fields_and_holds_back_the_load_report(saved, tmp_path, caplog):
    folder = _edited(saved, tmp_path, "discriminator", {"spectral_norm": False})
    with caplog.at_level(logging.WARNING), pytest.raises(ValueError, match="spectral_norm"):
        NDADiscriminator.from_pretrained(folder)
    assert "LOAD REPORT" not in caplog.text


@pytest.mark.parametrize("name", list(SAVED))
def test_matching_configs_load_exactly_and_strict_false_loads_anyway(saved, tmp_path, name):
    model = AutoModel.from_pretrained(saved / name)
    reference = SAVED[name][0]().state_dict()
    assert model.state_dict().keys() == reference.keys()
    model, info = AutoModel.from_pretrained(saved / name, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    if name == "discriminator":
        folder = _edited(saved, tmp_path, name, {"spectral_norm": False})
        loose = AutoModel.from_pretrained(folder, strict=False)  # transformers' behaviour: warned, re-initialised
        assert not loose.config.spectral_norm


def test_an_encoder_checkpoint_still_loads_into_the_classifier_with_a_fresh_head(saved):
    clf = ContrastiveEncoderForImageClassification.from_pretrained(saved / "encoder", num_labels=4)
    assert clf.classifier.out_features == 4
    encoder = AutoModel.from_pretrained(saved / "encoder")
    torch.testing.assert_close(clf.backbone.conv1.weight, encoder.backbone.conv1.weight)
    assert type(AutoModelForImageClassification.from_pretrained(saved / "encoder", num_labels=4)).__name__ == \
        "ContrastiveEncoderForImageClassification"


# ---- forward inputs -------------------------------------------------------------------------------------

torch.manual_seed(0)
G = NDAGenerator(NDAGeneratorConfig(base_channels=8, latent_dim=16)).eval()
GC = NDAGenerator(NDAGeneratorConfig(base_channels=8, latent_dim=16, num_classes=3)).eval()
D = NDADiscriminator(NDADiscriminatorConfig(base_channels=8)).eval()
DC = NDADiscriminator(NDADiscriminatorConfig(base_channels=8, num_classes=3)).eval()
AE = AMRAutoencoder(AMRConfig(image_size=32, base_channels=4)).eval()
AEC = AMRAutoencoder(AMRConfig(image_size=32, base_channels=4, num_classes=3)).eval()
AD = AMRDiscriminator(AMRDiscriminatorConfig(image_size=32, base_channels=4)).eval()
ENC = ContrastiveEncoder(ContrastiveEncoderConfig(backbone="resnet18", projection_dim=8, ood_k=3)).eval()
CLF = ContrastiveEncoderForImageClassification(ContrastiveEncoderConfig(backbone="resnet18", num_labels=3)).eval()
NAV = COPGenNavigator(COPGenNavigatorConfig(latent_dim=16)).eval()

X = torch.zeros(2, 1, 32, 32)
Z = torch.zeros(2, 16)
NAN_X = torch.full((2, 1, 32, 32), float("nan"))

BAD_FORWARDS = [
    # (id, call, error, message naming the argument)
    ("G latents uint8", lambda: G(Z.to(torch.uint8)), ValueError, "latents must be a float tensor, got dtype torch.uint8"),
    ("G latents float64", lambda: G(Z.double()), ValueError, r"latents is torch.float64 .* latents.to\(model.dtype\)"),
    ("G latents list", lambda: G([[0.0] * 16]), ValueError, r"latents must be a torch.Tensor of shape \(N, 16\)"),
    ("G latents numpy", lambda: G(Z.numpy()), ValueError, "latents must be a torch.Tensor.*ndarray"),
    ("G latents wrong size", lambda: G(torch.zeros(2, 5)), ValueError, r"latents must have shape \(N, 16\)"),
    ("G latents 3-D", lambda: G(torch.zeros(2, 16, 1)), ValueError, r"latents must have shape \(N, 16\)"),
    ("G latents empty", lambda: G(torch.zeros(0, 16)), ValueError, "latents is an empty batch"),
    ("G latents NaN", lambda: G(torch.full((2, 16), float("nan"))), ValueError, "latents contain NaN"),
    ("G labels, unconditional", lambda: G(Z, labels=torch.tensor([0, 1])), ValueError, "unconditional.*labels"),
    ("GC labels missing", lambda: GC(Z), ValueError, "class-conditional.*pass labels"),
    ("GC labels out of range", lambda: GC(Z, labels=torch.tensor([0, 3])), ValueError, r"labels must be class ids in \[0, 3\)"),
    ("GC labels negative", lambda: GC(Z, labels=torch.tensor([-1, 0])), ValueError, r"got range \[-1, 0\]"),
    ("GC labels float", lambda: GC(Z, labels=torch.tensor([0.0, 1.0])), ValueError, r"labels must be integer.*labels.long\(\)"),
    ("GC labels wrong length", lambda: GC(Z, labels=torch.tensor([0, 1, 2])), ValueError, r"labels must have shape \(2,\)"),
    ("G generate n=0", lambda: G.generate(0), ValueError, "n must be a positive int"),
    ("G generate n=2.5", lambda: G.generate(2.5), ValueError, "n=2.5"),
    ("G generate generator=int", lambda: G.generate(2, generator=0), TypeError, "generator must be a torch.Generator"),
    ("G sample_latents n=-1", lambda: G.sample_latents(-1), ValueError, "n=-1"),
    ("GC generate labels out of range", lambda: GC.generate(2, labels=[5, 5]), ValueError, "labels must be class ids"),
    ("D uint8 images", lambda: D(X.to(torch.uint8)), ValueError, "pixel_values must be a float tensor.*NDAImageProcessor"),
    ("D float64", lambda: D(X.double()), ValueError, "pixel_values is torch.float64"),
    ("D 3-D", lambda: D(X[0]), ValueError, r"pixel_values must have shape \(N, 1, 32, 32\)"),
    ("D wrong channels", lambda: D(torch.zeros(2, 3, 32, 32)), ValueError, r"shape \(1, 32, 32\), got \(3, 32, 32\)"),
    ("D wrong size", lambda: D(torch.zeros(2, 1, 28, 28)), ValueError, "resize/convert them"),
    ("D empty", lambda: D(torch.zeros(0, 1, 32, 32)), ValueError, "pixel_values is an empty batch"),
    ("D NaN", lambda: D(NAN_X), ValueError, "pixel_values contain NaN"),
    ("D list", lambda: D([[0.0]]), ValueError, "pixel_values must be a torch.Tensor"),
    ("DC labels out of range", lambda: DC(X, labels=torch.tensor([0, 9])), ValueError, r"labels must be class ids in \[0, 3\)"),
    ("DC labels wrong length", lambda: DC(X, labels=torch.tensor([0])), ValueError, r"labels must have shape \(2,\)"),
    ("D labels, unconditional", lambda: D(X, labels=torch.tensor([0, 1])), ValueError, "unconditional"),
    ("AE uint8", lambda: AE(X.to(torch.uint8)), ValueError, "pixel_values must be a float tensor"),
    ("AE NaN", lambda: AE(NAN_X), ValueError, "pixel_values contain NaN"),
    ("AE wrong shape", lambda: AE(torch.zeros(2, 1, 16, 16)), ValueError, r"pixel_values must have shape \(N, 1, 32, 32\)"),
    ("AE labels without class mixer", lambda: AE(X, labels=torch.tensor([0, 1])), ValueError, "labels are for the class mixer"),
    ("AE k=2.5", lambda: AE(X, mixer="mixup", k=2.5), ValueError, r"k \(codes per mix\) must be an int"),
    ("AE k > batch", lambda: AE(X, mixer="mixup", k=3), ValueError, "cannot mix k=3 codes within a batch of 2"),
    ("AE unknown mixer", lambda: AE(X, mixer="swirl"), ValueError, "unknown mixer 'swirl'"),
    ("AE generator=int", lambda: AE(X, mixer="mixup", generator=1), TypeError, "generator must be a torch.Generator"),
    ("AE decode wrong channels", lambda: AE.decode(torch.zeros(2, 3, 4, 4)), ValueError, r"latents must have shape \(N, 2, 4, 4\)"),
    ("AE decode uint8", lambda: AE.decode(torch.zeros(2, 2, 4, 4, dtype=torch.uint8)), ValueError, "latents must be a float"),
    ("AE decode NaN", lambda: AE.decode(torch.full((2, 2, 4, 4), float("nan"))), ValueError, "latents contain NaN"),
    ("AE mix wrong code shape", lambda: AE.mix(torch.zeros(2, 2, 3, 4, 4)), ValueError, r"codes to mix must be \(k >= 2, N, 2, 4, 4\)"),
    ("AE mix ragged list", lambda: AE.mix([torch.zeros(2, 2, 4, 4), torch.zeros(3, 2, 4, 4)]), ValueError, "codes to mix"),
    ("AE mix weights not summing to one", lambda: AE.mix(torch.zeros(2, 2, 2, 4, 4), weights=[0.5, 0.6]), ValueError, "sum to one"),
    ("AE interpolate steps=1", lambda: AE.interpolate(X, X, steps=1), ValueError, "steps must be an int >= 2"),
    ("AE interpolate steps=2.5", lambda: AE.interpolate(X, X, steps=2.5), ValueError, "steps=2.5"),
    ("AE interpolate x2 a list", lambda: AE.interpolate(X, [0.0]), ValueError, "x2 must be a torch.Tensor"),
    ("AEC labels out of range", lambda: AEC(X, labels=torch.tensor([0, 7])), ValueError, r"class labels must be in \[0, 3\)"),
    ("AEC attributes wrong length", lambda: AEC(X, labels=torch.zeros(2, 5)), ValueError, "attribute vectors must have length 3"),
    ("AEC labels wrong count", lambda: AEC(X, labels=torch.tensor([0, 1, 2])), ValueError, "one row per image"),
    ("AD uint8", lambda: AD(X.to(torch.uint8)), ValueError, "pixel_values must be a float tensor"),
    ("AD NaN", lambda: AD(NAN_X), ValueError, "pixel_values contain NaN"),
    ("AD wrong channels", lambda: AD(torch.zeros(2, 3, 32, 32)), ValueError, r"pixel_values must have shape \(N, 1, 32, 32\)"),
    ("encoder uint8", lambda: ENC(X.to(torch.uint8)), ValueError, "pixel_values must be a float tensor.*num_channels=1"),
    ("encoder wrong channels", lambda: ENC(torch.zeros(2, 3, 32, 32)), ValueError, r"pixel_values must have shape \(N, 1, H, W\)"),
    ("encoder NaN", lambda: ENC(NAN_X), ValueError, "pixel_values contain NaN"),
    ("encoder not fitted", lambda: ENC.ood_scores(X), ValueError, "not fitted for OOD scoring"),
    ("encoder fit on 1", lambda: ENC.fit_ood(torch.zeros(1, 512)), ValueError, "at least 3 in-distribution features.*ood_k"),
    ("encoder fit on NaN", lambda: ENC.fit_ood(torch.full((5, 512), float("nan"))), ValueError, "finite"),
    ("encoder fit wrong size", lambda: ENC.fit_ood(torch.zeros(5, 7)), ValueError, r"features of shape \(N, 512\)"),
    ("encoder scores, wrong features", lambda: ENC.ood_scores_from_features(torch.zeros(2, 7)), ValueError, "not fitted"),
    ("classifier labels out of range", lambda: CLF(X, labels=torch.tensor([0, 3])), ValueError, r"class ids in \[0, 3\)"),
    ("classifier float labels", lambda: CLF(X, labels=torch.tensor([0.0, 1.0])), ValueError, "integer class ids"),
    ("navigator uint8", lambda: NAV(Z.to(torch.uint8)), ValueError, "latents must be float values"),
    ("navigator wrong size", lambda: NAV(torch.zeros(2, 7)), ValueError, r"batch of 16-number codes \(N, 16\)"),
    ("navigator 1-D", lambda: NAV(torch.zeros(16)), ValueError, "batch of 16-number codes"),
    ("navigator empty", lambda: NAV(torch.zeros(0, 16)), ValueError, r"\(N >= 1\)"),
    ("navigator NaN", lambda: NAV(torch.full((2, 16), float("nan"))), ValueError, "finite"),
    ("navigator float64", lambda: NAV(Z.double()), ValueError, "latents is torch.float64"),
    ("navigator generator=int", lambda: NAV(Z, generator=3), TypeError, "generator must be a torch.Generator"),
]


@pytest.mark.parametrize("call,error,message", [b[1:] for b in BAD_FORWARDS], ids=[b[0] for b in BAD_FORWARDS])
def test_bad_forward_inputs_name_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_fitted_encoder_refuses_features_of_another_size():
    enc = ContrastiveEncoder(ContrastiveEncoderConfig(backbone="resnet18", projection_dim=8, ood_k=3)).eval()
    enc.fit_ood(torch.randn(6, enc.feature_dim, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match=r"features must have shape \(N, 512\), got \(2, 7\)"):
        enc.ood_scores_from_features(torch.zeros(2, 7))


def test_nan_inputs_are_left_to_the_trainers_in_training_mode():
    """In train() mode a NaN input is not a model error: the trainers' divergence check reports it with the
    step (a forward would otherwise hide which step diverged)."""
    d = NDADiscriminator(NDADiscriminatorConfig(base_channels=8)).train()
    assert torch.isnan(d(NAN_X).logits).all()


def test_autocast_inputs_of_another_float_dtype_are_accepted():
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fake = G(Z).images
        assert D(fake.to(torch.bfloat16)).logits.shape == (2,)


def test_labels_as_lists_and_valid_inputs_still_work():
    assert GC.generate(2, labels=[0, 2], generator=torch.Generator().manual_seed(0)).shape == (2, 1, 32, 32)
    assert DC(X, labels=torch.tensor([0, 2], dtype=torch.int32)).logits.shape == (2,)
    assert AEC(X, labels=[0, 2]).latents.shape == (2, 2, 4, 4)
