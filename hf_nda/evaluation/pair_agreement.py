"""Do generated positives keep their anchor's class? A frozen reference classifier, fitted on real
labelled images, labels anchor and positive; the share of pairs it labels alike is COP-Gen's
stopping signal (the authors picked checkpoints by eye from image grids).

The classifier is scikit-learn's logistic regression on pixels (a convex fit, nothing to tune,
seconds on a CPU); labels are used for monitoring only, never for training.
"""

from __future__ import annotations

import numpy as np
import torch


class ReferenceClassifier:
    """Logistic regression on the pixels of real images (N,C,H,W in [-1, 1]).

    Example:
        >>> clf = ReferenceClassifier.fit_dataset("fashion_mnist", image_size=32)  # doctest: +SKIP
        >>> clf.agreement(anchors, positives)  # doctest: +SKIP
        0.83
    """

    def __init__(self, model, image_shape: tuple[int, ...]):
        self.model, self.image_shape = model, tuple(image_shape)

    @classmethod
    def fit(cls, images: torch.Tensor, labels: torch.Tensor, max_iter: int = 200):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(max_iter=max_iter)
        with warnings.catch_warnings():  # a monitor, not a benchmark: 200 lbfgs iterations are plenty
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(images.reshape(len(images), -1).float().numpy(), labels.numpy())
        return cls(model, images.shape[1:])

    @classmethod
    def fit_dataset(cls, name: str, *, image_size: int, num_channels: int = 1, num_images: int = 5000,
                    data_dir: str | None = None):
        from ..data import cached_pixel_values
        from ..processing import NDAImageProcessor

        processor = NDAImageProcessor(size={"height": image_size, "width": image_size}, num_channels=num_channels)
        images, labels = cached_pixel_values(name, "train", processor, data_dir=data_dir)
        return cls.fit(images[:num_images], labels[:num_images])

    def predict(self, images: torch.Tensor) -> np.ndarray:
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"the reference classifier takes images of shape {self.image_shape}, got "
                             f"{tuple(images.shape[1:])}")
        return self.model.predict(images.detach().float().cpu().reshape(len(images), -1).numpy())

    def agreement(self, anchors: torch.Tensor, positives: torch.Tensor) -> float:
        """Share of pairs the classifier puts in one class."""
        return float((self.predict(anchors) == self.predict(positives)).mean())
