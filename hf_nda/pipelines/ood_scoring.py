"""The ``ood-scoring`` pipeline task: images in, an out-of-distribution score per image out."""

from __future__ import annotations

import numpy as np
import torch
from transformers import Pipeline

from ..processing.image_processing_nda import as_image_list


class OODScoringPipeline(Pipeline):
    """Scores images by how *out-of-distribution* they look: **higher = more OOD**.

    With an :class:`~hf_nda.NDADiscriminator` the score is the negated discriminator logit (it
    needs no fitting). With a :class:`~hf_nda.ContrastiveEncoder` it is the distance of the image's
    features to features of in-distribution images stored by :meth:`fit` (kNN cosine distance or
    Mahalanobis, ``model.config.ood_method``). :meth:`fit` also sets a threshold (at a chosen
    in-distribution true-positive rate); both are saved with the model, and after fitting each
    result also has ``is_ood``.

    Inputs: one image or a list of them (PIL, numpy, tensors, file paths), an N,C,H,W tensor, a
    ``datasets`` image column or a ``datasets.Dataset`` with an ``image`` column. Images are
    processed ``batch_size`` at a time with the model's image processor.

    Example:
        >>> import hf_nda
        >>> from transformers import pipeline
        >>> scorer = pipeline("ood-scoring", model="runs/nda-gan")  # doctest: +SKIP
        >>> scorer.fit(in_distribution_images)  # doctest: +SKIP
        >>> scorer(["a.png", "b.png"], batch_size=64)  # doctest: +SKIP
        [{'score': -3.1, 'is_ood': False}, {'score': 2.4, 'is_ood': True}]
    """

    _load_processor = False
    _load_image_processor = True
    _load_feature_extractor = False
    _load_tokenizer = False

    def _sanitize_parameters(self, threshold=None, **kwargs):
        postprocess = {"threshold": threshold} if threshold is not None else {}
        return {}, {}, postprocess

    def __call__(self, inputs, batch_size: int | None = None, **kwargs):
        # Whole chunks go through the image processor at once (its resize/normalise is batched);
        # the base class would process and collate image by image, which costs more than the
        # forward pass of a small discriminator.
        single = _is_single_image(inputs)
        images = _as_sequence(inputs)
        batch_size = batch_size or self._batch_size or 64
        results = []
        for start in range(0, len(images), batch_size):
            results.extend(self._score_chunk(images[start:start + batch_size], **kwargs))
        return results[0] if single else results

    def _score_chunk(self, chunk, **kwargs):
        pre, fwd, post = self._sanitize_parameters(**kwargs)
        return self.run_single(chunk, {**self._preprocess_params, **pre}, {**self._forward_params, **fwd},
                               {**self._postprocess_params, **post})

    def preprocess(self, images):
        if isinstance(images, torch.Tensor) and images.is_floating_point() and images.ndim == 4:
            pixel_values = images  # already pixel_values in [-1, 1]
            _check_pixel_values(pixel_values, self.image_processor)
        else:
            pixel_values = self.image_processor(as_image_list(images), return_tensors="pt").pixel_values
        return {"pixel_values": pixel_values.to(self.dtype)}

    def _forward(self, model_inputs):
        return {"scores": ood_scores(self.model, model_inputs["pixel_values"])}

    def postprocess(self, model_outputs, threshold=None):
        threshold = threshold if threshold is not None else getattr(self.model.config, "ood_threshold", None)
        scores = model_outputs["scores"].float().cpu().tolist()
        if threshold is None:
            return [{"score": s} for s in scores]
        return [{"score": s, "is_ood": s > threshold} for s in scores]

    def save_pretrained(self, save_directory, **kwargs):
        """Save the model (with its fitted threshold) and the image processor. The base class would
        also copy this pipeline's source as remote code, which a registered library task does not
        need (``import hf_nda`` registers it) and which fails on the package's relative imports."""
        self.model.save_pretrained(save_directory, **kwargs)
        self.image_processor.save_pretrained(save_directory)

    def scores(self, inputs, batch_size: int | None = None) -> torch.Tensor:
        """Scores of ``inputs`` as one 1-D float tensor (what metrics and plots consume)."""
        results = self(_as_sequence(inputs), batch_size=batch_size)
        return torch.tensor([r["score"] for r in results])

    @torch.no_grad()
    def features(self, inputs, batch_size: int | None = None) -> torch.Tensor:
        """The model's ``features`` output for ``inputs`` (N,F), batched like scoring."""
        images = _as_sequence(inputs)
        batch_size = batch_size or self._batch_size or 64
        chunks = []
        for start in range(0, len(images), batch_size):
            pixel_values = self.preprocess(images[start:start + batch_size])["pixel_values"].to(self.device)
            chunks.append(self.model(pixel_values=pixel_values).features.float())
        return torch.cat(chunks)

    def fit(self, in_distribution, tpr: float = 0.95, batch_size: int | None = None) -> float:
        """Set the threshold so that a fraction ``tpr`` of ``in_distribution`` images score at or
        below it (are kept as in-distribution). Stored in ``model.config``; returns it."""
        if not 0 < tpr < 1:
            raise ValueError(f"tpr must be in (0, 1), got {tpr}")
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


def _check_pixel_values(pixel_values, processor):
    if not torch.isfinite(pixel_values).all():
        raise ValueError("the input tensor contains NaN or infinite values")
    expected = (processor.num_channels, processor.size.height, processor.size.width)
    if tuple(pixel_values.shape[1:]) != expected:
        raise ValueError(f"pixel_values of shape {tuple(pixel_values.shape[1:])} given, the model takes {expected}; "
                         "pass images (PIL/uint8) to have them resized, or resize the tensor")


def _is_single_image(inputs) -> bool:
    from PIL import Image

    if isinstance(inputs, (str, Image.Image)):
        return True
    return isinstance(inputs, (np.ndarray, torch.Tensor)) and inputs.ndim in (2, 3)


def _as_sequence(inputs):
    """Something sliceable: a list of images or an N,C,H,W tensor."""
    try:
        import datasets

        if isinstance(inputs, datasets.Dataset):
            if "image" not in inputs.column_names:
                raise ValueError(f"the dataset has no 'image' column (columns: {inputs.column_names})")
            inputs = inputs["image"]
    except ImportError:  # pragma: no cover - datasets is a dependency
        pass
    if isinstance(inputs, torch.Tensor) and inputs.ndim == 4:
        if len(inputs) == 0:
            raise ValueError("no images given (empty input)")
        return inputs
    if _is_single_image(inputs):
        return [inputs]
    seq = list(inputs)
    if not seq:
        raise ValueError("no images given (empty input)")
    return seq
