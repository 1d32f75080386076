"""NDA-GAN training (Sinha et al., ICLR 2021, Eq. 3): the discriminator's negatives are a
λ-mixture of generated samples and negative augmentations of the real batch.

Run as ``hf-nda train gan ...``, ``python -m hf_nda.trainers.gan ...`` or
``accelerate launch -m hf_nda.trainers.gan ...`` with the same flags, e.g.::

    hf-nda train gan --dataset fashion_mnist --nda jigsaw --nda_lambda 0.25 --max_steps 2000 \\
        --output_dir runs/nda-gan --seed 0
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import torch

from ..modeling import NDADiscriminator, NDADiscriminatorConfig, NDAGenerator, NDAGeneratorConfig
from ..modeling.modes import evaluation_mode
from ..processing import OneOf
from .arguments import BaseTrainingArguments, negative_names, run_cli
from .base import BaseTrainer
from .run_dir import HARMLESS_FLAGS
from .losses import GAN_LOSSES, discriminator_loss, generator_loss, mixture_counts


@dataclass
class NDAGANTrainingArguments(BaseTrainingArguments):
    """NDA-GAN flags; defaults follow the paper's App. K where it gives them."""

    architecture: str = field(default="dcgan", metadata={"help": "dcgan or resnet (SNGAN/BigGAN-style)"})
    latent_dim: int = field(default=128)
    g_channels: int = field(default=64, metadata={"help": "generator width"})
    d_channels: int = field(default=64, metadata={"help": "discriminator width"})
    conditional: bool = field(default=False, metadata={"help": "class-conditional G (cond. BN) and D (projection)"})
    loss: str = field(default="hinge", metadata={"help": "hinge or js (BCE on logits)"})
    nda: list[str] = field(default_factory=lambda: ["jigsaw"],
                           metadata={"help": "negative transform name(s), e.g. jigsaw stitch; 'none' = plain GAN"})
    nda_lambda: float = field(default=0.25, metadata={"help": "λ of Eq. 3: share of generated samples among D's negatives"})
    d_steps: int = field(default=4, metadata={"help": "discriminator updates per generator update"})
    g_lr: float = field(default=2e-4)
    d_lr: float = field(default=2e-4)
    g_beta1: float = field(default=0.5)
    g_beta2: float = field(default=0.999)
    d_beta1: float = field(default=0.5)
    d_beta2: float = field(default=0.999)
    ema_decay: float = field(default=0.999, metadata={"help": "EMA of G's weights (0 disables)"})
    num_samples: int = field(default=64, metadata={"help": "images per sample grid"})

    @property
    def nda_names(self) -> list[str]:
        return negative_names(self.nda)

    def validate(self) -> None:
        super().validate()
        if self.loss not in GAN_LOSSES:
            raise ValueError(f"--loss must be one of {GAN_LOSSES}, got {self.loss!r}")
        if self.d_steps < 1:
            raise ValueError("--d_steps must be >= 1")
        mixture_counts(self.batch_size, self.nda_lambda)
        if self.nda_names:
            OneOf(self.nda_names)  # unknown names fail here, before any work


class NDAGANTrainer(BaseTrainer):
    """Trains an :class:`NDAGenerator` / :class:`NDADiscriminator` pair with NDA negatives.

    Example:
        >>> args = NDAGANTrainingArguments(output_dir="runs/demo", max_steps=100)  # doctest: +SKIP
        >>> NDAGANTrainer(args).train()  # doctest: +SKIP
    """

    family = "gan"
    arguments_class = NDAGANTrainingArguments
    parts = ("generator", "discriminator")
    loads_as = "discriminator"  # the run is an OOD scorer
    card_template = "nda_gan"
    card_tags = ("gan", "negative-data-augmentation", "out-of-distribution-detection", "image-generation")
    harmless_flags = HARMLESS_FLAGS | {"num_samples"}

    def build(self) -> None:
        args = self.args
        self.source = self.image_source(args.nda_names)
        num_classes = int(self.source.labels.max()) + 1 if args.conditional else 0
        common = dict(architecture=args.architecture, image_size=args.image_size, num_channels=args.num_channels,
                      num_classes=num_classes)
        G = NDAGenerator(NDAGeneratorConfig(latent_dim=args.latent_dim, base_channels=args.g_channels, **common))
        D = NDADiscriminator(NDADiscriminatorConfig(base_channels=args.d_channels, **common))
        self.models = {"generator": G, "discriminator": D}
        self.optimizers = {
            "generator": torch.optim.Adam(G.parameters(), lr=args.g_lr, betas=(args.g_beta1, args.g_beta2)),
            "discriminator": torch.optim.Adam(D.parameters(), lr=args.d_lr, betas=(args.d_beta1, args.d_beta2)),
        }
        self.negative_transform = OneOf(args.nda_names) if args.nda_names else None
        if args.ema_decay > 0:
            self.add_ema("generator", args.ema_decay)
        self.num_classes = num_classes

    # ---- the NDA-GAN step --------------------------------------------------------------------
    def fake_labels(self, n: int, generator: torch.Generator):
        if not self.num_classes:
            return None
        return torch.randint(self.num_classes, (n,), generator=generator).to(self.accelerator.device)

    def generate(self, n: int, generator: torch.Generator, labels=None) -> torch.Tensor:
        g = self.models["generator"]
        z = torch.randn(n, self.args.latent_dim, generator=generator).to(self.accelerator.device)
        return g(z, labels=labels).images

    def negatives(self, real: torch.Tensor, labels, generator: torch.Generator):
        """D's negatives for one real batch: Eq. 3's λ-mixture of G samples and NDA(real)."""
        n_generated, n_nda = mixture_counts(len(real), self.args.nda_lambda) if self.negative_transform else (len(real), 0)
        parts, part_labels = [], []
        if n_generated:
            fake_labels = self.fake_labels(n_generated, generator)
            with torch.no_grad():
                parts.append(self.generate(n_generated, generator, fake_labels))
            part_labels.append(fake_labels)
        if n_nda:
            parts.append(self.negative_transform(real[:n_nda], generator=generator,
                                                 labels=None if labels is None else labels[:n_nda]))
            part_labels.append(None if labels is None else labels[:n_nda])
        negative_labels = torch.cat(part_labels) if self.num_classes else None
        return torch.cat(parts), negative_labels

    def training_step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        args = self.args
        D = self.models["discriminator"]
        d_losses = []
        for k in range(args.d_steps):
            real, labels = self.batch(step * args.d_steps + k)
            labels = labels if self.num_classes else None

            def d_loss(micro):
                x, y = micro
                negatives, negative_labels = self.negatives(x, y, generator)
                both_labels = torch.cat([y, negative_labels]) if self.num_classes else None
                logits = D(torch.cat([x, negatives]), labels=both_labels).logits
                return discriminator_loss(logits[:len(x)], logits[len(x):], args.loss)

            d_losses.append(self.backward_and_step("discriminator", d_loss, self.micro_batches(real, labels)))

        sizes = [len(c) for c in torch.empty(args.batch_size).chunk(args.gradient_accumulation_steps)]
        with self.frozen("discriminator") as frozen_D:  # G's update computes no weight gradients of D

            def g_loss(micro):
                (n,) = micro
                y = self.fake_labels(n, generator)
                return generator_loss(frozen_D(self.generate(n, generator, y), labels=y).logits, args.loss)

            g = self.backward_and_step("generator", g_loss, [(n,) for n in sizes])
        return {"d_loss": float(torch.stack(d_losses).mean()), "g_loss": float(g)}

    # ---- outputs -----------------------------------------------------------------------------
    @torch.no_grad()
    def sample_images(self) -> torch.Tensor:
        n = self.args.num_samples
        labels = torch.arange(n, device=self.accelerator.device) % self.num_classes if self.num_classes else None
        with evaluation_mode(self.exported("generator")) as g:
            return g.generate(n, generator=torch.Generator().manual_seed(self.args.seed + 12345), labels=labels)

    @classmethod
    def card_context(cls, args, role: str, evaluation: dict) -> dict:
        roles = {"run": "This repository holds the generator (`generator/`) and the discriminator (`discriminator/`, "
                        "also loadable from the top level).",
                 "generator": "This folder is the generator.",
                 "discriminator": "This folder is the discriminator: its logit scores how in-distribution an image is."}
        nda = ", ".join(args.nda_names) or "none (plain GAN)"
        return dict(model_name=f"NDA-GAN ({nda}) on {args.dataset}", role_sentence=roles[role], dataset=args.dataset,
                    image_size=args.image_size, num_channels=args.num_channels, architecture=args.architecture,
                    nda=nda, nda_lambda=args.nda_lambda if args.nda_names else "—", loss=args.loss,
                    max_steps=args.max_steps, batch_size=args.batch_size, d_steps=args.d_steps)


def main(argv=None) -> int:
    return run_cli(NDAGANTrainer, argv)


if __name__ == "__main__":
    sys.exit(main())
