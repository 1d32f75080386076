import pytest
import torch
from transformers import AutoConfig, AutoModel

import hf_nda  # noqa: F401
from hf_nda import NDADiscriminator, NDADiscriminatorConfig, NDAGenerator, NDAGeneratorConfig
from tests.conftest import gen


@pytest.mark.parametrize("architecture", ["dcgan", "resnet"])
@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3), (64, 1)])
@pytest.mark.parametrize("num_classes", [0, 3])
def test_shapes_range_and_logits(architecture, size, channels, num_classes):
    common = dict(architecture=architecture, image_size=size, num_channels=channels, num_classes=num_classes,
                  base_channels=8)
    g = NDAGenerator(NDAGeneratorConfig(latent_dim=16, **common)).eval()
    d = NDADiscriminator(NDADiscriminatorConfig(**common))
    labels = torch.tensor([0, 2]) if num_classes else None
    images = g.generate(2, generator=gen(0), labels=labels)
    assert images.shape == (2, channels, size, size) and images.abs().max() <= 1
    out = d(images, labels=labels)
    assert out.logits.shape == (2,) and out.features.shape[0] == 2


def test_generate_is_seeded():
    g = NDAGenerator(NDAGeneratorConfig(base_channels=8)).eval()
    assert torch.equal(g.generate(3, generator=gen(1)), g.generate(3, generator=gen(1)))
    assert not torch.equal(g.generate(3, generator=gen(1)), g.generate(3, generator=gen(2)))


def test_conditional_labels_change_the_output():
    g = NDAGenerator(NDAGeneratorConfig(base_channels=8, num_classes=4)).eval()
    for p in g.parameters():  # make the class embeddings matter at init
        torch.nn.init.normal_(p, std=0.2)
    z = g.sample_latents(2, gen(3))
    a = g(z, labels=torch.tensor([0, 0])).images
    b = g(z, labels=torch.tensor([1, 1])).images
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("architecture", ["dcgan", "resnet"])
def test_save_then_auto_from_pretrained_gives_identical_outputs(tmp_path, architecture):
    g = NDAGenerator(NDAGeneratorConfig(architecture=architecture, base_channels=8)).eval()
    d = NDADiscriminator(NDADiscriminatorConfig(architecture=architecture, base_channels=8))
    for _ in range(10):  # train-mode forwards run spectral norm's power iteration, as training does
        d(torch.rand(2, 1, 32, 32))
    d.eval()
    g.save_pretrained(tmp_path / "g")
    d.save_pretrained(tmp_path / "d")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["config.json", "model.safetensors"]
    g2, d2 = AutoModel.from_pretrained(tmp_path / "g"), AutoModel.from_pretrained(tmp_path / "d")
    assert type(g2) is NDAGenerator and type(d2) is NDADiscriminator
    assert AutoConfig.from_pretrained(tmp_path / "d").model_type == "nda_discriminator"
    z = g.sample_latents(4, gen(4))
    assert torch.equal(g(z).images, g2(z).images)
    x = torch.rand(4, 1, 32, 32, generator=gen(5)) * 2 - 1
    # spectral norm divides by σ = uᵀWv on every call; the loaded copy's convolutions may round
    # differently in the last bits (seen with freshly loaded, memory-mapped weights)
    assert torch.allclose(d(x).logits, d2(x).logits, rtol=1e-5, atol=1e-6)


def test_spectral_norm_bounds_each_layer():
    d = NDADiscriminator(NDADiscriminatorConfig(base_channels=8)).train()
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    for _ in range(30):  # power iterations converge while training
        d(x)
    w = d.downs[1].weight.detach().flatten(1)
    assert torch.linalg.matrix_norm(w, ord=2) == pytest.approx(1.0, abs=0.05)
    plain = NDADiscriminator(NDADiscriminatorConfig(base_channels=8, spectral_norm=False))
    assert not hasattr(plain.downs[1], "parametrizations")


def test_bad_inputs_get_clear_errors():
    d = NDADiscriminator(NDADiscriminatorConfig(base_channels=8))
    with pytest.raises(ValueError, match=r"shape \(1, 32, 32\)"):
        d(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="NDAImageProcessor"):
        d(torch.zeros(1, 32, 32))
    with pytest.raises(ValueError, match="latents must have shape"):
        NDAGenerator(NDAGeneratorConfig(base_channels=8))(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="class-conditional"):
        NDADiscriminator(NDADiscriminatorConfig(base_channels=8, num_classes=3))(torch.zeros(2, 1, 32, 32))


def test_corrupt_weights_file_is_reported(tmp_path):
    NDADiscriminator(NDADiscriminatorConfig(base_channels=8)).save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match="corrupt or incomplete"):
        AutoModel.from_pretrained(tmp_path)
