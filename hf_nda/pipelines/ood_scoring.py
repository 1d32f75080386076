"""The ``ood-scoring`` pipeline task: images in, an out-of-distribution score per image out."""

from __future__ import annotations

import math
import warnings

import torch

from ..modeling import ContrastiveEncoder, NDADiscriminator
from ..processing.base import check_number
from .base import ImageBatch, NDAPipeline, check_batch_size


class OODScoringPipeline(NDAPipeline):
    """Scores images by how *out-of-distribution* they look: **higher = more OOD**.

    With an :class:`~hf_nda.NDADiscriminator` the score is the negated discriminator logit (it
    needs no fitting). With a :class:`~hf_nda.ContrastiveEncoder` it is the distance of the image's
    features to features of in-distribution images stored by :meth:`fit` (kNN cosine distance or
    Mahalanobis, ``model.config.ood_method``). :meth:`fit` also sets a threshold (at a chosen
    in-distribution true-positive rate); both are saved with the model, and after fitting each
    result also has ``is_ood``.

    Inputs: one image (→ one dict) or many (→ a list): PIL, numpy, tensors, file paths, lists of these,
    an N,C,H,W tensor (float: ready ``pixel_values``), a ``datasets`` image column or a
    ``datasets.Dataset`` with an image column. Images are processed ``batch_size`` (default 64) at a
    time with the model's image processor.

    Example:
        >>> import hf_nda
        >>> from transformers import pipeline
        >>> scorer = pipeline("ood-scoring", model="runs/nda-gan")  # doctest: +SKIP
        >>> scorer.fit(in_distribution_images)  # doctest: +SKIP
        >>> scorer(["a.png", "b.png"], batch_size=64)  # doctest: +SKIP
        [{'score': -3.1, 'is_ood': False}, {'score': 2.4, 'is_ood': True}]
    """

    task_name = "ood-scoring"
    model_classes = (NDADiscriminator, ContrastiveEncoder)
    model_hint = ("Load a model folder saved by hf_nda's GAN or contrastive trainer: a GAN run directory (it loads "
                  "as its discriminator) or its discriminator/ folder, a MoCo run's encoder/ folder.")

    def _sanitize_parameters(self, threshold=None):
        if threshold is not None:
            threshold = check_number("ood-scoring", "threshold", threshold, meaning="finite score")
        postprocess = {"threshold": threshold} if threshold is not None else {}
        return {}, {}, postprocess

    def preprocess(self, images):
        return {"pixel_values": self.pixel_values(images)}

    def _forward(self, model_inputs):
        return {"scores": ood_scores(self.model, model_inputs["pixel_values"])}

    def postprocess(self, model_outputs, threshold=None):
        threshold = threshold if threshold is not None else getattr(self.model.config, "ood_threshold", None)
        scores = model_outputs["scores"].float().cpu().tolist()
        if threshold is None:
            return [{"score": s} for s in scores]
        return [{"score": s, "is_ood": s > threshold} for s in scores]

    def scores(self, inputs, batch_size: int | None = None) -> torch.Tensor:
        """Scores of ``inputs`` as one 1-D float tensor (what metrics and plots consume)."""
        results = self(inputs, batch_size=self._block_size(batch_size))
        return torch.tensor([r["score"] for r in ([results] if isinstance(results, dict) else results)])

    @torch.no_grad()
    def features(self, inputs, batch_size: int | None = None) -> torch.Tensor:
        """The model's ``features`` output for ``inputs`` (N,F), batched like scoring."""
        blocks = ImageBatch.of(inputs).split(self._block_size(batch_size))
        return torch.cat([self.model(pixel_values=self.pixel_values(b).to(self.device)).features.float()
                          for b in blocks])

    def _block_size(self, batch_size) -> int:
        return self._batch_size if batch_size is None else check_batch_size(batch_size)

    def fit(self, in_distribution, tpr: float = 0.95, batch_size: int | None = None) -> float:
        """Set the threshold so that a fraction ``tpr`` of ``in_distribution`` images score at or
        below it (are kept as in-distribution). Stored in ``model.config``; returns it.

        Needs at least 2 images (a kNN scorer: ``ood_k + 1``, as each fitted image's score skips the
        image itself); fewer than ``1 / (1 - tpr)`` images (20 at tpr 0.95) give a threshold that is
        an interpolation between the highest scores, with a warning."""
        tpr = check_number("fit", "tpr", tpr, low=0, high=1, low_open=True, high_open=True,
                           meaning="true-positive rate (the kept fraction)")
        batch_size = self._block_size(batch_size)
        images = ImageBatch.of(in_distribution)
        needed = 2
        if hasattr(self.model, "fit_ood") and self.model.config.ood_method == "knn":
            needed = max(needed, self.model.config.ood_k + 1)
        if len(images) < needed:
            why = (f"the kNN score of each fitted image reads its ood_k={self.model.config.ood_k}-th nearest *other* "
                   f"image, so pass at least {needed} images or lower scorer.model.config.ood_k" if needed > 2 else
                   "a threshold needs the spread of several in-distribution scores")
            raise ValueError(f"fit needs at least {needed} in-distribution images, got {len(images)}: {why}")
        if len(images) < math.ceil(1 / (1 - tpr)):
            warnings.warn(f"fit on {len(images)} images at tpr={tpr}: the threshold is interpolated between the "
                          f"highest scores; {math.ceil(1 / (1 - tpr))} or more images give a real {tpr:.0%} "
                          "quantile", stacklevel=2)
        in_distribution = images
        if hasattr(self.model, "fit_ood"):  # feature-distance scorers first store the features
            features = self.features(in_distribution, batch_size=batch_size)
            self.model.fit_ood(features)
            scores = self.model.ood_scores_from_features(features, exclude_self=True).cpu()
        else:
            scores = self.scores(in_distribution, batch_size=batch_size)
        threshold = float(torch.quantile(scores.double(), tpr))
        self.model.config.ood_threshold = threshold
        self.model.config.ood_threshold_tpr = tpr
        return threshold


@torch.no_grad()
def ood_scores(model, pixel_values: torch.Tensor) -> torch.Tensor:
    """The OOD score of a batch for any supported model (higher = more out-of-distribution)."""
    if hasattr(model, "ood_scores"):
        return model.ood_scores(pixel_values)
    return -model(pixel_values=pixel_values).logits

