"""Generator adapters for COP-Gen: the contract on all three kinds, and what each kind promises."""

import json
import shutil
import warnings

import pytest
import torch

import hf_nda  # noqa: F401
from hf_nda import AMRAutoencoder, AMRConfig, NDADiscriminator, NDADiscriminatorConfig, NDAGenerator, NDAGeneratorConfig
from hf_nda.modeling.generators import (PRIOR_FILE, AMRGeneratorAdapter, DDIMGeneratorAdapter,
                                                NDAGeneratorAdapter, detect_generator_kind, load_generator)
from tests.conftest import gen

KINDS = ["nda_gan", "amr", "ddim"]
DDIM_STEPS = 10  # decode steps in the generic tests (inversion tests use more)


def tiny_unet(num_class_embeds=None, seed=0):
    from diffusers import UNet2DModel

    torch.manual_seed(seed)
    return UNet2DModel(sample_size=8, in_channels=3, out_channels=3, block_out_channels=(8, 16), layers_per_block=1,
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       norm_num_groups=4, add_attention=False, num_class_embeds=num_class_embeds)


def save_diffusers(folder, unet, num_train_timesteps):
    """diffusers' own layout (model_index.json, unet/, scheduler/) with a DDPM scheduler config, as
    google/ddpm-cifar10-32 ships."""
    from diffusers import DDPMPipeline, DDPMScheduler

    DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=num_train_timesteps)).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """One saved tiny model per kind, plus the run-directory layouts."""
    root = tmp_path_factory.mktemp("generators")
    torch.manual_seed(0)
    g = NDAGenerator(NDAGeneratorConfig(image_size=28, base_channels=8, latent_dim=16))
    g.save_pretrained(root / "nda")
    NDADiscriminator(NDADiscriminatorConfig(image_size=28, base_channels=8)).save_pretrained(root / "gan_run")
    g.save_pretrained(root / "gan_run" / "generator")  # a GAN run: discriminator at the top, generator/ below
    cond = NDAGenerator(NDAGeneratorConfig(image_size=28, base_channels=8, latent_dim=16, num_classes=3))
    for p in cond.parameters():  # make the class embeddings matter at init
        torch.nn.init.normal_(p, std=0.2)
    cond.save_pretrained(root / "nda_cond")
    ae = AMRAutoencoder(AMRConfig(image_size=16, base_channels=4, latent_channels=2))
    ae.save_pretrained(root / "amr")
    ae.save_pretrained(root / "amr_run" / "autoencoder")  # an AMR run without its top-level copy
    # A random UNet does not predict ε ≈ x_T at high noise, so with DDPM's 1000-step schedule
    # (ᾱ_T ≈ 4e-5) its x̂_0 = (x_T − √(1−ᾱ)ε)/√ᾱ reaches ~700 and every pixel clamps; a 100-step
    # schedule (ᾱ_T ≈ 0.37) keeps samples within a few units, about half the pixels inside [-1, 1].
    save_diffusers(root / "ddim", tiny_unet(), num_train_timesteps=100)
    save_diffusers(root / "ddim_1000", tiny_unet(), num_train_timesteps=1000)
    save_diffusers(root / "ddim_cond", tiny_unet(num_class_embeds=3), num_train_timesteps=100)
    (root / "empty").mkdir()
    return root


def load(folders, kind, **kwargs):
    name = {"nda_gan": "nda", "amr": "amr", "ddim": "ddim"}[kind]
    if kind == "ddim":
        kwargs.setdefault("num_inference_steps", DDIM_STEPS)
    adapter = load_generator(folders / name, **kwargs)
    if kind == "amr" and not adapter.has_prior:
        adapter.fit_prior(torch.rand(256, 1, 16, 16, generator=gen(9)) * 2 - 1)
    return adapter


# ---- the contract, on every kind ---------------------------------------------------------------------
@pytest.mark.parametrize("name, kind, latent_shape, size, channels, has_encoder", [
    ("nda", "nda_gan", (16,), 28, 1, False),
    ("gan_run", "nda_gan", (16,), 28, 1, False),
    ("amr", "amr", (2, 4, 4), 16, 1, True),
    ("amr_run", "amr", (2, 4, 4), 16, 1, True),
    ("ddim", "ddim", (3, 8, 8), 8, 3, True),
])
def test_load_by_folder_detects_the_kind_and_freezes_the_generator(folders, name, kind, latent_shape, size,
                                                                    channels, has_encoder):
    assert detect_generator_kind(folders / name) == kind
    adapter = load_generator(str(folders / name))
    assert (adapter.kind, adapter.source, adapter.latent_shape) == (kind, str(folders / name), latent_shape)
    assert (adapter.image_size, adapter.num_channels, adapter.has_encoder) == (size, channels, has_encoder)
    assert isinstance(adapter, torch.nn.Module) and adapter.latent_dim == torch.Size(latent_shape).numel()
    assert not any(p.requires_grad for p in adapter.parameters())
    assert not any(m.training for m in adapter.model.modules())
    adapter.train()  # a trainer's model.train() must not switch the frozen generator to batch statistics
    assert adapter.training and not any(m.training for m in adapter.model.modules())


@pytest.mark.parametrize("kind", KINDS)
def test_decode_gives_images_and_gradients_to_z_only(folders, kind):
    adapter = load(folders, kind)
    z = adapter.sample_latents(3, generator=gen(1)).requires_grad_()
    x = adapter.decode(z)
    size = adapter.image_size
    assert x.shape == (3, adapter.num_channels, size, size) and x.abs().max() <= 1
    assert ((x > -1) & (x < 1)).float().mean() > 0.3  # not saturated: the gradient test below means something
    (x * torch.randn(x.shape, generator=gen(2))).sum().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    assert all(p.grad is None for p in adapter.parameters())


@pytest.mark.parametrize("kind", KINDS)
def test_sample_latents_is_seeded_on_the_generators_device_and_truncated_when_asked(folders, kind):
    adapter = load(folders, kind)
    a, b = adapter.sample_latents(64, generator=gen(3)), adapter.sample_latents(64, generator=gen(3))
    assert torch.equal(a, b) and not torch.equal(a, adapter.sample_latents(64, generator=gen(4)))
    assert a.shape == (64, *adapter.latent_shape) and a.device.type == "cpu"
    assert adapter.sample_latents(2).shape == (2, *adapter.latent_shape)  # no generator: the global RNG
    truncated = load(folders, kind, truncation=0.5)
    assert truncated.truncation == 0.5
    eps, eps_plain = (whitened(truncated, truncated.sample_latents(4096, generator=gen(5))),
                      whitened(adapter, adapter.sample_latents(4096, generator=gen(5))))
    assert eps.abs().max() <= 0.5 + 1e-4 < eps_plain.abs().max()
    assert eps.std() == pytest.approx(0.28, abs=0.02)  # std of N(0, 1) truncated to ±0.5: 0.2848
    assert eps_plain.std() == pytest.approx(1.0, abs=0.05)


def whitened(adapter, z):
    """The standard-normal draw behind a prior sample (AMR: ε = L⁻¹(z − mean))."""
    if adapter.kind != "amr":
        return z
    centred = (z.flatten(1) - adapter.prior_mean).T
    return torch.linalg.solve_triangular(adapter.prior_scale_tril, centred, upper=False).T


@pytest.mark.parametrize("kind", KINDS)
def test_describe_then_load_generator_gives_the_same_generator(folders, kind, tmp_path):
    adapter = load(folders, kind, truncation=2.0)
    if kind == "amr":
        adapter.save_prior(tmp_path)  # the prior travels with the description
    description = adapter.describe()
    assert json.loads(json.dumps(description)) == description  # a navigator config can store it
    assert {k: description[k] for k in ("kind", "source", "latent_shape", "truncation")} == {
        "kind": kind, "source": adapter.source, "latent_shape": list(adapter.latent_shape), "truncation": 2.0}
    again = load_generator(**description)
    z = adapter.sample_latents(2, generator=gen(6))
    assert torch.equal(again.sample_latents(2, generator=gen(6)), z)
    assert torch.equal(again.decode(z), adapter.decode(z))


@pytest.mark.parametrize("kind", KINDS)
def test_bad_latents_and_images_get_clear_errors(folders, kind):
    adapter = load(folders, kind)
    shape = ", ".join(map(str, adapter.latent_shape))
    with pytest.raises(ValueError, match=rf"latents must have shape \(N, {shape}\)"):
        adapter.decode(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="float tensor"):
        adapter.decode([[0.0] * 16])
    with pytest.raises(ValueError, match="positive int"):
        adapter.sample_latents(0)
    with pytest.raises(ValueError, match="truncation must be None or a positive number"):
        adapter.truncation = -1
    with pytest.raises(ValueError, match="unconditional"):
        adapter.decode(adapter.sample_latents(1), labels=0)
    s, c = adapter.image_size, adapter.num_channels
    if not adapter.has_encoder:
        with pytest.raises(ValueError, match="has no encode: a GAN generator has no inverse"):
            adapter.encode(torch.zeros(1, c, s, s))
        return
    with pytest.raises(ValueError, match=rf"encodes images of shape \(N, {c}, {s}, {s}\), got \(1, {c}, {s + 1}"):
        adapter.encode(torch.zeros(1, c, s + 1, s + 1))
    with pytest.raises(ValueError, match="encodes images of shape"):
        adapter.encode(torch.zeros(1, c + 1, s, s))
    with pytest.raises(ValueError, match="float tensor"):
        adapter.encode(torch.zeros(1, c, s, s, dtype=torch.uint8))


def test_load_generator_refuses_the_wrong_kind_shape_or_source(folders):
    with pytest.raises(ValueError, match="holds no amr generator; it holds a nda_gan one: pass kind='nda_gan'"):
        load_generator(folders / "nda", kind="amr")
    with pytest.raises(ValueError, match="unknown generator kind 'gan'"):
        load_generator(folders / "nda", kind="gan")
    with pytest.raises(ValueError, match=r"latent shape \(16,\), but \(128,\) was expected"):
        load_generator(folders / "nda", latent_shape=[128])
    with pytest.raises(ValueError, match="found no generator at .*the local folder"):
        load_generator(folders / "empty")
    with pytest.raises(ValueError, match="found no generator at 'nobody/nothing'.*not a local folder"):
        load_generator("nobody/nothing")  # offline in the tests: nothing can be read
    with pytest.raises(ValueError, match="is not a folder"):
        load_generator(str(folders / "missing" / "folder"))
    with pytest.raises(ValueError, match="neither a local folder nor a readable Hub repo id"):
        load_generator("not a repo/id")
    with pytest.raises(TypeError, match="num_inference_steps"):
        load_generator(folders / "nda", num_inference_steps=5)


@pytest.mark.parametrize("kind", KINDS)
def test_load_by_repo_id_from_the_hub_cache(folders, kind, tmp_path):
    """A repo id resolves through huggingface_hub (here its cache, offline), as with HF_ENDPOINT."""
    local = load(folders, kind)
    name = {"nda_gan": "gan_run", "amr": "amr", "ddim": "ddim"}[kind]
    if kind == "amr":
        local.save_prior(tmp_path / "prior")
        shutil.copy(tmp_path / "prior" / PRIOR_FILE, folders / "amr_repo_prior.safetensors")
    repo_id = f"hf-nda-test/tiny-{kind}"
    snapshot = tmp_path / "hub" / f"models--{repo_id.replace('/', '--')}" / "snapshots" / ("0" * 40)
    shutil.copytree(folders / name, snapshot)
    if kind == "amr":
        shutil.copy(tmp_path / "prior" / PRIOR_FILE, snapshot / PRIOR_FILE)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    hub = {"cache_dir": str(tmp_path / "hub"), "local_files_only": True}
    assert detect_generator_kind(repo_id, **hub) == kind
    adapter = load_generator(repo_id, **hub, **({"num_inference_steps": DDIM_STEPS} if kind == "ddim" else {}))
    assert adapter.source == repo_id and adapter.describe()["source"] == repo_id
    z = adapter.sample_latents(2, generator=gen(7))
    assert torch.equal(z, local.sample_latents(2, generator=gen(7)))  # AMR: the prior came from the repo
    assert torch.equal(adapter.decode(z), local.decode(z))


# ---- NDA-GAN ---------------------------------------------------------------------------------------
def test_nda_decode_is_the_generator_and_has_no_encoder(folders):
    adapter = load_generator(folders / "nda")
    g = NDAGenerator.from_pretrained(folders / "nda").eval()
    z = torch.randn(4, 16, generator=gen(8))
    assert torch.equal(adapter.decode(z), g(z).images)
    assert adapter(z).shape == (4, 1, 28, 28)  # forward = decode


def test_conditional_nda_generator_takes_a_label_at_load_or_per_call(folders):
    with pytest.raises(ValueError, match="class-conditional .* class_label=K .* labels="):
        load_generator(folders / "nda_cond").decode(torch.zeros(1, 16))
    adapter = load_generator(folders / "nda_cond", class_label=2)
    assert adapter.describe()["class_label"] == 2
    z = adapter.sample_latents(3, generator=gen(9))
    g = NDAGenerator.from_pretrained(folders / "nda_cond").eval()
    assert torch.equal(adapter.decode(z), g(z, labels=torch.full((3,), 2)).images)
    per_call = adapter.decode(z, labels=torch.tensor([0, 1, 2]))
    assert torch.equal(per_call, g(z, labels=torch.tensor([0, 1, 2])).images)
    assert not torch.allclose(adapter.decode(z, labels=0), adapter.decode(z))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        adapter.decode(z, labels=5)
    with pytest.raises(ValueError, match="one int or 3 ints"):
        adapter.decode(z, labels=[0, 1])
    with pytest.raises(ValueError, match=r"class_label must be an int in \[0, 3\)"):
        load_generator(folders / "nda_cond", class_label=3)
    with pytest.raises(ValueError, match="unconditional"):
        load_generator(folders / "nda", class_label=0)


# ---- AMR -------------------------------------------------------------------------------------------
def test_amr_decode_of_encode_is_the_autoencoders_reconstruction(folders):
    adapter = load_generator(folders / "amr")
    ae = AMRAutoencoder.from_pretrained(folders / "amr").eval()
    x = torch.rand(5, 1, 16, 16, generator=gen(10)) * 2 - 1
    reconstructions = ae(x).reconstructions
    assert torch.equal(adapter.encode(x), ae.encode(x))
    assert torch.equal(adapter.decode(adapter.encode(x), clamp=False), reconstructions)
    assert torch.equal(adapter.decode(adapter.encode(x)), reconstructions.clamp(-1, 1))  # images in [-1, 1]


def test_amr_prior_is_the_gaussian_of_the_codes_and_persists(folders, tmp_path):
    adapter = load_generator(folders / "amr")
    with pytest.raises(ValueError, match="no latent prior yet: call adapter.fit_prior"):
        adapter.sample_latents(2)
    x = torch.rand(300, 1, 16, 16, generator=gen(11)) * 2 - 1
    codes = adapter.encode(x).flatten(1).double()
    adapter.fit_prior(x, batch_size=64)
    cov = adapter.prior_scale_tril.double() @ adapter.prior_scale_tril.double().T
    torch.testing.assert_close(adapter.prior_mean.double(), codes.mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(cov, torch.cov(codes.T), rtol=1e-4, atol=1e-6)
    streamed = load_generator(folders / "amr").fit_prior([(b, None) for b in x.split(100)])  # batches of a loader
    torch.testing.assert_close(streamed.prior_scale_tril, adapter.prior_scale_tril)
    z = adapter.sample_latents(20000, generator=gen(12)).flatten(1).double()  # z = mean + L ε, one matmul
    assert (z.mean(0) - codes.mean(0)).abs().max() < 0.05 * codes.std(0).max()
    assert (torch.cov(z.T) - torch.cov(codes.T)).abs().max() < 0.05 * torch.cov(codes.T).abs().max()

    with pytest.warns(UserWarning, match="not saved"):
        assert adapter.describe()["prior_source"] is None
    folder = tmp_path / "amr_copy"
    shutil.copytree(folders / "amr", folder)
    reloaded = load_generator(folder)
    assert not reloaded.has_prior
    adapter.source = str(folder)
    assert adapter.save_prior() == folder / PRIOR_FILE  # default: next to the model
    reloaded = load_generator(folder)
    assert reloaded.has_prior and reloaded.describe()["prior_source"] == str(folder)
    assert torch.equal(reloaded.prior_scale_tril, adapter.prior_scale_tril)
    assert torch.equal(reloaded.sample_latents(3, generator=gen(13)), adapter.sample_latents(3, generator=gen(13)))
    with pytest.raises(ValueError, match=f"no {PRIOR_FILE} at"):
        load_generator(folders / "amr", prior_source=folders / "empty")
    with pytest.raises(ValueError, match="is not a folder"):
        load_generator(folders / "amr", prior_source=tmp_path / "nowhere")
    from safetensors.torch import save_file

    save_file({"mean": torch.zeros(8), "scale_tril": torch.eye(8)}, str(tmp_path / "other_prior.safetensors"))
    with pytest.raises(ValueError, match=r"not a latent prior of this generator \(latent_dim 32\)"):
        load_generator(folders / "amr", prior_source=tmp_path / "other_prior.safetensors")


def test_amr_prior_with_fewer_images_than_latent_numbers_warns_and_stays_usable(folders):
    adapter = load_generator(folders / "amr")
    with pytest.warns(UserWarning, match="covariance is singular"):
        adapter.fit_prior(torch.rand(8, 1, 16, 16, generator=gen(14)) * 2 - 1)  # 8 codes, 32 numbers each
    assert torch.isfinite(adapter.sample_latents(4, generator=gen(15))).all()
    with pytest.raises(ValueError, match="at least 2 images"):
        adapter.fit_prior(torch.rand(1, 1, 16, 16))
    with pytest.raises(ValueError, match="encodes images of shape"):
        adapter.fit_prior(torch.rand(4, 3, 16, 16))


# ---- DDIM ------------------------------------------------------------------------------------------
def test_ddim_scheduler_is_deterministic_trailing_ddim_from_a_ddpm_config(folders):
    from diffusers import DDIMInverseScheduler, DDIMScheduler

    adapter = load_generator(folders / "ddim_1000", num_inference_steps=10)  # google/ddpm-cifar10-32's schedule
    s = adapter.scheduler
    assert type(s) is DDIMScheduler and type(adapter.inverse_scheduler) is DDIMInverseScheduler
    assert (s.config.clip_sample, s.config.timestep_spacing, s.config.thresholding) == (False, "trailing", False)
    assert s.timesteps.tolist() == list(range(999, 0, -100))
    assert adapter.inverse_scheduler.timesteps.tolist() == list(range(99, 1000, 100))
    adapter.num_inference_steps = 20
    assert len(s.timesteps) == len(adapter.inverse_scheduler.timesteps) == 20
    assert adapter.describe()["num_inference_steps"] == 20
    with pytest.raises(ValueError, match=r"num_inference_steps must be an int in \[1, 1000\]"):
        adapter.num_inference_steps = 1001


def test_ddim_decode_is_what_diffusers_ddim_pipeline_samples(folders):
    from diffusers import DDIMPipeline

    adapter = load_generator(folders / "ddim", num_inference_steps=20)
    pipe = DDIMPipeline(unet=adapter.unet, scheduler=adapter.scheduler)
    pipe.set_progress_bar_config(disable=True)
    expected = pipe(batch_size=3, generator=gen(16), eta=0.0, num_inference_steps=20, output_type="pt").images
    z = adapter.sample_latents(3, generator=gen(16))  # the same x_T the pipeline drew
    ours = (adapter.decode(z) + 1) / 2  # the pipeline returns [0, 1] images, NHWC-free with output_type="pt"
    assert ((expected > 0) & (expected < 1)).float().mean() > 0.3
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-5)


def test_ddim_inversion_reconstructs_the_sample(folders):
    """decode(encode(decode(z))) ≈ decode(z). DDIM inversion evaluates ε at the less noisy end of each
    step, so its error is first order in the step size. Measured on this tiny UNet (100-step schedule,
    raw outputs up to |x| ≈ 5.4), max |error| over 4 samples: 0.079 / 0.039 / 0.032 / 0.016 / 0.0079 at
    10 / 20 / 25 / 50 / 100 steps (mean |error| 0.0033 at 50 steps)."""
    errors = {}
    for steps in (25, 50):
        adapter = load_generator(folders / "ddim", num_inference_steps=steps)
        with torch.no_grad():
            x = adapter.decode(adapter.sample_latents(4, generator=gen(17)), clamp=False)
            errors[steps] = (adapter.decode(adapter.encode(x), clamp=False) - x).abs().max().item()
    assert errors[50] < 0.03  # tolerance: the measured 0.016 with headroom
    assert errors[50] < 0.6 * errors[25]  # halving the step size roughly halves the error


def test_ddim_gradient_checkpointing_gives_the_same_gradient(folders):
    adapter = load_generator(folders / "ddim", num_inference_steps=5)
    checkpointed = load_generator(folders / "ddim", num_inference_steps=5, gradient_checkpointing=True)
    z = adapter.sample_latents(2, generator=gen(18))
    grads = []
    for a in (adapter, checkpointed):
        zz = z.clone().requires_grad_()
        a.decode(zz).square().sum().backward()
        grads.append(zz.grad)
    torch.testing.assert_close(grads[0], grads[1])
    assert grads[0].abs().sum() > 0 and all(p.grad is None for p in checkpointed.parameters())


def test_conditional_ddim_takes_class_labels(folders):
    adapter = load_generator(folders / "ddim_cond", num_inference_steps=4)
    z = adapter.sample_latents(2, generator=gen(19))
    with pytest.raises(ValueError, match="class-conditional"):
        adapter.decode(z)
    adapter.class_label = 1
    assert torch.equal(adapter.decode(z), adapter.decode(z, labels=torch.tensor([1, 1])))
    assert not torch.allclose(adapter.decode(z), adapter.decode(z, labels=2))
    again = load_generator(**adapter.describe())
    assert again.class_label == 1 and torch.equal(again.decode(z), adapter.decode(z))


def test_ddim_rejects_other_diffusers_layouts(folders, tmp_path):
    folder = tmp_path / "latent_diffusion"
    shutil.copytree(folders / "ddim", folder)
    index = json.loads((folder / "model_index.json").read_text())
    (folder / "model_index.json").write_text(json.dumps({**index, "unet": ["diffusers", "UNet2DConditionModel"]}))
    with pytest.raises(ValueError, match="holds a UNet2DConditionModel; the DDIM adapter samples a pixel-space"):
        load_generator(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the adapter itself warns about nothing here
        assert isinstance(load_generator(folders / "ddim"), DDIMGeneratorAdapter)
    assert isinstance(load_generator(folders / "amr"), AMRGeneratorAdapter)
    assert isinstance(load_generator(folders / "nda"), NDAGeneratorAdapter)
