"""A diffusers ``UNet2DModel`` sampled with deterministic DDIM, behind the :class:`GeneratorAdapter`
contract: the latent is the initial noise x_T, ``decode`` runs the DDIM chain with gradients
(``DDIMPipeline.__call__`` runs under ``no_grad``), ``encode`` is DDIM inversion.

Each step is diffusers' own ``DDIMScheduler.step`` (η = 0) / ``DDIMInverseScheduler.step``, so the
update is the library's DDIM, not a copy of it; only the loop around the UNet is ours. Note that
``step`` goes from timestep t to ``t - num_train_timesteps // num_inference_steps``: choose
``num_inference_steps`` dividing ``num_train_timesteps`` for an exactly even "trailing" spacing.
"""

from __future__ import annotations

import torch
from torch.utils.checkpoint import checkpoint

from .base import GeneratorAdapter, read_json, split_hub_kwargs

SCHEDULER_OVERRIDES = {"clip_sample": False, "timestep_spacing": "trailing"}  # + thresholding off (forward only)


class DDIMGeneratorAdapter(GeneratorAdapter):
    """A pixel-space diffusion model as a frozen COP-Gen generator: z = x_T ~ N(0, I) of shape
    (C, H, W), ``decode(z)`` = deterministic DDIM (η = 0, no clipping of x̂_0, "trailing" spacing,
    ``num_inference_steps`` steps), ``encode(x)`` = DDIM inversion over the same steps (approximate:
    it evaluates the UNet at the less noisy sample of each step).

    Loads a folder in diffusers' layout (``model_index.json``, ``unet/``, ``scheduler/``, as
    ``google/ddpm-cifar10-32`` ships) or its repo id; the scheduler config may be a DDPM one, it is
    rebuilt as ``DDIMScheduler.from_config``. ``gradient_checkpointing=True`` recomputes every UNet
    call in the backward pass (memory of one step instead of all steps).

    Example:
        >>> repo = "google/ddpm-cifar10-32"
        >>> adapter = DDIMGeneratorAdapter.from_pretrained(repo, num_inference_steps=20)  # doctest: +SKIP
        >>> z = adapter.sample_latents(4, generator=torch.Generator().manual_seed(0))  # doctest: +SKIP
        >>> x = adapter.decode(z)  # (4, 3, 32, 32), differentiable w.r.t. z  # doctest: +SKIP
        >>> z_back = adapter.encode(x)  # ≈ z  # doctest: +SKIP
    """

    kind = "ddim"
    has_encoder = True

    def __init__(self, unet, scheduler_config, source: str = "", truncation: float | None = None,
                 num_inference_steps: int = 50, gradient_checkpointing: bool = False,
                 class_label: int | None = None, revision: str | None = None):
        from diffusers import DDIMInverseScheduler, DDIMScheduler, UNet2DModel

        if not isinstance(unet, UNet2DModel):
            raise ValueError(f"DDIMGeneratorAdapter wraps a diffusers UNet2DModel, got {type(unet).__name__}")
        c = unet.config
        if c.in_channels != c.out_channels:
            raise ValueError(f"the UNet maps {c.in_channels} channels to {c.out_channels}; only models predicting "
                             "one tensor of the input's shape (ε, x_0 or v) are supported")
        if unet.class_embedding is not None and not c.num_class_embeds:
            raise ValueError(f"class_embed_type={c.class_embed_type!r} UNets are not supported (only num_class_embeds)")
        height, width = (c.sample_size, c.sample_size) if isinstance(c.sample_size, int) else tuple(c.sample_size)
        super().__init__(unet, source, (c.in_channels, height, width), height if height == width else (height, width),
                         c.out_channels, truncation, num_classes=c.num_class_embeds or 0, class_label=class_label,
                         revision=revision)
        self.scheduler = DDIMScheduler.from_config(scheduler_config, thresholding=False, **SCHEDULER_OVERRIDES)
        self.inverse_scheduler = DDIMInverseScheduler.from_config(scheduler_config, **SCHEDULER_OVERRIDES)
        self.num_inference_steps = num_inference_steps
        self.gradient_checkpointing = gradient_checkpointing

    @property
    def unet(self):
        return self.model

    @property
    def num_inference_steps(self) -> int:
        return self._num_inference_steps

    @num_inference_steps.setter
    def num_inference_steps(self, steps: int):
        limit = self.scheduler.config.num_train_timesteps
        if not isinstance(steps, int) or not 1 <= steps <= limit:
            raise ValueError(f"num_inference_steps must be an int in [1, {limit}] (the model's training timesteps), "
                             f"got {steps!r}")
        self._num_inference_steps = steps
        self.scheduler.set_timesteps(steps)
        self.inverse_scheduler.set_timesteps(steps)

    # ---- loading ----------------------------------------------------------------------------------
    @classmethod
    def locate(cls, source: str, **hub_kwargs) -> str | None:
        index = read_json(source, "model_index.json", **hub_kwargs)
        return "" if index and "unet" in index else None

    @classmethod
    def from_pretrained(cls, source, *, truncation: float | None = None, num_inference_steps: int = 50,
                        gradient_checkpointing: bool = False, class_label: int | None = None,
                        **kwargs) -> "DDIMGeneratorAdapter":
        """Load ``unet/`` and ``scheduler/`` of a diffusers folder or repo id (``cache_dir``,
        ``revision``, ``token``, ``local_files_only`` go to huggingface_hub)."""
        from diffusers import DDIMScheduler, UNet2DModel

        hub, rest = split_hub_kwargs(kwargs)
        if rest:
            raise TypeError(f"unexpected arguments for a ddim generator: {sorted(rest)}")
        source = str(source)
        index = read_json(source, "model_index.json", **hub)
        if not index or "unet" not in index or "scheduler" not in index:
            raise ValueError(f"no diffusers pipeline folder at {source!r}: expected model_index.json naming a unet and "
                             "a scheduler, with unet/ and scheduler/ beside it (the layout of google/ddpm-cifar10-32)")
        if list(index["unet"])[-1] != "UNet2DModel":
            raise ValueError(f"{source!r} holds a {index['unet'][-1]}; the DDIM adapter samples a pixel-space "
                             "UNet2DModel (latent diffusion with a VAE is not supported)")
        unet = UNet2DModel.from_pretrained(source, subfolder="unet", **hub)
        config = DDIMScheduler.load_config(source, subfolder="scheduler", **hub)
        return cls(unet, config, source, truncation, num_inference_steps, gradient_checkpointing, class_label,
                   revision=hub.get("revision"))

    def _load_options(self) -> dict:
        return {**super()._load_options(), "num_inference_steps": self.num_inference_steps}

    # ---- the DDIM chain ---------------------------------------------------------------------------
    def _model_output(self, sample: torch.Tensor, t: torch.Tensor, labels) -> torch.Tensor:
        if self.gradient_checkpointing and torch.is_grad_enabled() and sample.requires_grad:
            return checkpoint(self._unet, sample, t, labels, use_reentrant=False)
        return self._unet(sample, t, labels)

    def _unet(self, sample, t, labels):
        return self.model(sample, t, class_labels=labels).sample

    def _decode(self, latents: torch.Tensor, labels) -> torch.Tensor:
        """x_T → x_0 along ``scheduler.timesteps`` (descending), η = 0."""
        x = latents * self.scheduler.init_noise_sigma
        for t in self.scheduler.timesteps:
            x = self.scheduler.step(self._model_output(x, t, labels), t, x, eta=0.0).prev_sample
        return x

    def _encode(self, images: torch.Tensor, labels) -> torch.Tensor:
        """x_0 → x_T along ``inverse_scheduler.timesteps`` (ascending)."""
        if self.scheduler.config.prediction_type == "sample" and self.inverse_scheduler.config.set_alpha_to_one:
            raise ValueError("DDIM inversion of an x_0-predicting model is undefined at its first step (ᾱ = 1, "
                             "division by zero); use a model whose scheduler has set_alpha_to_one=False")
        x = images
        for t in self.inverse_scheduler.timesteps:
            x = self.inverse_scheduler.step(self._model_output(x, t, labels), t, x).prev_sample
        return x / self.scheduler.init_noise_sigma
