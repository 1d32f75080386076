"""The one training loop every family runs on (Accelerate underneath).

A family subclasses :class:`BaseTrainer` and supplies: its models and optimizers
(:meth:`build`), one optimisation step (:meth:`training_step`), optional sample images
(:meth:`sample_images`), and what to export (:meth:`export`). The loop owns the rest:

- devices, mixed precision, DDP (``accelerate launch`` / ``torchrun``) through ``Accelerator``;
- gradient accumulation for any number of models (:meth:`backward_and_step`);
- exact resume: checkpoints are ``accelerator.save_state`` folders written to a temporary name and
  renamed into place, so a killed run leaves either a whole checkpoint or none. Data order and
  per-step randomness are pure functions of (seed, step, rank), so a resumed run replays the very
  batches and random draws the uninterrupted run would have used;
- EMA copies of chosen models (``torch.optim.swa_utils.AveragedModel``, checkpointed as
  safetensors rather than accelerate's pickled custom state), tensorboard trackers,
  tqdm progress, periodic sample grids, final ``save_pretrained`` export, model card, push.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shlex
import shutil
import signal
import sys
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from safetensors.torch import load_file, save_file
from accelerate.utils import ProjectConfiguration, set_seed
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)
CHECKPOINT_PREFIX = "step-"


@dataclass
class BaseTrainingArguments:
    """Flags every trainer shares (``--help`` of any trainer lists them)."""

    output_dir: str = field(metadata={"help": "run directory; an existing one is resumed"})
    dataset: str = field(default="fashion_mnist", metadata={"help": "fashion_mnist, mnist, digits, or a path "
                                                                     "(save_to_disk folder or image folder)"})
    data_dir: str | None = field(default=None, metadata={"help": "folder with the raw dataset files (offline)"})
    image_size: int = field(default=32, metadata={"help": "training resolution (28, 32 or 64)"})
    num_channels: int = field(default=1, metadata={"help": "1 (grayscale) or 3 (RGB)"})
    batch_size: int = field(default=64, metadata={"help": "images per device per optimisation step"})
    max_steps: int = field(default=2000, metadata={"help": "optimisation steps to train for"})
    seed: int = field(default=0)
    mixed_precision: str = field(default="no", metadata={"help": "no, fp16 or bf16"})
    gradient_accumulation_steps: int = field(default=1)
    save_steps: int = field(default=500, metadata={"help": "checkpoint every N steps (0: only at the end)"})
    save_total_limit: int = field(default=2, metadata={"help": "checkpoints kept"})
    sample_steps: int = field(default=500, metadata={"help": "sample grid every N steps (0: only at the end)"})
    logging_steps: int = field(default=50)
    report_to: str = field(default="tensorboard", metadata={"help": "accelerate tracker(s), or 'none'"})
    resume: bool = field(default=True, metadata={"help": "resume from the newest checkpoint in output_dir"})
    push_to_hub: bool = field(default=False)
    hub_model_id: str | None = field(default=None)
    max_train_samples: int | None = field(default=None, metadata={"help": "use only the first N training images"})
    dataloader_seed_offset: int = field(default=0, metadata={"help": "changes data order without changing init"})

    def validate(self) -> None:
        if self.max_steps < 1 or self.batch_size < 1 or self.gradient_accumulation_steps < 1:
            raise ValueError("max_steps, batch_size and gradient_accumulation_steps must be >= 1")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ValueError(f"mixed_precision must be no, fp16 or bf16, got {self.mixed_precision!r}")


def negative_names(specs: list[str]) -> list[str]:
    """The ``--nda`` values that name a transform (``none`` means no NDA)."""
    return [n for n in specs if n.lower() != "none"]


class StepBatches:
    """Batches as a pure function of (draw number, rank): epoch-wise random permutations of the
    data seeded by (seed, epoch), cut into consecutive global batches, split across processes."""

    def __init__(self, num_examples: int, batch_size: int, seed: int, rank: int, world_size: int):
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


class BaseTrainer:
    """Shared loop; subclasses set ``family`` and implement :meth:`build` and :meth:`training_step`."""

    family = "base"
    draws_per_step = 1  # batches of data consumed per optimisation step

    def __init__(self, args: BaseTrainingArguments, argv: list[str] | None = None):
        args.validate()
        self.args = args
        self.output_dir = Path(args.output_dir)
        self.command = "hf-nda train " + self.family + " " + shlex.join(argv if argv is not None else sys.argv[1:])
        trackers = None if args.report_to in ("none", "", None) else args.report_to.split(",")
        # torchrun / `accelerate launch --multi_gpu` on a machine without CUDA: Accelerate only sets up
        # gloo DDP when told the processes are CPU ones (otherwise each process trains alone).
        cpu_ddp = "LOCAL_RANK" in os.environ and not torch.cuda.is_available()
        self.accelerator = Accelerator(
            cpu=cpu_ddp, mixed_precision=args.mixed_precision, log_with=trackers,
            project_config=ProjectConfiguration(project_dir=str(self.output_dir),
                                                logging_dir=str(self.output_dir / "logs")))
        set_seed(args.seed)  # model initialisation is identical on every process and every resume
        self.models: dict[str, torch.nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.ema: dict[str, AveragedModel] = {}
        self.build()
        for name in list(self.models):
            self.models[name] = self.accelerator.prepare(self.models[name])
        for name in list(self.optimizers):
            self.optimizers[name] = self.accelerator.prepare(self.optimizers[name])
        for ema in self.ema.values():
            ema.to(self.accelerator.device)
        self.batches = StepBatches(len(self.train_images), args.batch_size, args.seed + args.dataloader_seed_offset,
                                   self.accelerator.process_index, self.accelerator.num_processes)
        self.step = 0
        self.log_history: list[dict] = []  # every logged step, also written to log_history.json

    # ---- what a family provides -------------------------------------------------------------
    def build(self) -> None:
        """Create ``self.models``, ``self.optimizers``, ``self.train_images`` (+ ``self.train_labels``)."""
        raise NotImplementedError

    def training_step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        """One optimisation step; returns scalars to log."""
        raise NotImplementedError

    def extra_state(self) -> dict[str, torch.Tensor]:
        """Tensors to checkpoint beside models and optimizers (EMA copies; families add theirs,
        e.g. a momentum encoder and its queue)."""
        return {f"ema.{name}.{k}": v for name, ema in self.ema.items() for k, v in ema.state_dict().items()}

    def load_extra_state(self, state: dict[str, torch.Tensor]) -> None:
        for name, ema in self.ema.items():
            prefix = f"ema.{name}."
            ema.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})

    def sample_images(self) -> torch.Tensor | None:
        """Images in [-1, 1] for the periodic sample grid (None: no grid)."""
        return None

    def sample_grid_columns(self, images: torch.Tensor) -> int:
        """Images per row of the sample grid (default: a square grid)."""
        return int(len(images) ** 0.5)

    def export(self, final_dir: Path) -> None:
        """Write each model's ``save_pretrained`` folder under ``final_dir`` (main process only)."""
        raise NotImplementedError

    # ---- helpers for families ------------------------------------------------------------------
    def load_training_data(self, negatives: list[str]) -> None:
        """Set ``self.processor`` (at the run's size/channels, with ``negatives``) and the training
        split as ``self.train_images`` / ``self.train_labels`` tensors."""
        from ..data import cached_pixel_values
        from ..processing import NDAImageProcessor

        args = self.args
        self.processor = NDAImageProcessor(size={"height": args.image_size, "width": args.image_size},
                                           num_channels=args.num_channels, negatives=negatives)
        images, labels = cached_pixel_values(args.dataset, "train", self.processor, data_dir=args.data_dir)
        if args.max_train_samples:
            images, labels = images[:args.max_train_samples], labels[:args.max_train_samples]
        self.train_images, self.train_labels = images, labels

    def add_ema(self, name: str, decay: float) -> None:
        """Keep an exponential moving average of ``self.models[name]`` (buffers averaged too)."""
        self.ema[name] = AveragedModel(self.unwrap(name), multi_avg_fn=_ema_with_warmup(decay), use_buffers=True)

    def unwrap(self, name: str) -> torch.nn.Module:
        return self.accelerator.unwrap_model(self.models[name])

    def exported(self, name: str) -> torch.nn.Module:
        """The weights to publish: the EMA copy when there is one."""
        return self.ema[name].module if name in self.ema else self.unwrap(name)

    def batch(self, draw: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Real images (and labels) of one draw, on the device."""
        idx = self.batches.indices(draw)
        device = self.accelerator.device
        return self.train_images[idx].to(device, non_blocking=True), self.train_labels[idx].to(device)

    def step_generator(self, step: int) -> torch.Generator:
        """A CPU generator seeded by (seed, step, rank): the step's random draws, replayable."""
        key = (self.args.seed * 1_000_003 + step) * 1024 + self.accelerator.process_index
        return torch.Generator().manual_seed(key)

    def backward_and_step(self, name: str, loss_fn, micro_batches) -> torch.Tensor:
        """Accumulate gradients of ``loss_fn(micro_batch)`` over ``micro_batches`` for model ``name``
        and take one optimizer step. DDP gradient sync happens on the last micro-batch only."""
        model, optimizer = self.models[name], self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        micro_batches = list(micro_batches)
        total = 0.0
        for i, micro in enumerate(micro_batches):
            sync = nullcontext() if i == len(micro_batches) - 1 else self.accelerator.no_sync(model)
            with sync, self.accelerator.autocast():
                loss = loss_fn(micro) / len(micro_batches)
            self.accelerator.backward(loss)
            total = total + loss.detach()
        optimizer.step()
        return total

    # ---- the loop ----------------------------------------------------------------------------
    def train(self) -> Path:
        args, acc = self.args, self.accelerator
        if acc.is_main_process:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            info = {"family": self.family, "command": self.command, "num_processes": acc.num_processes,
                    "args": dataclasses.asdict(args)}
            (self.output_dir / "run_info.json").write_text(json.dumps(info, indent=2))
        acc.wait_for_everyone()
        self.step = self.resume_if_possible() if args.resume else 0
        if acc.log_with:
            acc.init_trackers(f"hf_nda_{self.family}", config=_flat_config(args))
        abort_after = int(os.environ.get("HF_NDA_ABORT_AFTER_STEP", "0"))  # crash drill for resume tests
        bar = tqdm(total=args.max_steps, initial=self.step, disable=not acc.is_local_main_process,
                   desc=f"{self.family}", dynamic_ncols=True, mininterval=1.0)
        while self.step < args.max_steps:
            logs = self.training_step(self.step, self.step_generator(self.step))
            for name, ema in self.ema.items():
                ema.update_parameters(self.unwrap(name))
            self.step += 1
            bar.update(1)
            if self.step % args.logging_steps == 0 or self.step == args.max_steps:
                acc.log(logs, step=self.step)
                self.log_history.append({"step": self.step, **logs})
                bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()})
            if args.save_steps and self.step % args.save_steps == 0 and self.step < args.max_steps:
                self.save_checkpoint()
            if args.sample_steps and self.step % args.sample_steps == 0:
                self.save_samples()
            if abort_after and self.step == abort_after:
                os.kill(os.getpid(), signal.SIGKILL)
        bar.close()
        self.save_checkpoint()
        self.save_samples()
        if acc.is_main_process:
            self.export(self.output_dir)
            with open(self.output_dir / "log_history.json", "a") as f:  # appended across resumes
                f.writelines(json.dumps(row) + "\n" for row in self.log_history)
        acc.wait_for_everyone()
        acc.end_training()
        if args.push_to_hub and acc.is_main_process:
            from ..hub import push_run

            push_run(self.output_dir, args.hub_model_id or self.output_dir.name)
        return self.output_dir

    # ---- checkpoints -------------------------------------------------------------------------
    def checkpoint_dir(self) -> Path:
        return self.output_dir / "checkpoints"

    def checkpoints(self) -> list[Path]:
        """Complete checkpoints, oldest first (temporary folders of interrupted saves are ignored)."""
        root = self.checkpoint_dir()
        found = [p for p in root.glob(f"{CHECKPOINT_PREFIX}*") if p.is_dir() and (p / "trainer_state.json").exists()]
        return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))

    def save_checkpoint(self) -> None:
        acc = self.accelerator
        final = self.checkpoint_dir() / f"{CHECKPOINT_PREFIX}{self.step:07d}"
        tmp = self.checkpoint_dir() / f".tmp-{CHECKPOINT_PREFIX}{self.step:07d}"
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.parent.mkdir(parents=True, exist_ok=True)
        acc.wait_for_everyone()
        acc.save_state(str(tmp), safe_serialization=True)
        if acc.is_main_process:  # safetensors, not accelerate's pickled custom state
            save_file(_contiguous(self.extra_state()), tmp / "extra_state.safetensors")
            (tmp / "trainer_state.json").write_text(json.dumps({"step": self.step, "command": self.command}))
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)  # atomic: the checkpoint appears whole or not at all
            for old in self.checkpoints()[:-self.args.save_total_limit]:
                shutil.rmtree(old, ignore_errors=True)
        acc.wait_for_everyone()

    def resume_if_possible(self) -> int:
        found = self.checkpoints()
        if not found:
            return 0
        latest = found[-1]
        self.accelerator.load_state(str(latest))
        self.load_extra_state(load_file(latest / "extra_state.safetensors", device=str(self.accelerator.device)))
        step = json.loads((latest / "trainer_state.json").read_text())["step"]
        logger.info("resumed from %s (step %d)", latest, step)
        return step

    # ---- outputs -----------------------------------------------------------------------------
    def save_samples(self) -> None:
        if not self.accelerator.is_main_process:
            return
        images = self.sample_images()
        if images is None:
            return
        from ..showcase import save_image_grid

        save_image_grid(images, self.output_dir / "samples" / f"{CHECKPOINT_PREFIX}{self.step:07d}.png",
                        nrow=self.sample_grid_columns(images))


def _ema_with_warmup(decay: float):
    """EMA update whose decay ramps up as min(decay, (1 + n) / (10 + n)) after n updates: a fixed
    0.999 would still be averaging in the random initialisation after a short run (torch's
    ``get_ema_multi_avg_fn`` has no warm-up)."""

    @torch.no_grad()
    def update(ema_params, params, num_averaged):
        weight = 1 - min(decay, (1 + int(num_averaged)) / (10 + int(num_averaged)))
        for ema_param, param in zip(ema_params, params):
            if ema_param.is_floating_point():
                ema_param.lerp_(param, weight)
            else:  # counters such as BatchNorm's num_batches_tracked
                ema_param.copy_(param)

    return update


def _contiguous(state: dict) -> dict:
    return {k: v.detach().contiguous() for k, v in state.items()}


def _flat_config(args) -> dict:
    """Tracker-friendly hyper-parameters: only int/float/str/bool values."""
    return {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in dataclasses.asdict(args).items()}


def parse_args(argument_classes, argv=None):
    """Parse CLI flags (or one .json/.yaml file) into the given dataclasses with HfArgumentParser."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser(argument_classes)
    argv = sys.argv[1:] if argv is None else list(argv)
    if len(argv) == 1 and argv[0].endswith(".json"):
        return parser.parse_json_file(argv[0])
    if len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
        return parser.parse_yaml_file(argv[0])  # yaml.safe_load inside
    return parser.parse_args_into_dataclasses(args=argv)


def run_cli(arguments_class, trainer_class, argv=None) -> int:
    """Entry point shared by ``python -m hf_nda.trainers.<family>`` and ``hf-nda train <family>``."""
    (args,) = parse_args(arguments_class, argv)
    trainer_class(args, argv).train()
    return 0
