"""OOD detection metrics (AUROC, AUPR-IN, AUPR-OUT, FPR95TPR) as an ``evaluate`` module.

Load it by path (works offline)::

    import evaluate, hf_nda.evaluation as ev
    metric = evaluate.load(ev.OOD_METRIC_PATH)
    metric.compute(predictions=scores, references=is_ood)   # higher score = more OOD; is_ood in {0, 1}
"""

import datasets
import evaluate
import numpy as np

from hf_nda.evaluation.ood_metrics import ood_metrics

_DESCRIPTION = "Out-of-distribution detection metrics computed as pytorch-ood does (OOD = positive class)."
_KWARGS = """
Args:
    predictions: OOD scores, higher = more out-of-distribution.
    references: 1 for an out-of-distribution image, 0 for an in-distribution one.
Returns:
    AUROC, AUPR-IN, AUPR-OUT, FPR95TPR
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class OODDetection(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
                                   features=datasets.Features({"predictions": datasets.Value("float64"),
                                                               "references": datasets.Value("int32")}))

    def _compute(self, predictions, references):
        scores, labels = np.asarray(predictions, dtype=np.float64), np.asarray(references)
        if not set(np.unique(labels)) <= {0, 1}:
            raise ValueError("references must be 0 (in-distribution) or 1 (out-of-distribution)")
        return ood_metrics(scores[labels == 0], scores[labels == 1])
