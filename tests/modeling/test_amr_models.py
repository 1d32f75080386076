import pytest
import torch
from transformers import AutoModel

import hf_nda  # noqa: F401
from hf_nda import AMRAutoencoder, AMRConfig, AMRDiscriminator, AMRDiscriminatorConfig
from hf_nda.modeling.mixers import ClassMixer, bernoulli, mixup, no_mix
from hf_nda.modeling.modeling_amr import partner_indices
from tests.conftest import gen


def codes(k=2, n=6, c=4, seed=0):
    return torch.randn(k, n, c, 4, 4, generator=gen(seed))


def tiny_ae(**kwargs):
    return AMRAutoencoder(AMRConfig(image_size=16, base_channels=4, **kwargs)).eval()


def test_mixup_two_codes_is_eq4_with_uniform_alpha():
    h = codes()
    mixed, w = mixup(h, generator=gen(1))
    alpha = torch.rand(6, generator=gen(1))  # the same draw: α ~ U(0, 1) per mix
    assert torch.allclose(w[:, 0], alpha) and torch.allclose(w.sum(1), torch.ones(6))
    expected = alpha[:, None, None, None] * h[0] + (1 - alpha[:, None, None, None]) * h[1]
    assert torch.allclose(mixed, expected, atol=1e-6)


def test_mixup_k_codes_uses_dirichlet_weights_summing_to_one():
    h = codes(k=3, n=500)
    mixed, w = mixup(h, generator=gen(2))
    assert w.shape == (500, 3) and (w > 0).all() and torch.allclose(w.sum(1), torch.ones(500), atol=1e-5)
    assert torch.allclose(mixed, torch.einsum("nk,kn...->n...", w, h), atol=1e-5)
    assert torch.allclose(w.mean(0), torch.full((3,), 1 / 3), atol=0.04)  # Dirichlet(1, 1, 1) means
    assert w[:, 0].var() == pytest.approx(1 / 18, abs=0.015)  # Var of a Dirichlet(1,1,1) component: 2/(9·4)


def test_mixers_are_deterministic_under_a_seeded_generator():
    h = codes(k=3)
    for mixer in (mixup, bernoulli):
        a, wa = mixer(h, generator=gen(5))
        b, wb = mixer(h, generator=gen(5))
        assert torch.equal(a, b) and torch.equal(wa, wb)


def test_bernoulli_takes_every_feature_map_whole_from_one_input():
    h = codes(n=200, c=8)
    mixed, w = bernoulli(h, generator=gen(3))
    from_first = (mixed == h[0]).flatten(2).all(2)
    from_second = (mixed == h[1]).flatten(2).all(2)
    assert (from_first | from_second).all()
    # Eq. 5: m ~ Bernoulli(p) per feature map, p ~ U(0, 1) per mix: share from h1 tracks p
    assert torch.corrcoef(torch.stack([from_first.float().mean(1), w[:, 0]]))[0, 1] > 0.8


def test_bernoulli_with_fixed_probabilities_matches_them():
    h = codes(n=400, c=16)
    mixed, _ = bernoulli(h, weights=torch.tensor([0.25, 0.75]), generator=gen(4))
    share = (mixed == h[0]).flatten(2).all(2).float().mean()
    assert share == pytest.approx(0.25, abs=0.03)


def test_k_way_bernoulli_combines_all_k_codes():
    k, n, c = 4, 300, 8
    h = torch.arange(k, dtype=torch.float32).view(k, 1, 1, 1, 1).expand(k, n, c, 4, 4).contiguous()
    mixed, w = bernoulli(h, generator=gen(6))
    source = mixed[:, :, 0, 0]  # each feature map is constant: its value names the code it came from
    assert set(source.unique().tolist()) == set(range(k))
    assert torch.equal(mixed, source[:, :, None, None].expand_as(mixed))  # taken whole, never blended
    per_mix_sources = torch.tensor([len(row.unique()) for row in source])
    assert (per_mix_sources > 2).float().mean() > 0.3  # not just two of the k codes overwritten in turn


def test_none_mixer_returns_the_first_code_and_forward_reconstructs():
    h = codes()
    mixed, w = no_mix(h)
    assert torch.equal(mixed, h[0]) and torch.equal(w[:, 0], torch.ones(6))
    ae = tiny_ae()
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    out = ae(x, mixer="none")
    assert out.mixes is None and torch.equal(out.reconstructions, ae.decode(ae.encode(x)))


def test_bad_weights_and_k_give_clear_errors():
    h = codes(n=3)
    with pytest.raises(ValueError, match="sum to one"):
        mixup(h, weights=torch.tensor([0.7, 0.7]))
    with pytest.raises(ValueError, match="2 entries"):
        mixup(h, weights=torch.tensor([0.2, 0.3, 0.5]))
    with pytest.raises(ValueError, match="k must be between 2 and the batch size"):
        partner_indices(3, 4, gen(), "cpu")
    with pytest.raises(ValueError, match="k must be between"):
        tiny_ae()(torch.zeros(3, 1, 16, 16), mixer="mixup", k=5)


def test_partners_are_distinct_images():
    rows = partner_indices(10, 4, gen(0), "cpu")
    assert torch.equal(rows[0], torch.arange(10))
    assert all(len(set(rows[:, i].tolist())) == 4 for i in range(10))


def test_class_mixer_straight_through_gets_gradients_and_learns_a_toy_rule():
    torch.manual_seed(0)
    mixer = ClassMixer(num_classes=2, channels=4, hidden=16)
    target = torch.tensor([[1.0, 1, 0, 0], [0, 0, 1, 1]])  # class 0 wants maps 0-1 from h1, class 1 maps 2-3
    h1, h2 = torch.ones(64, 4, 4, 4), torch.zeros(64, 4, 4, 4)
    opt = torch.optim.Adam(mixer.parameters(), lr=1e-2)
    rng, losses = gen(0), []
    for _ in range(300):
        y = torch.randint(2, (64,), generator=rng)
        mixed = mixer.mix(h1, h2, torch.eye(2)[y], generator=rng)  # the mix holds the hard 0/1 mask
        loss = (mixed.mean((2, 3)) - target[y]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in mixer.parameters())
        opt.step()
        losses.append(float(loss.detach()))
    assert sum(losses[-20:]) / 20 < 0.05 < sum(losses[:20]) / 20
    assert (mixer(torch.eye(2)) - target).abs().max() < 0.2


def test_class_mix_in_forward_uses_soft_targets():
    ae = tiny_ae(num_classes=3)
    x = torch.rand(5, 1, 16, 16) * 2 - 1
    out = ae(x, labels=torch.tensor([0, 1, 2, 0, 1]), generator=gen(0))
    assert out.class_mixes.shape == x.shape
    assert torch.allclose(out.class_mix_targets.sum(1), torch.ones(5))
    with pytest.raises(ValueError, match="length 3"):
        ae(x, labels=torch.zeros(5, 4))
    with pytest.raises(ValueError, match="no class mixer"):
        tiny_ae().class_mix(out.latents, out.latents, torch.zeros(5, 3))


def test_interpolation_ends_at_the_reconstructions():
    ae = tiny_ae()
    x1, x2 = torch.rand(2, 3, 1, 16, 16, generator=gen(1)) * 2 - 1
    strip = ae.interpolate(x1, x2, steps=5)
    assert strip.shape == (3, 5, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(strip[:, 0], ae.decode(ae.encode(x1)), atol=1e-5)
        assert torch.allclose(strip[:, -1], ae.decode(ae.encode(x2)), atol=1e-5)


def test_shapes_and_bad_inputs():
    ae = tiny_ae(latent_channels=16)
    assert ae.config.bottleneck == 256
    assert ae.encode(torch.zeros(2, 1, 16, 16)).shape == (2, 16, 4, 4)
    x = torch.rand(2, 1, 16, 16, generator=gen(3))
    assert torch.equal(ae.get_image_features(x), ae(x).features)  # what probes read, without decoding
    with pytest.raises(ValueError, match=r"shape \(N, 1, 16, 16\)"):
        ae.encode(torch.zeros(2, 3, 16, 16))
    with pytest.raises(ValueError, match="latents must have shape"):
        ae.decode(torch.zeros(2, 2, 4, 4))


def test_save_load_gives_identical_outputs(tmp_path):
    ae = tiny_ae(num_classes=4)
    d = AMRDiscriminator(AMRDiscriminatorConfig(image_size=16, base_channels=4, num_classes=4))
    for _ in range(10):  # train-mode forwards run spectral norm's power iteration, as training does
        d(torch.rand(2, 1, 16, 16))
    d.eval()
    ae.save_pretrained(tmp_path / "ae")
    d.save_pretrained(tmp_path / "d")
    ae2, d2 = AutoModel.from_pretrained(tmp_path / "ae").eval(), AutoModel.from_pretrained(tmp_path / "d").eval()
    assert type(ae2) is AMRAutoencoder and type(d2) is AMRDiscriminator
    x = torch.rand(3, 1, 16, 16, generator=gen(2)) * 2 - 1
    with torch.no_grad():
        a, b = ae(x, mixer="bernoulli", generator=gen(7)), ae2(x, mixer="bernoulli", generator=gen(7))
        assert torch.equal(a.reconstructions, b.reconstructions) and torch.equal(a.mixes, b.mixes)
        assert torch.equal(ae.class_mixer(torch.eye(4)), ae2.class_mixer(torch.eye(4)))
        # spectral norm re-computes σ = uᵀWv on every call: equal up to float rounding
        assert torch.allclose(d(x).logits, d2(x).logits, rtol=1e-4, atol=1e-5)
        assert torch.allclose(d(x).class_logits, d2(x).class_logits, rtol=1e-4, atol=1e-5)


def test_docstring_examples_run():
    import doctest

    from hf_nda.modeling import configuration_amr, mixers, modeling_amr

    for module in (configuration_amr, mixers, modeling_amr):
        failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert tried > 0 and failures == 0, module.__name__
