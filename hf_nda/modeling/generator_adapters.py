"""Generators for COP-Gen behind one contract (DESIGN §3): the public names of
:mod:`hf_nda.modeling.generators` (base contract, NDA-GAN, AMR and DDIM adapters, ``load_generator``).

Example:
    >>> from hf_nda.modeling.generator_adapters import load_generator
    >>> adapter = load_generator("runs/gan", truncation=2.0)  # doctest: +SKIP
    >>> images = adapter.decode(adapter.sample_latents(8))  # doctest: +SKIP
"""

from .generators import (ADAPTERS, PRIOR_FILE, AMRGeneratorAdapter, DDIMGeneratorAdapter, GeneratorAdapter,
                         NDAGeneratorAdapter, detect_generator_kind, load_generator)

__all__ = ["ADAPTERS", "PRIOR_FILE", "AMRGeneratorAdapter", "DDIMGeneratorAdapter", "GeneratorAdapter",
           "NDAGeneratorAdapter", "detect_generator_kind", "load_generator"]
