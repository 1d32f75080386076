"""Inference pipelines, registered as transformers pipeline tasks on ``import hf_nda``.

New tasks subclass :class:`NDAPipeline` (see :mod:`hf_nda.pipelines.base`)."""

from .base import ImageBatch, NDAPipeline, seeded_generator
from .mixup_resynthesis import MixupResynthesisPipeline
from .ood_scoring import OODScoringPipeline, ood_scores
from .positive_generation import PositiveGenerationPipeline, positive_pairs

__all__ = ["ImageBatch", "MixupResynthesisPipeline", "NDAPipeline", "OODScoringPipeline", "ood_scores",
           "PositiveGenerationPipeline", "positive_pairs", "seeded_generator"]
