"""Out-of-distribution detection metrics, computed as pytorch-ood's ``OODMetrics`` does:
OOD is the positive class and higher scores mean more OOD.

- AUROC: area under the ROC curve;
- AUPR-IN: area under the precision-recall curve with in-distribution as positive (scores negated);
- AUPR-OUT: the same with OOD as positive;
- FPR95TPR: false-positive rate (in-distribution images flagged) at the first threshold where 95 %
  of OOD images are detected.

scikit-learn computes the curves; areas use the trapezoid rule (``sklearn.metrics.auc``), as
pytorch-ood does, rather than average precision.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import auc, precision_recall_curve, roc_auc_score, roc_curve


def _labels_scores(in_scores, out_scores):
    ins, outs = (np.asarray(torch.as_tensor(s, dtype=torch.float64).cpu()).ravel() for s in (in_scores, out_scores))
    if len(ins) == 0 or len(outs) == 0:
        raise ValueError("need at least one in-distribution and one OOD score")
    if not (np.isfinite(ins).all() and np.isfinite(outs).all()):
        raise ValueError("scores contain NaN or infinite values")
    labels = np.concatenate([np.zeros(len(ins)), np.ones(len(outs))])
    return labels, np.concatenate([ins, outs])


def auroc(in_scores, out_scores) -> float:
    labels, scores = _labels_scores(in_scores, out_scores)
    return float(roc_auc_score(labels, scores))


def aupr_out(in_scores, out_scores) -> float:
    labels, scores = _labels_scores(in_scores, out_scores)
    precision, recall, _ = precision_recall_curve(labels, scores)
    return float(auc(recall, precision))


def aupr_in(in_scores, out_scores) -> float:
    labels, scores = _labels_scores(in_scores, out_scores)
    precision, recall, _ = precision_recall_curve(1 - labels, -scores)
    return float(auc(recall, precision))


def fpr_at_tpr(in_scores, out_scores, tpr: float = 0.95) -> float:
    labels, scores = _labels_scores(in_scores, out_scores)
    fpr, tprs, _ = roc_curve(labels, scores)
    idx = min(int(np.searchsorted(tprs, tpr, side="left")), len(fpr) - 1)
    return float(fpr[idx])


def ood_metrics(in_scores, out_scores) -> dict[str, float]:
    """All four metrics, keyed as pytorch-ood names them.

    Example:
        >>> ood_metrics([0.1, 0.2, 0.3], [0.25, 0.9])["AUROC"]
        0.8333333333333334
    """
    return {"AUROC": auroc(in_scores, out_scores), "AUPR-IN": aupr_in(in_scores, out_scores),
            "AUPR-OUT": aupr_out(in_scores, out_scores), "FPR95TPR": fpr_at_tpr(in_scores, out_scores)}
