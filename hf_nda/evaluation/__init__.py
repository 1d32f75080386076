"""OOD metrics (plain functions and an ``evaluate`` module), an FID-style distance, reports."""

from pathlib import Path

from .ood_metrics import aupr_in, aupr_out, auroc, fpr_at_tpr, ood_metrics

OOD_METRIC_PATH = str(Path(__file__).parent / "metrics" / "ood_detection" / "ood_detection.py")

__all__ = ["OOD_METRIC_PATH", "aupr_in", "aupr_out", "auroc", "fpr_at_tpr", "ood_metrics"]
