"""Where a trainer's batches come from: a *source* turns a draw number into one batch, on a device.

Every source is a pure function of (seed, draw, rank), so a resumed run replays the very batches
the uninterrupted run would have drawn, and DDP ranks draw disjoint ones:

- :class:`ImageSource` — images (+ labels) of an image dataset, epoch-wise seeded permutations;
- :class:`PairSource` — anchor/positive pairs (e.g. a COP-Gen pair dataset), same order rules;
- :class:`LatentSource` — latent codes drawn fresh every step, no dataset at all (COP-Gen).

The image processor is built where the data is declared (:meth:`ImageSource.from_dataset`) and is
kept on the source, so a trainer exports the processor its data went through.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class StepBatches:
    """Indices of a draw: epoch-wise random permutations of the data seeded by (seed, epoch), cut into
    consecutive global batches, split across processes.

    Example:
        >>> StepBatches(10, 4, seed=0, rank=0, world_size=1).indices(0)  # doctest: +SKIP
        tensor([4, 1, 7, 5])
    """

    def __init__(self, num_examples: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        if num_examples < 1:
            raise ValueError("the training set is empty")
        self.n, self.batch_size, self.seed = num_examples, batch_size, seed
        self.rank, self.world = rank, world_size
        self._perms: dict[int, torch.Tensor] = {}

    def _perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            self._perms = {e: p for e, p in self._perms.items() if e >= epoch - 1}
            self._perms[epoch] = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 100003 + epoch))
        return self._perms[epoch]

    def indices(self, draw: int) -> torch.Tensor:
        start = (draw * self.world + self.rank) * self.batch_size
        positions = torch.arange(start, start + self.batch_size)
        epochs = positions // self.n
        out = torch.empty_like(positions)
        for epoch in epochs.unique().tolist():
            sel = epochs == epoch
            out[sel] = self._perm(epoch)[positions[sel] % self.n]
        return out


class _TensorSource:
    """Rows of equally long tensors, drawn by :class:`StepBatches` (set up by :meth:`bind`)."""

    def __init__(self, *tensors: torch.Tensor):
        if len({len(t) for t in tensors}) != 1:
            raise ValueError(f"the columns of a source must have one length, got {[len(t) for t in tensors]}")
        self.tensors = tensors
        self.order: StepBatches | None = None

    def __len__(self) -> int:
        return len(self.tensors[0])

    def bind(self, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        """Fix the batch size and the seeded order (the trainer calls this once)."""
        self.order = StepBatches(len(self), batch_size, seed, rank, world_size)
        return self

    def batch(self, draw: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, ...]:
        if self.order is None:
            raise RuntimeError("call source.bind(batch_size, seed, rank, world_size) before drawing batches")
        idx = self.order.indices(draw)
        return tuple(t[idx].to(device, non_blocking=True) for t in self.tensors)


class ImageSource(_TensorSource):
    """Images N,C,H,W in [-1, 1] and their labels; ``batch(draw)`` → ``(images, labels, *extra_columns)``.

    Example:
        >>> source = ImageSource.from_dataset("digits", image_size=28).bind(batch_size=8, seed=0)  # doctest: +SKIP
        >>> images, labels = source.batch(0)  # doctest: +SKIP
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None = None, processor=None,
                 extra_columns: tuple[torch.Tensor, ...] = ()):
        labels = torch.zeros(len(images), dtype=torch.long) if labels is None else labels
        super().__init__(images, labels, *extra_columns)
        self.processor = processor

    def with_columns(self, *extra_columns: torch.Tensor) -> "ImageSource":
        """The same images and labels, each batch also carrying ``extra_columns`` (e.g. a canvas cell)."""
        return ImageSource(self.images, self.labels, self.processor, extra_columns)

    @property
    def images(self) -> torch.Tensor:
        return self.tensors[0]

    @property
    def labels(self) -> torch.Tensor:
        return self.tensors[1]

    @classmethod
    def from_dataset(cls, name: str, *, image_size: int = 32, num_channels: int = 1, negatives=(),
                     split: str = "train", data_dir: str | None = None, max_samples: int | None = None):
        """A named dataset (or a path) through an :class:`NDAImageProcessor` at this size and channel
        count (``negatives`` are the NDA transforms the processor carries for the run)."""
        from ..processing import NDAImageProcessor
        from .tensors import cached_pixel_values

        processor = NDAImageProcessor(size={"height": image_size, "width": image_size}, num_channels=num_channels,
                                      negatives=list(negatives))
        images, labels = cached_pixel_values(name, split, processor, data_dir=data_dir)
        if max_samples:
            images, labels = images[:max_samples], labels[:max_samples]
        return cls(images, labels, processor)


class PairSource(_TensorSource):
    """Anchor/positive image pairs; ``batch(draw)`` → ``(anchors, positives)`` (row i of each is a pair).

    Example:
        >>> source = PairSource.from_dataset(pairs, processor).bind(batch_size=64, seed=0)  # doctest: +SKIP
        >>> anchors, positives = source.batch(0)  # doctest: +SKIP
    """

    def __init__(self, anchors: torch.Tensor, positives: torch.Tensor, processor=None):
        if anchors.shape != positives.shape:
            raise ValueError(f"anchors {tuple(anchors.shape)} and positives {tuple(positives.shape)} must have one shape")
        super().__init__(anchors, positives)
        self.processor = processor

    @classmethod
    def from_dataset(cls, dataset, processor, *, anchor_column: str = "anchor", positive_column: str = "positive"):
        """A ``datasets.Dataset`` with two image columns, through ``processor``."""
        from .tensors import dataset_to_pixel_values

        return cls(dataset_to_pixel_values(dataset, processor, image_column=anchor_column),
                   dataset_to_pixel_values(dataset, processor, image_column=positive_column), processor)


class LatentSource:
    """Latent codes drawn fresh for every draw, no dataset: ``batch(draw)`` → ``(z,)``, seeded by
    (seed, draw, rank). ``sample`` is ``sample(n, generator) -> z`` (a generator adapter's
    ``sample_latents``); the default is N(0, I) truncated to [−truncation, truncation] (BigGAN style),
    or plain N(0, I) with ``truncation=None``. ``processor``: the image processor of what the latents
    decode to (exported with the run).

    Example:
        >>> source = LatentSource(latent_dim=128).bind(batch_size=64, seed=0)
        >>> source.batch(0)[0].shape
        torch.Size([64, 128])
    """

    def __init__(self, latent_dim: int | None = None, sample: Callable | None = None, truncation: float | None = 2.0,
                 processor=None):
        if sample is None and not latent_dim:
            raise ValueError("LatentSource needs latent_dim (for the default sampler) or sample(n, generator)")
        self.latent_dim, self.truncation, self.processor = latent_dim, truncation, processor
        self.sample = sample or self._truncated_normal
        self.batch_size = self.seed = None

    def _truncated_normal(self, n: int, generator: torch.Generator) -> torch.Tensor:
        from ..modeling.generators.base import standard_normal

        return standard_normal((n, self.latent_dim), self.truncation, generator, torch.device("cpu"))

    def bind(self, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        self.batch_size, self.seed, self.rank = batch_size, seed, rank
        return self

    def batch(self, draw: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor]:
        if self.batch_size is None:
            raise RuntimeError("call source.bind(batch_size, seed, rank, world_size) before drawing batches")
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + draw) * 1024 + self.rank + 7)
        return (self.sample(self.batch_size, generator).to(device),)
