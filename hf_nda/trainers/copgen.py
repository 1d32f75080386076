"""COP-Gen (Li et al., 2022, Eq. 5–6): a latent navigator z' = z + T(z) over a frozen pretrained
generator, trained against a contrastive mutual-information estimator f.

Each step draws fresh latents z (no dataset) and makes anchors G(z) (no gradient) and positives
G(z + T(z)), one differentiable SimCLR view of each; then

1. **estimator**: one step minimising NT-Xent(f(v), f(v')) on the detached views;
2. **navigator**: one step *maximising* the same NT-Xent through the just-updated (frozen) estimator —
   gradients pass the views and the frozen generator into T.

Where the authors' code only logs (the δ constraint) or leaves it to the eye (when to stop), this
trainer enforces and measures (see the README's COP-Gen section):

- δ: ``--constraint project`` (default) scales z' − z back onto the δ-ball; ``penalty`` adds
  ``delta_penalty · relu(‖z' − z‖ − δ)²``; ``monitor`` only logs and warns (the paper's code);
- the shared part of T(z) (its batch mean) is removed by default (``--center``) and logged apart
  from the instance-specific part, so the navigator cannot turn every positive into one image;
- every ``--eval_steps`` a frozen reference classifier fitted on real labelled images measures how
  many pairs keep their anchor's class (``agreement``); the exported navigator is the last one
  that kept ``--min_agreement``, and the run stops after ``--patience`` evaluations below it.

``--positive gaussian`` (GenRep's z + σ·truncnorm, σ = 0.2) and ``--positive none`` write the same
run layout without training.

    hf-nda train copgen --generator runs/nda-gan --dataset fashion_mnist --max_steps 500 --output_dir runs/copgen
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data.batches import LatentSource
from ..modeling import ContrastiveEncoder, ContrastiveEncoderConfig
from ..modeling.configuration_copgen import CONSTRAINTS, NAVIGATORS, POSITIVES, COPGenNavigatorConfig
from ..modeling.generators import PRIOR_FILE, load_generator
from ..modeling.modeling_copgen import COPGenNavigator
from ..modeling.modes import evaluation_mode
from ..processing import MoCoV2Views, NDAImageProcessor
from .arguments import BaseTrainingArguments, run_cli
from .base import BaseTrainer
from .run_dir import HARMLESS_FLAGS
from .contrastive import nt_xent

logger = logging.getLogger(__name__)


@dataclass
class COPGenTrainingArguments(BaseTrainingArguments):
    """COP-Gen flags; defaults follow the authors' code (Adam (0.5, 0.999), lr 3e-5 / 1e-5, τ 0.1)."""

    generator: str = field(default="", metadata={"help": "generator folder or repo id (NDA-GAN run or generator, "
                                                         "AMR run, diffusers UNet2DModel + scheduler folder)"})
    generator_kind: str | None = field(default=None, metadata={"help": "nda_gan, amr or ddim (default: detected)"})
    truncation: float = field(default=2.0, metadata={"help": "latents ~ N(0, I) truncated to ±truncation (0: none)"})
    dataset: str = field(default="fashion_mnist", metadata={
        "help": "real labelled data for the agreement monitor (and the AMR prior); never used for training"})
    positive: str = field(default="copgen", metadata={"help": f"one of {POSITIVES}"})
    navigator: str = field(default="nonlinear", metadata={"help": f"one of {NAVIGATORS}"})
    sigma: float = field(default=0.2, metadata={"help": "σ of the Gaussian baseline (and the reference scale)"})
    delta: float = field(default=0.0, metadata={"help": "δ of d(z, z') ≤ δ; 0 = σ·√latent_dim"})
    constraint: str = field(default="project", metadata={"help": f"one of {CONSTRAINTS}"})
    delta_penalty: float = field(default=10.0, metadata={"help": "weight of the penalty beyond δ (--constraint penalty)"})
    center: bool = field(default=True, metadata={"help": "remove the shared (batch-mean) part of T(z)"})
    estimator_backbone: str = field(default="hf_nda_cnn3", metadata={"help": "timm backbone of f (paper: resnet18)"})
    projection_dim: int = field(default=128)
    temperature: float = field(default=0.1)
    estimator_lr: float = field(default=3e-5)
    navigator_lr: float = field(default=1e-5)
    beta1: float = field(default=0.5)
    beta2: float = field(default=0.999)
    eval_steps: int = field(default=100, metadata={"help": "agreement monitor every N steps (0: off)"})
    eval_latents: int = field(default=512, metadata={"help": "fixed latents the monitor decodes"})
    min_agreement: float = field(default=0.0, metadata={
        "help": "keep (and export) the last navigator whose agreement is at least this; 0: keep the last"})
    patience: int = field(default=3, metadata={"help": "stop after this many evaluations below --min_agreement"})
    num_samples: int = field(default=8, metadata={"help": "anchor/positive pairs per sample grid row"})
    batch_size: int = field(default=64)
    max_steps: int = field(default=500)
    sample_steps: int = field(default=100)

    def validate(self) -> None:
        super().validate()
        if not self.generator:
            raise ValueError("--generator is required: a generator folder or repo id (e.g. an NDA-GAN run directory)")
        for name, allowed in (("positive", POSITIVES), ("navigator", NAVIGATORS), ("constraint", CONSTRAINTS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"--{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.gradient_accumulation_steps != 1:
            raise ValueError("COP-Gen alternates one estimator and one navigator step on one decoded batch: use "
                             "--gradient_accumulation_steps 1")
        if self.batch_size < 2:
            raise ValueError("NT-Xent needs at least 2 pairs per batch: --batch_size >= 2")
        if not 0.0 <= self.min_agreement <= 1.0:
            raise ValueError(f"--min_agreement must be in [0, 1], got {self.min_agreement}")


class COPGenTrainer(BaseTrainer):
    """Trains a :class:`COPGenNavigator` over a frozen generator against a contrastive MI estimator.

    Example:
        >>> args = COPGenTrainingArguments(output_dir="runs/copgen", generator="runs/nda-gan")  # doctest: +SKIP
        >>> COPGenTrainer(args).train()  # doctest: +SKIP
    """

    family = "copgen"
    arguments_class = COPGenTrainingArguments
    parts = ("navigator", "estimator")
    loads_as = "navigator"
    card_template = "copgen"
    card_tags = ("contrastive-learning", "positive-generation", "latent-navigation", "cop-gen")
    # image_size / num_channels are the generator's (set in build); the monitor's flags do not change training
    harmless_flags = HARMLESS_FLAGS | {"image_size", "num_channels", "eval_steps", "eval_latents", "min_agreement",
                                       "patience", "num_samples"}

    def build(self) -> None:
        args = self.args
        source = str(Path(args.generator).resolve()) if Path(args.generator).exists() else args.generator
        adapter = load_generator(source, kind=args.generator_kind, truncation=args.truncation or None)
        args.image_size, args.num_channels = adapter.image_size, adapter.num_channels  # the generator's, recorded
        if adapter.kind == "amr" and not adapter.has_prior:
            self.fit_amr_prior(adapter)
        # pretrained: never checkpointed; call it as adapter(z) (its forward runs under the run's autocast)
        self.adapter = self.add_frozen("generator", adapter)
        size, channels = adapter.image_size, adapter.num_channels
        self.source = LatentSource(sample=adapter.sample_latents,
                                   processor=NDAImageProcessor(size={"height": size, "width": size},
                                                               num_channels=channels))
        latent_dim = int(torch.Size(adapter.latent_shape).numel())
        navigator = COPGenNavigator(COPGenNavigatorConfig(
            latent_dim=latent_dim, navigator=args.navigator, positive=args.positive, sigma=args.sigma,
            delta=args.delta, constraint=args.constraint, center=args.center, generator=adapter.describe()))
        estimator = ContrastiveEncoder(ContrastiveEncoderConfig(
            backbone=args.estimator_backbone, num_channels=channels, image_size=size,
            projection_dim=args.projection_dim, projection_hidden_dim=512))
        self.models = {"navigator": navigator, "estimator": estimator}
        betas = (args.beta1, args.beta2)
        self.optimizers = {"navigator": torch.optim.Adam(navigator.parameters(), lr=args.navigator_lr, betas=betas),
                           "estimator": torch.optim.Adam(estimator.parameters(), lr=args.estimator_lr, betas=betas)}
        self.views = MoCoV2Views(blur_p=0.0)  # SimCLR's augmentation (no blur), differentiable, batched
        self.needs_training = args.positive == "copgen"
        self.monitor = Monitor(self, adapter) if args.eval_steps and self.needs_training else None

    def fit_amr_prior(self, adapter) -> None:
        """AMR has no latent prior: fit a Gaussian to the codes of --dataset's training images and keep
        it with the run (``generator_prior/``), so the navigator's config can name it."""
        folder = self.output_dir / "generator_prior"
        if not (folder / PRIOR_FILE).exists():
            if self.accelerator.is_main_process:
                images = self.image_source().images
                adapter.fit_prior(images).save_prior(folder)
            self.accelerator.wait_for_everyone()
        adapter.load_prior(str(folder.resolve()))

    # ---- the COP-Gen step --------------------------------------------------------------------
    def training_step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        (z,) = self.batch(step)
        pairs = self.view_pairs(z, generator)
        logs = {"estimator_loss": float(self.estimator_update(pairs))}
        logs["navigator_info_nce"] = float(self.navigator_update(pairs))
        logs.update(offset_statistics(z, pairs["navigator_output"], self.unwrap("navigator").config))
        if self.monitor and (step + 1) % self.args.eval_steps == 0:
            logs.update(self.monitor.evaluate(step + 1))
        return logs

    def view_pairs(self, z: torch.Tensor, generator: torch.Generator) -> dict:
        """Anchors G(z) (no gradient) and positives G(z + T(z)) (gradient into T), one SimCLR view of
        each; the view parameters are kept, so a positive can be re-viewed the same way."""
        with torch.no_grad():
            anchors = self.adapter(z)
        out = self.models["navigator"](z)
        if not torch.isfinite(out.positives.detach()).all():
            self.diverged(f"non-finite navigator output at step {self.step + 1}")
        positives = self.adapter(out.positives.view_as(z))  # the graph into T is kept for the navigator
        anchor_params = self.views.sample_params(anchors, generator=generator)
        positive_params = self.views.sample_params(positives, generator=generator)
        return {"anchor_views": self.views.apply(anchors, anchor_params), "positive_params": positive_params,
                "positive_views": self.views.apply(positives, positive_params), "navigator_output": out}

    def info_nce(self, estimator, anchor_views, positive_views) -> torch.Tensor:
        return nt_xent(estimator(anchor_views).projections, estimator(positive_views).projections,
                       self.args.temperature)

    def estimator_update(self, pairs: dict) -> torch.Tensor:
        """Step 1: f minimises NT-Xent on the detached views (a tighter MI lower bound)."""
        estimator = self.models["estimator"]
        return self.backward_and_step("estimator", lambda _: self.info_nce(
            estimator, pairs["anchor_views"], pairs["positive_views"].detach()), [None])

    def navigator_update(self, pairs: dict) -> torch.Tensor:
        """Step 2: T maximises the just-updated f's NT-Xent (lowers the MI bound), within δ."""
        offsets = pairs["navigator_output"].offsets
        value = {}
        with self.frozen("estimator") as estimator:

            def loss_fn(_):
                value["info_nce"] = self.info_nce(estimator, pairs["anchor_views"], pairs["positive_views"])
                return -value["info_nce"] + self.delta_penalty(offsets)

            self.backward_and_step("navigator", loss_fn, [None])
        return value["info_nce"].detach()

    def delta_penalty(self, offsets: torch.Tensor) -> torch.Tensor:
        config = self.unwrap("navigator").config
        if config.constraint != "penalty":
            return offsets.new_zeros(())
        return self.args.delta_penalty * F.relu(offsets.norm(dim=1) - config.radius).pow(2).mean()

    # ---- outputs -----------------------------------------------------------------------------
    def export(self, run_dir) -> None:
        if self.monitor:
            self.monitor.restore_kept()
        super().export(run_dir)

    def export_parts(self) -> tuple[str, ...]:
        return self.parts if self.needs_training else ("navigator",)  # baselines have no estimator

    @torch.no_grad()
    def sample_images(self) -> torch.Tensor:
        """Rows of anchors and their positives, alternating (the same latents every time)."""
        n = self.args.num_samples
        z = self.adapter.sample_latents(4 * n, generator=torch.Generator().manual_seed(self.args.seed + 999))
        z = z.to(self.accelerator.device)
        anchors = self.adapter(z)
        with evaluation_mode(self.unwrap("navigator")) as nav:
            positives = self.adapter(nav(z, generator=torch.Generator().manual_seed(1)).positives.view_as(z))
        return torch.stack([anchors.view(4, n, *anchors.shape[1:]), positives.view(4, n, *anchors.shape[1:])],
                           dim=1).flatten(0, 2)

    def sample_grid_columns(self, images: torch.Tensor) -> int:
        return self.args.num_samples

    def extra_state(self) -> dict[str, torch.Tensor]:
        state = super().extra_state()
        return {**state, **self.monitor.state()} if self.monitor else state

    def load_extra_state(self, state: dict[str, torch.Tensor]) -> None:
        super().load_extra_state(state)
        if self.monitor:
            self.monitor.load_state(state)

    @classmethod
    def card_context(cls, args, role: str, evaluation: dict) -> dict:
        history = evaluation["history"]
        last = history[-1] if history else {}
        checks = [r for r in history if "agreement" in r]
        # the generator the exported navigator names (a zoo build points it at the generator's repo id)
        generator = (evaluation["config"].get("generator") or {}).get("source", args.generator)
        return dict(model_name=f"COP-Gen navigator ({args.positive}) over {generator}", role=role,
                    generator=generator, positive=args.positive, navigator=args.navigator, sigma=args.sigma,
                    delta=args.delta or "σ·√d", constraint=args.constraint, center=args.center,
                    max_steps=args.max_steps, batch_size=args.batch_size, temperature=args.temperature,
                    dataset=args.dataset, last=last, checks=checks[-5:])


def offset_statistics(z: torch.Tensor, out, config) -> dict[str, float]:
    """‖z' − z‖ (mean, std), the shared part of T(z) (norm of its batch mean) apart from the
    instance-specific part (mean norm of T(z) minus that mean), ‖z‖, and the share of moves beyond δ
    before the constraint — against σ·√d, the Gaussian baseline's typical step."""
    with torch.no_grad():
        norms = out.offsets.flatten(1).norm(dim=1)
        raw = out.raw_offsets.flatten(1)
        shared = raw.mean(dim=0)
        return {"offset_norm": float(norms.mean()), "offset_norm_std": float(norms.std()),
                "shared_offset_norm": float(shared.norm()),
                "instance_offset_norm": float((raw - shared).norm(dim=1).mean()),
                "z_norm": float(z.flatten(1).norm(dim=1).mean()),
                "offset_vs_gaussian": float(norms.mean()) / (config.sigma * config.latent_dim ** 0.5 or 1.0),
                "beyond_delta": float(((raw - shared if config.center else raw).norm(dim=1) > config.radius)
                                      .float().mean())}


class Monitor:
    """The stopping rule: label agreement of anchor/positive pairs of fixed latents under a frozen
    reference classifier; keeps the last navigator at or above ``--min_agreement``."""

    def __init__(self, trainer: COPGenTrainer, adapter):
        from ..evaluation.pair_agreement import ReferenceClassifier

        args = trainer.args
        self.trainer, self.adapter = trainer, adapter
        self.classifier = ReferenceClassifier.fit_dataset(args.dataset, image_size=adapter.image_size,
                                                          num_channels=adapter.num_channels, data_dir=args.data_dir)
        self.latents = adapter.sample_latents(args.eval_latents, generator=torch.Generator().manual_seed(args.seed + 4242))
        self.kept: dict[str, torch.Tensor] | None = None
        self.kept_step, self.misses = 0, 0

    @torch.no_grad()
    def agreement(self, navigator) -> float:
        device = self.trainer.accelerator.device
        anchors, positives = [], []
        with evaluation_mode(navigator):
            for z in self.latents.split(256):
                z = z.to(device)
                anchors.append(self.adapter(z).cpu())
                positives.append(self.adapter(navigator(z).positives.view_as(z)).cpu())
        return self.classifier.agreement(torch.cat(anchors), torch.cat(positives))

    def evaluate(self, step: int) -> dict[str, float]:
        from accelerate.utils import broadcast_object_list

        args, navigator = self.trainer.args, self.trainer.unwrap("navigator")
        # the main process decides: every rank then keeps/stops alike (a split decision would hang DDP)
        value = broadcast_object_list([self.agreement(navigator)], from_process=0)[0]
        if value >= args.min_agreement:
            self.kept = {k: v.detach().clone() for k, v in navigator.state_dict().items()}
            self.kept_step, self.misses = step, 0
        else:
            self.misses += 1
            logger.warning("step %d: anchor/positive agreement %.3f < --min_agreement %.3f (%d of %d)", step, value,
                           args.min_agreement, self.misses, args.patience)
            if self.misses >= args.patience:
                self.trainer.stop_requested = True
        return {"agreement": value, "kept_step": float(self.kept_step)}

    def restore_kept(self) -> None:
        if self.kept is not None and self.trainer.args.min_agreement > 0:
            self.trainer.unwrap("navigator").load_state_dict(self.kept)
            print(f"copgen: exporting the navigator of step {self.kept_step}, the last with agreement >= "
                  f"{self.trainer.args.min_agreement}", flush=True)

    def state(self) -> dict[str, torch.Tensor]:
        state = {"monitor.kept_step": torch.tensor(self.kept_step), "monitor.misses": torch.tensor(self.misses)}
        return {**state, **{f"monitor.kept.{k}": v for k, v in (self.kept or {}).items()}}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.kept_step = int(state.get("monitor.kept_step", 0))  # absent: saved with the monitor off
        self.misses = int(state.get("monitor.misses", 0))
        kept = {k[len("monitor.kept."):]: v for k, v in state.items() if k.startswith("monitor.kept.")}
        self.kept = kept or None
        self.trainer.stop_requested = self.misses >= self.trainer.args.patience  # a run that had stopped stays stopped


def main(argv=None) -> int:
    return run_cli(COPGenTrainer, argv)


if __name__ == "__main__":
    sys.exit(main())
