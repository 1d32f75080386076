"""Generators for COP-Gen: the :class:`GeneratorAdapter` contract and its adapters (hf_nda's
NDA-GAN generator, the AMR autoencoder, diffusers DDIM), loaded with :func:`load_generator`."""

from .amr import PRIOR_FILE, AMRGeneratorAdapter
from .base import GeneratorAdapter
from .ddim import DDIMGeneratorAdapter
from .loading import ADAPTERS, detect_generator_kind, load_generator
from .nda_gan import NDAGeneratorAdapter

__all__ = ["ADAPTERS", "PRIOR_FILE", "AMRGeneratorAdapter", "DDIMGeneratorAdapter", "GeneratorAdapter",
           "NDAGeneratorAdapter", "detect_generator_kind", "load_generator"]
