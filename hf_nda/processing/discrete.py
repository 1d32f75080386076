"""Discrete transform sets: a finite, numbered family T_0 … T_{|T|-1} applied by integer index per
image, batched (no per-image Python loop), for methods that choose or score transforms one by one
(CRL-TAC's policy over crops, rotation/jigsaw prediction).

Each set is also an ordinary :class:`~hf_nda.processing.base.BatchTransform`: its params are
``{"index": LongTensor N}``, and calling it draws a uniform index per image. ``to_dict()`` records
``num_transforms``, so a saved policy with that many outputs can check what its outputs mean.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from . import _random as rnd
from .base import BatchTransform, check_index, check_number, register
from .negatives import permute_tiles


@dataclasses.dataclass
class DiscreteTransformSet(BatchTransform):
    """Base class. Subclasses define ``num_transforms``, ``describe(i)`` and
    ``_apply_index(images, indices)`` on a 4-D batch; ``_apply_all`` may be overridden for speed.

    Example:
        >>> t = Rotations()
        >>> t.apply_index(torch.rand(2, 1, 8, 8), torch.tensor([0, 3])).shape
        torch.Size([2, 1, 8, 8])
        >>> t.describe(1)
        'rotate 90° counter-clockwise'
    """

    param_keys = ("index",)

    @property
    def num_transforms(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self, index: int) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def descriptions(self) -> list[str]:
        """``describe(i)`` for every index, in order."""
        return [self.describe(i) for i in range(self.num_transforms)]

    def apply_index(self, images: torch.Tensor, indices) -> torch.Tensor:
        """Transform image ``i`` by ``T_{indices[i]}``; ``indices``: LongTensor N."""
        x, _, unfold = self._prepare(images, None)
        return unfold(self._apply_index(x, check_index(indices, x.shape[0], self.num_transforms).to(x.device)))

    def apply_all(self, images: torch.Tensor) -> torch.Tensor:
        """Every transform of every image: N,|T|,C,h,w (N,|T|,T,C,h,w for video), ``[:, j] = T_j``."""
        x, _, _ = self._prepare(images, None)
        out = self._apply_all(x)
        if images.ndim == 5:
            out = out.reshape(*out.shape[:2], *images.shape[1:3], *out.shape[-2:])
        return out

    def _apply_all(self, images):
        n, m = images.shape[0], self.num_transforms
        index = torch.arange(m, device=images.device).repeat(n)
        out = self._apply_index(images.repeat_interleave(m, dim=0), index)
        return out.view(n, m, *out.shape[1:])

    def _sample(self, images, other, generator, labels):
        return {"index": rnd.randint(0, self.num_transforms, (images.shape[0],), generator, images)}

    def _apply(self, images, params, other):
        return self._apply_index(images, params["index"])

    def _check_params(self, params, images, other=None):
        if isinstance(params, dict) and "index" in params:
            index = check_index(params["index"], images.shape[0], self.num_transforms, what="params['index']")
            params = {**params, "index": index}
        return super()._check_params(params, images, other)

    def _check_describe(self, index) -> int:
        if not 0 <= int(index) < self.num_transforms:
            raise ValueError(f"index {index} is out of range: valid indices are 0..{self.num_transforms - 1}")
        return int(index)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "num_transforms": self.num_transforms}

    @classmethod
    def _build(cls, fields: dict) -> "DiscreteTransformSet":
        fields = dict(fields)
        expected = fields.pop("num_transforms", None)
        transform = cls(**fields)
        if expected is not None and expected != transform.num_transforms:
            raise ValueError(f"the saved spec says {expected} transforms but {transform} has "
                             f"{transform.num_transforms}; the spec does not match this version of {cls.__name__}")
        return transform


def _pair(size) -> tuple[int, int]:
    return (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(s) for s in size)


@register("cropgrid")
@dataclasses.dataclass
class CropGrid(DiscreteTransformSet):
    """All ``crop_size``×``crop_size`` crops whose top-left corners lie on a ``stride`` grid of an
    ``image_size`` canvas (rows then columns; corners that would cross the far edge are left out).

    This set changes the spatial size: outputs are N,C,crop_size,crop_size, or
    N,C,output_size,output_size when ``output_size`` is set (bilinear, antialiased). Crops are
    views gathered in one indexing op, so they are differentiable with respect to the images.

    Example:
        >>> grid = CropGrid(crop_size=20, stride=4, image_size=84)
        >>> grid.num_transforms, grid.describe(18)
        (289, 'crop 20×20 at top=4, left=4')
        >>> x = torch.rand(2, 1, 84, 84)
        >>> grid.apply_index(x, torch.tensor([0, 288])).shape, grid.apply_all(x).shape
        (torch.Size([2, 1, 20, 20]), torch.Size([2, 289, 1, 20, 20]))
    """

    crop_size: int = 20
    stride: int = 4
    image_size: int | tuple = 84  # the canvas: one int (square) or (height, width)
    output_size: int | None = None
    changes_shape = True

    def __post_init__(self):
        if isinstance(self.image_size, (list, tuple)):
            if len(self.image_size) != 2:
                raise ValueError(f"CropGrid needs image_size as one int or (height, width), got {self.image_size!r}")
            self.image_size = tuple(check_number("CropGrid", "image_size", s, low=1, integer=True)
                                    for s in self.image_size)
        else:
            self.image_size = check_number("CropGrid", "image_size", self.image_size, low=1, integer=True)
        for key in ("crop_size", "stride") + (("output_size",) if self.output_size is not None else ()):
            setattr(self, key, check_number("CropGrid", key, getattr(self, key), low=1, integer=True))
        if min(_pair(self.image_size)) < self.crop_size:
            raise ValueError(f"CropGrid crop_size={self.crop_size} does not fit in image_size={self.image_size}")

    @property
    def grid(self) -> tuple[int, int]:
        """Number of crop positions down and across."""
        h, w = _pair(self.image_size)
        return (h - self.crop_size) // self.stride + 1, (w - self.crop_size) // self.stride + 1

    @property
    def num_transforms(self) -> int:
        return self.grid[0] * self.grid[1]

    def corner(self, index: int) -> tuple[int, int]:
        """(top, left) pixel of crop ``index``."""
        row, col = divmod(self._check_describe(index), self.grid[1])
        return row * self.stride, col * self.stride

    def describe(self, index: int) -> str:
        top, left = self.corner(index)
        return f"crop {self.crop_size}×{self.crop_size} at top={top}, left={left}"

    def _windows(self, images):
        if tuple(images.shape[-2:]) != _pair(self.image_size):
            raise ValueError(f"CropGrid was built for {_pair(self.image_size)} images, got "
                             f"{tuple(images.shape[-2:])}; build it with image_size={tuple(images.shape[-2:])}")
        k, s = self.crop_size, self.stride
        return images.unfold(2, k, s).unfold(3, k, s)  # N,C,rows,cols,k,k: a view, no copy

    def _resize(self, crops):
        if self.output_size is None:
            return crops
        return F.interpolate(crops, size=(self.output_size,) * 2, mode="bilinear", align_corners=False,
                             antialias=self.output_size < self.crop_size)

    def _apply_index(self, images, indices):
        row, col = indices.div(self.grid[1], rounding_mode="floor"), indices.remainder(self.grid[1])
        batch = torch.arange(images.shape[0], device=images.device)
        return self._resize(self._windows(images)[batch, :, row, col])  # N,C,k,k

    def _apply_all(self, images):
        n, c, k = *images.shape[:2], self.crop_size
        crops = self._windows(images).permute(0, 2, 3, 1, 4, 5)  # N,rows,cols,C,k,k
        crops = self._resize(crops.reshape(n * self.num_transforms, c, k, k))
        return crops.view(n, self.num_transforms, *crops.shape[1:])


_MAX_PERMUTED_TILES = 16  # 16! fits int64 indices; 25! does not


@register("jigsawperms")
@dataclasses.dataclass
class JigsawPermutations(DiscreteTransformSet):
    """The (k²)! − 1 non-identity k×k tile permutations, numbered in lexicographic order of the
    permutation (index i is lexicographic rank i + 1; rank 0 is the identity, left out).

    Index i applies exactly what :class:`~hf_nda.processing.negatives.Jigsaw` applies with params
    ``{"perm": permutation(i)}``; ``index_of(perm)`` maps Jigsaw's params back to indices.

    Example:
        >>> t = JigsawPermutations(k=2)
        >>> t.num_transforms, t.permutation(torch.tensor([0, 22])).tolist()
        (23, [[0, 1, 3, 2], [3, 2, 1, 0]])
        >>> t.apply_index(torch.rand(2, 1, 8, 8), torch.tensor([0, 22])).shape
        torch.Size([2, 1, 8, 8])
    """

    k: int = 2

    def __post_init__(self):
        # larger grids than 4x4 have too many permutations to number in int64
        self.k = check_number("JigsawPermutations", "k", self.k, low=2, high=math.isqrt(_MAX_PERMUTED_TILES),
                              integer=True, meaning="grid size (k×k tiles)")

    @property
    def num_transforms(self) -> int:
        return math.factorial(self.k * self.k) - 1

    def permutation(self, indices: torch.Tensor) -> torch.Tensor:
        """Index (LongTensor of any shape) → tile permutation (that shape + (k²,)), by unranking the
        factorial number system, batched over the indices."""
        m = self.k * self.k
        rank = torch.as_tensor(indices).long() + 1
        remaining = torch.ones(*rank.shape, m, dtype=torch.bool, device=rank.device)
        perm = []
        for i in range(m):
            digit = rank.div(math.factorial(m - 1 - i), rounding_mode="floor").remainder(m - i)
            # the digit-th still unused tile (0-based): where the running count of unused ones hits digit + 1
            hit = remaining & (remaining.long().cumsum(-1) == digit[..., None] + 1)
            perm.append(hit.long().argmax(-1))
            remaining &= ~hit
        return torch.stack(perm, dim=-1)

    def index_of(self, perm: torch.Tensor) -> torch.Tensor:
        """Tile permutations (…, k²) → indices (…); the identity has none (ValueError)."""
        m = self.k * self.k
        perm = torch.as_tensor(perm).long()
        if perm.shape[-1:] != (m,):
            raise ValueError(f"permutations of a {self.k}x{self.k} grid have {m} entries, got shape "
                             f"{tuple(perm.shape)}")
        later = torch.arange(m, device=perm.device)
        later = later[None, :] > later[:, None]  # [i, j]: j comes after i
        smaller_later = ((perm[..., None, :] < perm[..., :, None]) & later).sum(-1)  # Lehmer digits
        weights = torch.tensor([math.factorial(m - 1 - i) for i in range(m)], device=perm.device)
        rank = (smaller_later * weights).sum(-1)
        if (rank == 0).any():
            raise ValueError("the identity permutation is not in JigsawPermutations (it is not a negative)")
        return rank - 1

    def describe(self, index: int) -> str:
        perm = self.permutation(torch.tensor(self._check_describe(index))).tolist()
        return f"{self.k}x{self.k} tiles: output tile s is input tile {tuple(perm)}[s]"

    def _apply_index(self, images, indices):
        return permute_tiles(images, self.k, self.permutation(indices))


@register("rotations")
@dataclasses.dataclass
class Rotations(DiscreteTransformSet):
    """Rotation by index × 90° counter-clockwise (index 0: unchanged), as ``torch.rot90`` on H,W.
    Needs square images, so every output keeps the input's shape.

    Example:
        >>> Rotations().apply_index(torch.arange(4.).view(1, 1, 2, 2), torch.tensor([1]))
        tensor([[[[1., 3.],
                  [0., 2.]]]])
    """

    @property
    def num_transforms(self) -> int:
        return 4

    def describe(self, index: int) -> str:
        index = self._check_describe(index)
        return "unchanged (0°)" if index == 0 else f"rotate {90 * index}° counter-clockwise"

    def _apply_index(self, images, indices):
        h, w = images.shape[-2:]
        if h != w:
            raise ValueError(f"Rotations needs square images (a 90° turn of {h}x{w} changes the shape); "
                             "crop or resize them to a square first")
        out = torch.empty_like(images)
        for quarter in range(4):  # grouped: one rot90 per angle present in the batch
            rows = (indices == quarter).nonzero().squeeze(1)
            if rows.numel():
                out[rows] = torch.rot90(images[rows], quarter, dims=(-2, -1))
        return out
