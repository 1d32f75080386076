"""CRL-TAC: contrastive learning with a trainable augmentation channel (Algorithm 1, App. 5.2).

Each step: (1) an h update — m transforms per image drawn from P(T|x), objective (2)'s Jensen
bound (eq. 17–19; ``--no_jensen``: the log-mean-exp numerator) with β; then (2) a policy update
that maximises objective (2) with h frozen, plus λ·H(T|x). The policy update is computed
**exactly** over the whole transform set by default (``--policy_update exact``): every crop of
every image is encoded (identical crops — all the blank ones — once), and objective (2) is a
differentiable function of P(T|x) through its three places: the outer expectation, the
numerator's E_{T'|x} and the denominator's marginal E_{x',T''} over the batch. The denominator is
what makes views that lose the identity of x (blank crops, identical across images) worthless: a
blank view is as likely under every image's channel as under its own. ``--policy_update sampled``
is the paper's line 7–8 (k uniform transforms per image, weighted by P(t|x), self-normalised).

``--policy uniform`` is SimCLR with the same encoder, views and objective (eq. 20).

Why the policy head scores crop windows (``--policy_head crops``, the default). With the paper's
FC head (``--policy_head fc``, Fig. 5) and the exact update, the policy left uniform within ~40
steps but for *image-independent* crop positions (digit mass ≈ 0.2, below uniform's 0.24): at that
point h only tells blank from non-blank crops, and a fixed set of crop positions then transmits
the digit's *cell* — real information about x, the only kind a young h can carry — so objective
(2) rewards it, and h, trained on those mostly blank views, never learns the digits (a local
optimum; same-image vs other-image similarity of digit crops 0.05 vs 0.07). The crop head
computes each crop's logit from the conv features under that crop's window (1×1 convs over an
average-pooled map): translation-equivariant, so a crop can be preferred only for what it shows.
Then the exact gradient (which at uniform already favours digit crops) moves the mass onto the
digit within ~80 steps, and h becomes instance-discriminative (0.999 vs 0.59).

Run as ``hf-nda train crl-tac ...``, ``python -m hf_nda.trainers.crl_tac ...`` or under
``accelerate launch``::

    hf-nda train crl-tac --dataset canvas_mnist --num_views 8 --beta 0.5 --entropy_weight 0.0025 \\
        --max_steps 1500 --output_dir runs/crl-tac --seed 0
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..data.batches import ImageSource
from ..modeling import ContrastiveEncoder, ContrastiveEncoderConfig
from ..modeling.configuration_crl_tac import AugmentationPolicyConfig
from ..modeling.modeling_crl_tac import AugmentationPolicyNetwork, CRLTACModel, view_keys, unique_rows
from ..modeling.modes import evaluation_mode
from ..processing.discrete import CropGrid
from .arguments import BaseTrainingArguments, run_cli
from .base import BaseTrainer
from .run_dir import HARMLESS_FLAGS

POLICIES = ("learned", "uniform")
POLICY_UPDATES = ("exact", "sampled")


# ---- objective (2) -------------------------------------------------------------------------------
def _in_float32(objective):
    """Objective (2) is a difference of logs of sums, about the size of the λ·H term: computed in float32
    even under bf16/fp16 autocast (float arguments cast up, autocast off inside)."""

    @functools.wraps(objective)
    def run(*args, **kwargs):
        args = [a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args]
        device = next((a.device.type for a in args if isinstance(a, torch.Tensor)), "cpu")
        with torch.autocast(device_type=device, enabled=False):
            return objective(*args, **kwargs)

    return run


@_in_float32
def h_objective(z: torch.Tensor, beta: float, jensen: bool = True) -> torch.Tensor:
    """Estimate of objective (2) from m views of each of N images (eq. 18–19), z: N,m,D normalised.

    For view (i,j): numerator E_{T'|x_i} over the other m−1 views of x_i — the mean of
    β zᵀz' (Jensen bound, eq. 18) or log-mean-exp (``jensen=False``); denominator log-mean-exp of
    β zᵀz'' over the other N·m − 1 views of the batch (eq. 19). Returns the mean over views; the
    h update maximises it. With m = 2 and P(T|x) uniform, −h_objective = NT-Xent(τ = 1/β) − log(2N−1)
    (eq. 20).

    Example:
        >>> z = F.normalize(torch.randn(4, 2, 8), dim=-1)
        >>> from hf_nda.trainers.contrastive import nt_xent
        >>> bool(torch.isclose(-h_objective(z, 0.5), nt_xent(z[:, 0], z[:, 1], 2.0) - math.log(7)))
        True
    """
    n, m, d = z.shape
    if m < 2 or n * m < 3:
        raise ValueError(f"objective (2) needs m >= 2 views of each image, got N={n}, m={m}")
    flat = z.reshape(n * m, d)
    logits = beta * flat @ flat.T
    eye = torch.eye(n * m, dtype=torch.bool, device=z.device)
    same = torch.block_diag(*[torch.ones(m, m, dtype=torch.bool, device=z.device)] * n) & ~eye
    den = logits.masked_fill(eye, float("-inf")).logsumexp(1) - math.log(n * m - 1)
    if jensen:
        num = (logits * same).sum(1) / (m - 1)
    else:
        num = logits.masked_fill(~same, float("-inf")).logsumexp(1) - math.log(m - 1)
    return (num - den).mean()


@_in_float32
def policy_objective(weights: torch.Tensor, view_index: torch.Tensor, codes: torch.Tensor,
                     beta: float) -> torch.Tensor:
    """Objective (2) as a function of the policy, h fixed (mean approximation Z ≈ h(T(x))):

        (1/N) Σ_i Σ_t w_it [ log Σ_t' w_it' e^{β s(t,t')} − log (1/N) Σ_i' Σ_t'' w_i't'' e^{β s(t,t'')} ]

    weights: N,K probabilities of K candidate views per image (rows sum to 1; all |T| transforms with
    P(T|x) for the exact objective); view_index: N,K row of each view in ``codes`` (U,D normalised
    h of the distinct views: identical views share a row). Differentiable in ``weights``.

    Example:
        >>> codes = F.normalize(torch.randn(3, 4), dim=1)
        >>> w = torch.full((2, 2), 0.5, requires_grad=True)
        >>> policy_objective(w, torch.tensor([[0, 1], [0, 2]]), codes, 0.5).backward()
        >>> w.grad.shape
        torch.Size([2, 2])
    """
    n = len(weights)
    kernel = torch.exp(beta * (codes @ codes.T - 1))  # the e^{-β} scale cancels between num and den
    own = kernel[view_index[:, :, None], view_index[:, None, :]]  # N,K,K: each image's views against each other
    num = torch.einsum("nkl,nl->nk", own, weights)
    marginal = torch.zeros(len(codes), dtype=weights.dtype, device=weights.device)
    marginal = marginal.index_add(0, view_index.reshape(-1), weights.reshape(-1)) / n
    den = (kernel @ marginal)[view_index]
    return (weights * (num.clamp_min(1e-30).log() - den.clamp_min(1e-30).log())).sum(1).mean()


def distinct_views(views: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(one row per distinct view, index of each view's row) of N,... views."""
    _, first, inverse = unique_rows(view_keys(views))
    return views[first], inverse


@dataclass
class CRLTACTrainingArguments(BaseTrainingArguments):
    """CRL-TAC flags; defaults are the paper's (App. 5.2–5.3) where it gives them."""

    dataset: str = field(default="canvas_mnist", metadata={"help": "canvas_mnist, canvas_fashion_mnist, or any "
                                                                    "image dataset the crop grid fits"})
    image_size: int = field(default=84, metadata={"help": "canvas size (84 = 3×28)"})
    max_steps: int = field(default=1500)
    policy: str = field(default="learned", metadata={"help": "learned (CRL-TAC) or uniform (SimCLR baseline)"})
    num_views: int = field(default=8, metadata={"help": "m, transforms per image in the h update (paper: 8)"})
    beta: float = field(default=0.5, metadata={"help": "β of p(z|T(x)) ∝ exp(β zᵀh(T(x))) (paper: 0.5)"})
    jensen: bool = field(default=True, metadata={"help": "h update on the Jensen bound (eq. 18); else log-mean-exp"})
    entropy_weight: float = field(default=0.0025, metadata={"help": "λ of λ·H(T|x) (paper: 0.0025)"})
    policy_head: str = field(default="crops", metadata={
        "help": "crops: a translation-equivariant score per crop window (default; module doc); fc: the paper's Fig. 5"})
    policy_update: str = field(default="exact", metadata={
        "help": "exact: objective (2) over every transform; sampled: k uniform transforms per image weighted "
                "by P(t|x) (Algorithm 1, lines 7–8)"})
    policy_samples: int = field(default=32, metadata={"help": "k of --policy_update sampled"})
    policy_warmup_steps: int = field(default=0, metadata={"help": "h-only steps before the first policy update"})
    crop_size: int = field(default=20)
    crop_stride: int = field(default=4)
    backbone: str = field(default="hf_nda_cnn3", metadata={"help": "timm name of f (paper: 3-layer CNN, 200-d)"})
    projection_dim: int = field(default=50, metadata={"help": "output of g (paper: 50)"})
    projection_hidden_dim: int = field(default=200)
    learning_rate: float = field(default=1e-3, metadata={"help": "Adam, encoder"})
    policy_learning_rate: float = field(default=1e-3, metadata={"help": "Adam, policy"})
    num_samples: int = field(default=8, metadata={"help": "images in the policy heat-map grid"})

    def validate(self) -> None:
        super().validate()
        if self.gradient_accumulation_steps != 1:
            raise ValueError("CRL-TAC's objective (2) compares every view with the whole batch: use "
                             "--gradient_accumulation_steps 1 and a larger --batch_size or more processes")
        if self.policy not in POLICIES:
            raise ValueError(f"--policy must be one of {POLICIES}, got {self.policy!r}")
        if self.policy_update not in POLICY_UPDATES:
            raise ValueError(f"--policy_update must be one of {POLICY_UPDATES}, got {self.policy_update!r}")
        if self.num_views < 2:
            raise ValueError(f"--num_views must be >= 2 (objective (2) compares views of one image), got {self.num_views}")
        if self.crop_size > self.image_size:
            raise ValueError(f"--crop_size {self.crop_size} does not fit in a {self.image_size}×{self.image_size} "
                             "canvas: use a smaller crop or a larger --image_size")
        if self.beta <= 0 or self.entropy_weight < 0 or self.policy_samples < 2:
            raise ValueError("--beta must be > 0, --entropy_weight >= 0 and --policy_samples >= 2")

    def transform_set(self) -> CropGrid:
        return CropGrid(crop_size=self.crop_size, stride=self.crop_stride, image_size=self.image_size)


class CRLTACTrainer(BaseTrainer):
    """Trains an :class:`AugmentationPolicyNetwork` and a contrastive encoder in turns (Algorithm 1).

    Example:
        >>> args = CRLTACTrainingArguments(output_dir="runs/crl-tac", max_steps=1500)  # doctest: +SKIP
        >>> CRLTACTrainer(args).train()  # doctest: +SKIP
    """

    family = "crl-tac"
    arguments_class = CRLTACTrainingArguments
    parts = ("policy", "encoder", "crl_tac")
    loads_as = "crl_tac"
    card_template = "crl_tac"
    card_tags = ("contrastive-learning", "augmentation-policy", "crl-tac", "image-feature-extraction")
    harmless_flags = HARMLESS_FLAGS | {"num_samples"}

    def build(self) -> None:
        args = self.args
        self.source = self.positioned_source()
        self.transforms = args.transform_set()
        policy = AugmentationPolicyNetwork(AugmentationPolicyConfig(
            transforms=self.transforms.to_dict(), num_channels=args.num_channels, image_size=args.image_size,
            kind=args.policy, head=args.policy_head))
        encoder = ContrastiveEncoder(ContrastiveEncoderConfig(
            backbone=args.backbone, num_channels=args.num_channels, image_size=args.crop_size,
            projection_dim=args.projection_dim, projection_hidden_dim=args.projection_hidden_dim))
        self.models = {"encoder": encoder}
        self.optimizers = {"encoder": torch.optim.Adam(encoder.parameters(), lr=args.learning_rate)}
        if args.policy == "learned":
            self.models["policy"] = policy
            self.optimizers["policy"] = torch.optim.Adam(policy.parameters(), lr=args.policy_learning_rate)
        else:
            self.add_frozen("policy", policy)
        self.digit_mask = self.cell_mask()

    def part_processor(self, name: str):
        """The encoder is saved with a processor at the crop size: alone, it encodes crop-sized images."""
        if name != "encoder" or self.processor is None:
            return self.processor
        crop = {"height": self.args.crop_size, "width": self.args.crop_size}
        return type(self.processor).from_dict({**self.processor.to_dict(), "size": crop})

    def positioned_source(self) -> ImageSource:
        """The training split; canvas datasets add each image's cell (for the digit-mass metric)."""
        from ..data.sources import LOCAL_BUILDERS, load_image_dataset

        plain = self.image_source()
        positions = torch.full((len(plain),), -1, dtype=torch.long)
        if self.args.dataset in LOCAL_BUILDERS and self.args.dataset.startswith("canvas_"):
            column = load_image_dataset(self.args.dataset, "train", data_dir=self.args.data_dir)["position"]
            positions = torch.as_tensor(column, dtype=torch.long)[:len(plain)]
        return plain.with_columns(positions)

    def cell_mask(self) -> torch.Tensor | None:
        """9,|T|: crop t intersects canvas cell c (None unless the canvas is 3×3 cells)."""
        from ..data.canvas import cell_crop_mask

        if self.args.image_size % 3:
            return None
        return cell_crop_mask(self.transforms).to(self.accelerator.device)

    # ---- Algorithm 1 -----------------------------------------------------------------------------
    def training_step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        x, _, positions = self.batch(step)
        logs = self.h_update(x, generator)
        if self.args.policy == "learned" and step >= self.args.policy_warmup_steps:
            logs.update(self.policy_update(x, generator))
        logs.update(self.policy_stats(x, positions))
        return logs

    def h_update(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, float]:
        """Lines 3–5: m transforms per image from P(T|x), objective (2)'s bound, one encoder step."""
        args, m = self.args, self.args.num_views
        index = self.unwrap("policy").sample(x, m, generator)
        views = self.transforms.apply_index(x.repeat_interleave(m, dim=0), index.reshape(-1))

        def loss_fn(_):
            z = self.models["encoder"](views).projections.view(len(x), m, -1)
            return -h_objective(z, args.beta, args.jensen)

        loss = self.backward_and_step("encoder", loss_fn, [None])
        return {"h_objective": -float(loss)}

    def policy_update(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, float]:
        """Lines 7–8: objective (2) as a function of P(T|x) with h frozen (every transform, or k
        uniform ones weighted by P(t|x)), minus λ·H(T|x); one policy step."""
        args = self.args
        candidates = None
        if args.policy_update == "sampled":
            candidates = torch.randint(0, self.transforms.num_transforms, (len(x), args.policy_samples),
                                       generator=generator).to(x.device)
        codes, view_index = self.encode_candidates(x, candidates)
        stats = {}

        def loss_fn(_):
            out = self.models["policy"](x)
            weights = out.probs if candidates is None else _renormalised(out.probs.gather(1, candidates))
            objective = policy_objective(weights, view_index, codes, args.beta)
            entropy = out.entropy.mean()
            stats.update(policy_objective=float(objective.detach()))  # H(T|x) is logged after the update
            return -(objective + args.entropy_weight * entropy)

        self.backward_and_step("policy", loss_fn, [None])
        return stats

    @torch.no_grad()
    def encode_candidates(self, x: torch.Tensor, candidates: torch.Tensor | None):
        """h of the distinct candidate views (encoder frozen, eval mode) and each view's row."""
        encoder = self.unwrap("encoder")
        if candidates is None:
            views = self.transforms.apply_all(x)
        else:
            k = candidates.shape[1]
            views = self.transforms.apply_index(x.repeat_interleave(k, dim=0), candidates.reshape(-1)).view(
                len(x), k, *x.shape[1:2], self.args.crop_size, self.args.crop_size)
        n, k = views.shape[:2]
        distinct, index = distinct_views(views.reshape(n * k, *views.shape[2:]))
        with evaluation_mode(encoder):
            codes = torch.cat([encoder(part).projections for part in distinct.split(4096)])
        return codes.float(), index.view(n, k)

    @torch.no_grad()
    def policy_stats(self, x: torch.Tensor, positions: torch.Tensor) -> dict[str, float]:
        """H(T|x) and the mass P(T|x) puts on crops that intersect the image's cell."""
        out = self.unwrap("policy")(x)
        stats = {"entropy": float(out.entropy.mean())}
        known = positions >= 0
        if self.digit_mask is not None and known.any():
            mask = self.digit_mask[positions[known]].to(out.probs.dtype)
            stats["digit_mass"] = float((out.probs[known] * mask).sum(1).mean())
        return stats

    # ---- outputs ---------------------------------------------------------------------------------
    def exported(self, name: str) -> torch.nn.Module:
        if name == "crl_tac":
            return CRLTACModel.from_parts(self.unwrap("policy"), self.unwrap("encoder"), beta=self.args.beta)
        return super().exported(name)

    @torch.no_grad()
    def sample_images(self) -> torch.Tensor:
        """Two rows: canvases, then their P(T|x) as 17×17 heat maps (brightest = most probable)."""
        from ..evaluation.policy_maps import heat_maps

        x = self.source.images[:self.args.num_samples].to(self.accelerator.device)
        maps = heat_maps(self.unwrap("policy")(x).probs, self.transforms)
        size = x.shape[-1]
        maps = F.interpolate(maps[:, None], size=(size, size), mode="nearest") * 2 - 1
        return torch.cat([x, maps.expand(-1, x.shape[1], -1, -1)])

    def sample_grid_columns(self, images: torch.Tensor) -> int:
        return len(images) // 2

    @classmethod
    def card_context(cls, args, role: str, evaluation: dict) -> dict:
        last = evaluation["history"][-1] if evaluation["history"] else {}
        policy = "learned P(T|x) (CRL-TAC)" if args.policy == "learned" else "uniform P(T|x) (SimCLR)"
        return dict(model_name=f"CRL-TAC, {policy}, on {args.dataset}", dataset=args.dataset, policy=policy,
                    image_size=args.image_size, crop_size=args.crop_size, crop_stride=args.crop_stride,
                    num_views=args.num_views, beta=args.beta, entropy_weight=args.entropy_weight,
                    policy_update=args.policy_update, max_steps=args.max_steps, batch_size=args.batch_size,
                    backbone=args.backbone, projection_dim=args.projection_dim, role=role,
                    digit_mass=last.get("digit_mass"), entropy=last.get("entropy"), probe=evaluation["probe"])


def _renormalised(weights: torch.Tensor) -> torch.Tensor:
    return weights / weights.sum(1, keepdim=True)


def main(argv=None) -> int:
    return run_cli(CRLTACTrainer, argv)


if __name__ == "__main__":
    sys.exit(main())
