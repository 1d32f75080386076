"""hf_nda's own NDA-GAN generator behind the :class:`GeneratorAdapter` contract."""

from __future__ import annotations

import torch

from ..modeling_nda_gan import NDAGenerator
from .base import GeneratorAdapter


class NDAGeneratorAdapter(GeneratorAdapter):
    """An :class:`~hf_nda.NDAGenerator` as a frozen COP-Gen generator: prior N(0, I) over
    z ∈ R^latent_dim (optionally truncated), ``decode(z) = G(z)``; a GAN has no ``encode``.

    Loads from a folder saved by ``NDAGenerator.save_pretrained``, an NDA-GAN run directory (its
    ``generator/`` part) or a repo id of either. A class-conditional generator decodes every latent
    with ``class_label`` (set at load) unless ``decode(z, labels=...)`` names labels per call.

    Example:
        >>> from hf_nda import NDAGenerator, NDAGeneratorConfig
        >>> adapter = NDAGeneratorAdapter(NDAGenerator(NDAGeneratorConfig(latent_dim=16)), truncation=2.0)
        >>> z = adapter.sample_latents(4, generator=torch.Generator().manual_seed(0))
        >>> adapter.decode(z).shape, bool(z.abs().max() <= 2)
        (torch.Size([4, 1, 32, 32]), True)
    """

    kind = "nda_gan"
    encoder_hint = ("a GAN generator has no inverse; pass latent codes (or a count) instead of images, or use an "
                    "AMR autoencoder or a DDIM diffusion model, whose adapters can encode")
    model_type = "nda_generator"
    subfolders = ("", "generator")  # a generator folder, or an NDA-GAN run (discriminator at its top)

    def __init__(self, generator: NDAGenerator, source: str = "", truncation: float | None = None,
                 class_label: int | None = None, revision: str | None = None):
        if not isinstance(generator, NDAGenerator):
            raise ValueError(f"NDAGeneratorAdapter wraps an NDAGenerator, got {type(generator).__name__}")
        c = generator.config
        super().__init__(generator, source, (c.latent_dim,), c.image_size, c.num_channels, truncation,
                         num_classes=c.num_classes, class_label=class_label, revision=revision)

    @classmethod
    def from_pretrained(cls, source, *, truncation: float | None = None, class_label: int | None = None,
                        subfolder: str | None = None, **kwargs) -> "NDAGeneratorAdapter":
        """Load from a folder / run directory / repo id (``cache_dir``, ``revision``, ``token``,
        ``local_files_only`` go to huggingface_hub)."""
        generator, source, _, hub = cls.load_located(NDAGenerator, source, subfolder, kwargs,
                                                     "generator/ (an NDA-GAN run directory)")
        return cls(generator, source, truncation, class_label, revision=hub.get("revision"))

    def _decode(self, latents: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.model(latents, labels=labels).images
