"""NDA-GAN training (Sinha et al., ICLR 2021, Eq. 3): the discriminator's negatives are a
λ-mixture of generated samples and negative augmentations of the real batch.

Run as ``hf-nda train gan ...``, ``python -m hf_nda.trainers.gan ...`` or
``accelerate launch -m hf_nda.trainers.gan ...`` with the same flags, e.g.::

    hf-nda train gan --dataset fashion_mnist --nda jigsaw --nda_lambda 0.25 --max_steps 2000 \\
        --output_dir runs/nda-gan --seed 0
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..hub import build_card, link_scoring_model, read_results, save_pretrained_atomic
from ..modeling import NDADiscriminator, NDADiscriminatorConfig, NDAGenerator, NDAGeneratorConfig
from ..processing import OneOf
from .base import BaseTrainer, BaseTrainingArguments, negative_names, run_cli
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

    def build(self) -> None:
        args = self.args
        self.load_training_data(args.nda_names)
        num_classes = int(self.train_labels.max()) + 1 if args.conditional else 0
        common = dict(architecture=args.architecture, image_size=args.image_size, num_channels=args.num_channels,
                      num_classes=num_classes)
        generator = NDAGenerator(NDAGeneratorConfig(latent_dim=args.latent_dim, base_channels=args.g_channels, **common))
        discriminator = NDADiscriminator(NDADiscriminatorConfig(base_channels=args.d_channels, **common))
        self.models = {"generator": generator, "discriminator": discriminator}
        self.optimizers = {
            "generator": torch.optim.Adam(generator.parameters(), lr=args.g_lr, betas=(args.g_beta1, args.g_beta2)),
            "discriminator": torch.optim.Adam(discriminator.parameters(), lr=args.d_lr, betas=(args.d_beta1, args.d_beta2)),
        }
        self.negative_transform = OneOf(args.nda_names) if args.nda_names else None
        if args.ema_decay > 0:
            self.add_ema("generator", args.ema_decay)
        self.sample_generator_seed = args.seed + 12345
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

    def micro_batches(self, *tensors):
        chunks = self.args.gradient_accumulation_steps
        split = [t.chunk(chunks) if t is not None else [None] * chunks for t in tensors]
        return list(zip(*split))

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

        def g_loss(micro):
            (n,) = micro
            y = self.fake_labels(n, generator)
            return generator_loss(D(self.generate(n, generator, y), labels=y).logits, args.loss)

        sizes = [len(c) for c in torch.empty(args.batch_size).chunk(args.gradient_accumulation_steps)]
        g = self.backward_and_step("generator", g_loss, [(n,) for n in sizes])
        return {"d_loss": float(torch.stack(d_losses).mean()), "g_loss": float(g)}

    # ---- outputs -----------------------------------------------------------------------------
    @torch.no_grad()
    def sample_images(self) -> torch.Tensor:
        g = self.exported("generator")
        was_training = g.training
        g.eval()
        n = self.args.num_samples
        labels = torch.arange(n, device=self.accelerator.device) % self.num_classes if self.num_classes else None
        images = g.generate(n, generator=torch.Generator().manual_seed(self.sample_generator_seed), labels=labels)
        g.train(was_training)
        return images

    def export(self, final_dir: Path) -> None:
        export_gan_run(final_dir, self.exported("generator"), self.unwrap("discriminator"), self.processor)


def gan_card(args, command: str, role: str, results: dict | None = None, repo_hint: str = "REPO_ID"):
    """The model card of an NDA-GAN run or one of its parts."""
    roles = {"run": "This repository holds the generator (`generator/`) and the discriminator (`discriminator/`, "
                    "also loadable from the top level).",
             "generator": "This folder is the generator.",
             "discriminator": "This folder is the discriminator: its logit scores how in-distribution an image is."}
    nda = ", ".join(args.nda_names) or "none (plain GAN)"
    context = dict(model_name=f"NDA-GAN ({nda}) on {args.dataset}", role_sentence=roles[role], dataset=args.dataset,
                   image_size=args.image_size, num_channels=args.num_channels, architecture=args.architecture,
                   nda=nda, nda_lambda=args.nda_lambda if args.nda_names else "—", loss=args.loss,
                   max_steps=args.max_steps, batch_size=args.batch_size, d_steps=args.d_steps, repo_hint=repo_hint)
    tags = ["gan", "negative-data-augmentation", "out-of-distribution-detection", "image-generation"]
    return build_card("nda_gan", dataset=args.dataset, tags=tags, command=command, context=context, results=results)


def write_cards(run_dir: Path) -> None:
    """(Re)write the run's and its models' cards from ``run_info.json`` and any evaluation results."""
    info = json.loads((run_dir / "run_info.json").read_text())
    args = NDAGANTrainingArguments(**info["args"])
    results = read_results(run_dir)
    for role, path in (("generator", run_dir / "generator"), ("discriminator", run_dir / "discriminator"),
                       ("run", run_dir)):
        gan_card(args, info["command"], role, results if role != "generator" else None).save(path / "README.md")


def export_gan_run(run_dir: Path, generator, discriminator, processor) -> None:
    """``generator/`` and ``discriminator/`` folders, the cards, and the top-level link that makes
    the run load as its discriminator."""
    save_pretrained_atomic(generator, run_dir / "generator", processor)
    save_pretrained_atomic(discriminator, run_dir / "discriminator", processor)
    processor.save_pretrained(run_dir)
    link_scoring_model(run_dir, "discriminator")
    write_cards(run_dir)


def main(argv=None) -> int:
    return run_cli(NDAGANTrainingArguments, NDAGANTrainer, argv)


if __name__ == "__main__":
    sys.exit(main())
