"""Adversarial Mixup Resynthesis (Beckham et al., NeurIPS 2019): an autoencoder whose mixed latent
codes must decode to images that fool a discriminator (Eq. 3), optionally with the supervised class
mixer (Eq. 7), or ACAI's interpolation critic as the comparison baseline.

An online linear probe on the (detached) bottleneck is trained beside the models and logged as
``probe_acc`` (§4.1: it sends no gradient into the encoder).

Run as ``hf-nda train amr ...``, ``python -m hf_nda.trainers.amr ...`` or under ``accelerate launch``::

    hf-nda train amr --dataset mnist --mixer mixup --k 2 --lambda_recon 10 --bottleneck 32 \\
        --max_steps 1500 --output_dir runs/amr --seed 0
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..modeling import AMRAutoencoder, AMRConfig, AMRDiscriminator, AMRDiscriminatorConfig
from ..modeling.configuration_amr import LATENT_SIZE, MIXERS
from ..modeling.modes import evaluation_mode
from .arguments import BaseTrainingArguments, run_cli
from .base import BaseTrainer
from .run_dir import HARMLESS_FLAGS
from .losses import fake_loss, real_loss

ADVERSARIES = ("gan", "acai")


# ---- losses (Eq. 3 and Eq. 7; ACAI); ℓ_GAN is the JS-GAN term of hf_nda.trainers.losses ----------
def reconstruction_loss(x: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """‖x − g(f(x))‖², averaged over pixels and images."""
    return F.mse_loss(reconstructions, x)


def autoencoder_loss(x, reconstructions, recon_logits, mix_logits, lambda_recon: float) -> torch.Tensor:
    """The autoencoder's side of Eq. 3: λ‖x − g(f(x))‖² + ℓ(D(g(f(x))), 1) + ℓ(D(g(Mix)), 1).
    ``mix_logits=None`` is AE+GAN (Eq. 2)."""
    loss = lambda_recon * reconstruction_loss(x, reconstructions) + real_loss(recon_logits)
    return loss if mix_logits is None else loss + real_loss(mix_logits)


def amr_discriminator_loss(real_logits, recon_logits, mix_logits) -> torch.Tensor:
    """The discriminator's side of Eq. 3: ℓ(D(x), 1) + ℓ(D(g(f(x))), 0) + ℓ(D(g(Mix)), 0) — one mean per
    term (not :func:`~hf_nda.trainers.losses.discriminator_loss`'s one mean over all negatives)."""
    loss = real_loss(real_logits) + fake_loss(recon_logits)
    return loss if mix_logits is None else loss + fake_loss(mix_logits)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """ℓ_cls(p(y|x), ỹ) with the soft target ỹ = αy1 + (1−α)y2 of Eq. 7."""
    return -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()


def acai_critic_loss(alpha_pred, alpha, blend_pred) -> torch.Tensor:
    """ACAI's critic: ‖C(x̂_α) − α‖² + ‖C(γx + (1−γ)g(f(x)))‖² (Berthelot et al., 2019)."""
    return F.mse_loss(alpha_pred, alpha) + blend_pred.pow(2).mean()


@dataclass
class AMRTrainingArguments(BaseTrainingArguments):
    """AMR flags; optimiser defaults are the paper's §4.1 (Adam 1e-4, β = (0.5, 0.99), weight decay 1e-5)."""

    dataset: str = field(default="mnist", metadata={"help": "mnist, fashion_mnist, digits, or a path"})
    mixer: str = field(default="mixup", metadata={"help": "mixup (Eq. 4/6), bernoulli (Eq. 5) or none (AE+GAN)"})
    k: int = field(default=2, metadata={"help": "codes per mix (k > 2: Dirichlet mixup / k-way Bernoulli)"})
    lambda_recon: float = field(default=10.0, metadata={"help": "λ, weight of the reconstruction term (Eq. 3)"})
    bottleneck: int = field(default=32, metadata={"help": "code size, a multiple of 16 (C × 4 × 4): 32, 256, 1024"})
    base_channels: int = field(default=16, metadata={"help": "autoencoder width at full resolution"})
    d_channels: int = field(default=16, metadata={"help": "discriminator width at full resolution"})
    supervised: bool = field(default=False, metadata={
        "help": "learn the class mixer of §2.2 through a classifier branch of D (Eq. 7; needs labels)"})
    cls_weight: float = field(default=1.0, metadata={"help": "weight of the class-consistency term of Eq. 7"})
    adversary: str = field(default="gan", metadata={"help": "gan (AMR / AE+GAN) or acai (interpolation critic)"})
    acai_weight: float = field(default=0.5, metadata={"help": "ACAI: weight of the autoencoder's critic term"})
    acai_gamma: float = field(default=0.2, metadata={"help": "ACAI: γ of the critic's regulariser"})
    learning_rate: float = field(default=1e-4)
    beta1: float = field(default=0.5)
    beta2: float = field(default=0.99)
    weight_decay: float = field(default=1e-5)
    probe_learning_rate: float = field(default=1e-3, metadata={"help": "online linear probe (no gradient to the encoder)"})
    num_samples: int = field(default=8, metadata={"help": "image pairs in the sample grids"})

    def validate(self) -> None:
        super().validate()
        if self.mixer not in MIXERS:
            raise ValueError(f"--mixer must be one of {MIXERS}, got {self.mixer!r}")
        if self.adversary not in ADVERSARIES:
            raise ValueError(f"--adversary must be one of {ADVERSARIES}, got {self.adversary!r}")
        if self.adversary == "acai" and (self.mixer != "mixup" or self.k != 2 or self.supervised):
            raise ValueError("ACAI interpolates two codes: use --adversary acai with --mixer mixup --k 2, unsupervised")
        if self.bottleneck < LATENT_SIZE**2 or self.bottleneck % LATENT_SIZE**2:
            raise ValueError(f"--bottleneck must be a multiple of {LATENT_SIZE**2} (C × 4 × 4), got {self.bottleneck}")
        micro = self.batch_size // self.gradient_accumulation_steps
        if not 2 <= self.k <= micro:
            raise ValueError(f"--k ({self.k}) must be between 2 and the images per micro-batch ({micro}): "
                             "each mix combines k different images of the batch")


class AMRTrainer(BaseTrainer):
    """Trains an :class:`AMRAutoencoder` against an :class:`AMRDiscriminator` (Eq. 3; Eq. 7 with
    ``supervised``; ACAI with ``adversary="acai"``), with an online linear probe on the codes.

    Example:
        >>> args = AMRTrainingArguments(output_dir="runs/amr", mixer="mixup", k=2, max_steps=1500)  # doctest: +SKIP
        >>> AMRTrainer(args).train()  # doctest: +SKIP
    """

    family = "amr"
    arguments_class = AMRTrainingArguments
    parts = ("autoencoder", "discriminator")
    loads_as = "autoencoder"
    card_template = "amr"
    card_tags = ("autoencoder", "mixup", "adversarial-mixup-resynthesis", "representation-learning")
    harmless_flags = HARMLESS_FLAGS | {"num_samples"}

    def build(self) -> None:
        args = self.args
        self.source = self.image_source()
        num_classes = int(self.source.labels.max()) + 1
        supervised_classes = num_classes if args.supervised else 0
        common = dict(image_size=args.image_size, num_channels=args.num_channels)
        autoencoder = AMRAutoencoder(AMRConfig(base_channels=args.base_channels, mixer=args.mixer, mixer_k=args.k,
                                               latent_channels=args.bottleneck // LATENT_SIZE**2,
                                               num_classes=supervised_classes, **common))
        discriminator = AMRDiscriminator(AMRDiscriminatorConfig(
            base_channels=args.d_channels, num_classes=supervised_classes, spectral_norm=args.adversary == "gan",
            **common))
        probe = torch.nn.Linear(args.bottleneck, num_classes)
        self.models = {"autoencoder": autoencoder, "discriminator": discriminator, "probe": probe}
        adam = dict(lr=args.learning_rate, betas=(args.beta1, args.beta2), weight_decay=args.weight_decay)
        self.optimizers = {"autoencoder": torch.optim.Adam(autoencoder.parameters(), **adam),
                           "discriminator": torch.optim.Adam(discriminator.parameters(), **adam),
                           "probe": torch.optim.Adam(probe.parameters(), lr=args.probe_learning_rate)}

    # ---- the AMR step ----------------------------------------------------------------------------
    def training_step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        args = self.args
        real, labels = self.batch(step)
        micro = self.micro_batches(real, labels)
        outputs, logs = [], {}
        # 1. the autoencoder, against the frozen discriminator
        with self.frozen("discriminator") as D:

            def ae_loss(batch):
                x, y = batch
                out = self.models["autoencoder"](x, mixer=args.mixer, k=args.k, labels=y if args.supervised else None,
                                                 generator=generator)
                outputs.append((x, y, out))
                return self.autoencoder_objective(D, x, out, logs)

            ae = self.backward_and_step("autoencoder", ae_loss, micro)
        # 2. the discriminator on the same (detached) reconstructions and mixes
        d = self.backward_and_step("discriminator", lambda item: self.discriminator_objective(*item), outputs)
        # 3. the online probe on detached codes
        probe_hits = []

        def probe_loss(item):
            _, y, out = item
            logits = self.models["probe"](out.features.detach().float())
            probe_hits.append((logits.argmax(1) == y).float().mean())
            return F.cross_entropy(logits, y)

        self.backward_and_step("probe", probe_loss, outputs)
        logs.update(ae_loss=float(ae), d_loss=float(d), probe_acc=float(torch.stack(probe_hits).mean()))
        return logs

    def autoencoder_objective(self, D, x, out, logs) -> torch.Tensor:
        args = self.args
        recon = reconstruction_loss(x, out.reconstructions)
        logs["recon"] = float(recon.detach())
        if args.adversary == "acai":
            critic = D(out.mixes).logits
            return args.lambda_recon * recon + args.acai_weight * critic.pow(2).mean()
        mix_logits = D(out.mixes).logits if out.mixes is not None else None
        loss = autoencoder_loss(x, out.reconstructions, D(out.reconstructions).logits, mix_logits, args.lambda_recon)
        if out.class_mixes is not None:  # Eq. 7: fool D with the class mix and make its class ỹ
            d_out = D(out.class_mixes)
            cls = soft_cross_entropy(d_out.class_logits, out.class_mix_targets)
            logs["class_mix_cls"] = float(cls.detach())
            loss = loss + real_loss(d_out.logits) + args.cls_weight * cls
        return loss

    def discriminator_objective(self, x, y, out) -> torch.Tensor:
        args, D = self.args, self.models["discriminator"]
        recon = out.reconstructions.detach()
        if args.adversary == "acai":
            alpha = out.mix_weights.min(dim=1).values.detach()  # distance of the mix to the nearer endpoint
            gamma = args.acai_gamma
            logits = D(torch.cat([out.mixes.detach(), gamma * x + (1 - gamma) * recon])).logits
            return acai_critic_loss(logits[:len(x)], alpha, logits[len(x):])
        parts = [x, recon] + ([out.mixes.detach()] if out.mixes is not None else [])
        parts += [out.class_mixes.detach()] if out.class_mixes is not None else []
        d_out = D(torch.cat(parts))
        logits = d_out.logits.split([len(p) for p in parts])
        loss = amr_discriminator_loss(logits[0], logits[1], logits[2] if out.mixes is not None else None)
        if out.class_mixes is not None:  # Eq. 7: label class mixes fake; the classifier branch learns p(y|x) on real
            loss = loss + fake_loss(logits[-1]) + F.cross_entropy(d_out.class_logits[:len(x)], y)
        return loss

    # ---- outputs -----------------------------------------------------------------------------
    @torch.no_grad()
    def sample_images(self) -> torch.Tensor:
        """8 rows: x1, x2, g(f(x1)), the midpoint mix of (x1, x2) with the run's mixer, then
        interpolations x1 → x2 for the first four pairs (one pair per row)."""
        n = self.args.num_samples
        x = self.source.images[:2 * n].to(self.accelerator.device)
        x1, x2 = x[:n], x[n:2 * n]
        mixer = self.args.mixer if self.args.mixer != "none" else "mixup"  # AE+GAN: show the ghosting of plain interpolation
        with evaluation_mode(self.unwrap("autoencoder")) as ae:
            h1, h2 = ae.encode(x1), ae.encode(x2)
            mid, _ = ae.mix([h1, h2], mixer=mixer, weights=torch.tensor([0.5, 0.5]),
                            generator=torch.Generator().manual_seed(0))
            rows = [x1, x2, ae.decode(h1), ae.decode(mid)]
            rows += list(ae.interpolate(x1[:4], x2[:4], steps=n))
        return torch.cat(rows)

    def sample_grid_columns(self, images: torch.Tensor) -> int:
        return self.args.num_samples  # one pair (or interpolation step) per column

    @classmethod
    def card_context(cls, args, role: str, evaluation: dict) -> dict:
        method = {"none": "AE+GAN (no mixing)", "mixup": f"mixup, k = {args.k}",
                  "bernoulli": f"Bernoulli mixup, k = {args.k}"}
        mixing = "ACAI critic (mixup, k = 2)" if args.adversary == "acai" else method[args.mixer]
        mixing += " + supervised class mixer (Eq. 7)" if args.supervised else ""
        online = max((r["probe_acc"] for r in evaluation["history"] if "probe_acc" in r), default=None)
        return dict(model_name=f"AMR ({mixing}) on {args.dataset}", dataset=args.dataset, mixing=mixing,
                    image_size=args.image_size, num_channels=args.num_channels, bottleneck=args.bottleneck,
                    lambda_recon=args.lambda_recon, max_steps=args.max_steps, batch_size=args.batch_size,
                    probe=evaluation["probe"], online_probe=online)


def main(argv=None) -> int:
    return run_cli(AMRTrainer, argv)


if __name__ == "__main__":
    sys.exit(main())
