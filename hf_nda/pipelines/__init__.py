"""Inference pipelines, registered as transformers pipeline tasks on ``import hf_nda``."""

from .mixup_resynthesis import MixupResynthesisPipeline
from .ood_scoring import OODScoringPipeline, ood_scores

__all__ = ["MixupResynthesisPipeline", "OODScoringPipeline", "ood_scores"]
