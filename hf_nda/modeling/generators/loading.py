"""``load_generator``: one entry point for every generator adapter, with the kind detected from the
files of the folder or repo."""

from __future__ import annotations

import os

from .amr import AMRGeneratorAdapter
from .base import GeneratorAdapter, split_hub_kwargs
from .ddim import DDIMGeneratorAdapter
from .nda_gan import NDAGeneratorAdapter

ADAPTERS: dict[str, type[GeneratorAdapter]] = {"ddim": DDIMGeneratorAdapter, "nda_gan": NDAGeneratorAdapter,
                                               "amr": AMRGeneratorAdapter}  # detection order


def detect_generator_kind(source: str | os.PathLike, **hub_kwargs) -> str:
    """The adapter kind of a folder or repo id: ``"ddim"`` (diffusers ``model_index.json`` with a
    unet), ``"nda_gan"`` (an NDAGenerator at the top or in ``generator/``) or ``"amr"`` (an
    AMRAutoencoder at the top or in ``autoencoder/``)."""
    source = str(source)
    for kind, adapter_class in ADAPTERS.items():
        if adapter_class.locate(source, **hub_kwargs) is not None:
            return kind
    where = ("the local folder" if os.path.isdir(source) else
             "it is not a local folder, and as a Hub repo id none of these files could be read (offline and not "
             "cached? check the id, HF_ENDPOINT / HF_HUB_OFFLINE)")
    raise ValueError(f"found no generator at {source!r} ({where}): expected a diffusers folder (model_index.json, "
                     "unet/, scheduler/), an NDAGenerator (config.json with model_type 'nda_generator', or a GAN run "
                     "with generator/), or an AMRAutoencoder (model_type 'amr_autoencoder', or an AMR run)")


def load_generator(source: str | os.PathLike, kind: str | None = None, *, latent_shape=None,
                   truncation: float | None = None, **kwargs) -> GeneratorAdapter:
    """Load a frozen generator behind the :class:`GeneratorAdapter` contract.

    Args:
        source: a local folder (model folder or training run directory) or a Hub repo id.
        kind: ``"nda_gan"``, ``"amr"`` or ``"ddim"``; detected from the files when omitted.
        latent_shape: the latent shape the caller expects (e.g. from a navigator's config): a
            generator with another shape is refused.
        truncation: truncate the latent prior to [−truncation, truncation] (None: no truncation).
        kwargs: adapter options — ``class_label`` (conditional nda_gan / ddim), ``prior_source``
            (amr), ``num_inference_steps`` / ``gradient_checkpointing`` (ddim) — and the hub options
            ``cache_dir``, ``revision``, ``token``, ``local_files_only``.

    ``load_generator(**adapter.describe())`` loads the same adapter again.

    Example:
        >>> adapter = load_generator("runs/gan", truncation=2.0)  # doctest: +SKIP
        >>> adapter.kind, adapter.latent_shape  # doctest: +SKIP
        ('nda_gan', (128,))
    """
    source, hub = str(source), split_hub_kwargs(kwargs)[0]
    if kind is None:
        kind = detect_generator_kind(source, **hub)
    elif kind not in ADAPTERS:
        raise ValueError(f"unknown generator kind {kind!r}; choose one of {sorted(ADAPTERS)} or leave kind out to "
                         "detect it")
    elif ADAPTERS[kind].locate(source, **hub) is None:
        found = _try_detect(source, hub)
        unreachable = "" if found or os.path.exists(source) else (
            " (no such folder; as a Hub repo id it was not found or the Hub is unreachable, e.g. HF_HUB_OFFLINE=1: "
            "give a local folder instead — for a navigator, pipeline(..., image_generator=FOLDER) or --generator FOLDER)")
        raise ValueError(f"{source!r} holds no {kind} generator" + (f"; it holds a {found} one: pass kind={found!r} "
                         "or leave kind out" if found else unreachable))
    adapter = ADAPTERS[kind].from_pretrained(source, truncation=truncation, **kwargs)
    if latent_shape is not None and tuple(latent_shape) != adapter.latent_shape:
        raise ValueError(f"the {kind} generator at {source!r} has latent shape {adapter.latent_shape}, but "
                         f"{tuple(latent_shape)} was expected (was the navigator trained over another generator?)")
    return adapter


def _try_detect(source: str, hub: dict) -> str | None:
    try:
        return detect_generator_kind(source, **hub)
    except ValueError:
        return None
