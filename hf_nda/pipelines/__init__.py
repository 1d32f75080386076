"""Inference pipelines, registered as transformers pipeline tasks on ``import hf_nda``."""

from .ood_scoring import OODScoringPipeline, ood_scores

__all__ = ["OODScoringPipeline", "ood_scores"]
