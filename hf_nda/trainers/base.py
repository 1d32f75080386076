"""The one training loop every family runs on (Accelerate underneath).

A family subclasses :class:`BaseTrainer`, declares what it exports (``parts``, ``loads_as``, the
card template) and supplies: its data source, models and optimizers (:meth:`build`), one
optimisation step (:meth:`training_step`), optional sample images and card details. The loop owns
the rest:

- **data**: each step's batch comes from a *source* (:mod:`hf_nda.data.batches`: an image dataset,
  a pair dataset or a latent sampler) as a pure function of (seed, draw, rank);
- **models**: trained ones (``self.models``: DDP-wrapped, optimised, checkpointed by Accelerate) and
  *frozen* ones (:meth:`add_frozen`: eval mode, no gradient, never DDP-wrapped, on the device and
  under the run's autocast, checkpointed only when they change); :meth:`frozen` freezes a trained
  model for the other player's update;
- devices, mixed precision, DDP (``accelerate launch`` / ``torchrun``) through ``Accelerator``;
  gradient accumulation for any number of models (:meth:`backward_and_step`); learning-rate
  schedules from ``transformers.get_scheduler``, one per optimizer, stepped once per training step;
- exact resume: checkpoints are ``accelerator.save_state`` folders written to a temporary name and
  renamed into place (optimizer, scheduler and RNG state included), so a killed run leaves either a
  whole checkpoint or none, and replays the very batches and random draws;
- EMA copies of chosen models (``torch.optim.swa_utils.AveragedModel``, checkpointed as
  safetensors rather than accelerate's pickled custom state), trackers, tqdm progress, a streamed
  ``log_history.jsonl``, sample grids, and the export: one ``save_pretrained`` folder per part, the
  top-level copy of the part the run loads as, the model cards, push.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shlex
import shutil
import sys
import time
from contextlib import contextmanager, nullcontext
from functools import wraps
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, set_seed
from safetensors.torch import load_file, save_file
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from .arguments import BaseTrainingArguments, negative_names, parse_args, run_cli  # noqa: F401  (re-exported)
from .parameters import ema_with_warmup, freeze
from .run_dir import (HARMLESS_FLAGS, LOG_FILE, RecipeChangedError, TrainingDivergedError, check_recipe,
                      checkpoint_problem, non_finite,
                      read_log_history, truncate_log)

logger = logging.getLogger(__name__)
CHECKPOINT_PREFIX = "step-"
PROBE_FILE = "probe_results.json"
class BaseTrainer:
    """Shared loop; subclasses set the class attributes below and implement :meth:`build` and
    :meth:`training_step`.

    Class attributes a family sets:
        family: name used by the CLI (``hf-nda train <family>``) and in ``run_info.json``;
        arguments_class: its ``BaseTrainingArguments`` dataclass (to re-read a run's flags);
        parts: the trained/frozen models exported as ``save_pretrained`` folders, by name;
        loads_as: the part copied to the top of the run, so the run loads as that model;
        card_template: ``hf_nda/model_cards/<card_template>.md``; card_tags: Hub tags.
    """

    family = "base"
    arguments_class = BaseTrainingArguments
    parts: tuple[str, ...] = ()
    loads_as: str | None = None
    evaluation_parts: tuple[str, ...] = ()  # folders an evaluation adds to a run (MoCo: the probe's classifier/)
    card_template = ""
    card_tags: tuple[str, ...] = ()
    harmless_flags = HARMLESS_FLAGS  # flags a resume may change (families add their reporting flags)
    needs_training = True  # False: a baseline that only exports (e.g. COP-Gen's Gaussian positives)
    stop_requested = False  # set by a family's stopping rule: the loop ends after the current step

    def __init__(self, args: BaseTrainingArguments, argv: list[str] | None = None):
        args.validate()
        self.args = args
        self.output_dir = Path(args.output_dir)
        self.command = "hf-nda train " + self.family + " " + shlex.join(argv if argv is not None else sys.argv[1:])
        logging.getLogger("accelerate").setLevel(args.log_level.upper())
        trackers = None if args.report_to in ("none", "", None) else args.report_to.split(",")
        # torchrun / `accelerate launch --multi_gpu` on a machine without CUDA: Accelerate only sets up
        # gloo DDP when told the processes are CPU ones (otherwise each process trains alone).
        cpu_ddp = "LOCAL_RANK" in os.environ and not torch.cuda.is_available()
        # step_scheduler_with_optimizer=False: max_steps counts steps of each process, so a schedule
        # advances once per step (Accelerate's default would advance it num_processes times).
        self.accelerator = Accelerator(
            cpu=cpu_ddp, mixed_precision=args.mixed_precision, log_with=trackers, step_scheduler_with_optimizer=False,
            project_config=ProjectConfiguration(project_dir=str(self.output_dir),
                                                logging_dir=str(self.output_dir / "logs")))
        set_seed(args.seed)  # model initialisation is identical on every process and every resume
        self.models: dict[str, torch.nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.frozen_models: dict[str, torch.nn.Module] = {}
        self.checkpointed_frozen: set[str] = set()
        self.ema: dict[str, AveragedModel] = {}
        self.source = None
        self.recipe_changes = self.claim_output_dir()  # before build(), which may write (e.g. a fitted prior)
        self.resumed_step: int | None = None
        self.build()
        if self.source is None:
            raise TypeError(f"{type(self).__name__}.build() must set self.source (see hf_nda.data.batches)")
        acc = self.accelerator
        self.models = {name: acc.prepare(model) for name, model in self.models.items()}
        self.optimizers = {name: acc.prepare(opt) for name, opt in self.optimizers.items()}
        self.schedulers = {name: acc.prepare(self.make_scheduler(opt)) for name, opt in self.optimizers.items()}
        for ema in self.ema.values():
            ema.to(acc.device)
        self.source.bind(args.batch_size, args.seed + args.dataloader_seed_offset, acc.process_index,
                         acc.num_processes)
        self.step = 0
        self.log_history: list[dict] = []  # the rows logged by this process (also streamed to log_history.jsonl)

    @property
    def processor(self):
        """The image processor the run's data went through (exported with every part)."""
        return getattr(self.source, "processor", None)

    # ---- what a family provides -------------------------------------------------------------
    def build(self) -> None:
        """Set ``self.source`` and create ``self.models`` / ``self.optimizers`` (+ :meth:`add_frozen`)."""
        raise NotImplementedError

    def training_step(self, step: int, generator: torch.Generator) -> dict[str, float]:
        """One optimisation step; returns scalars to log."""
        raise NotImplementedError

    def sample_images(self) -> torch.Tensor | None:
        """Images in [-1, 1] for the periodic sample grid (None: no grid)."""
        return None

    def sample_grid_columns(self, images: torch.Tensor) -> int:
        """Images per row of the sample grid (default: a square grid)."""
        return int(len(images) ** 0.5)

    @classmethod
    def card_context(cls, args, role: str, evaluation: dict) -> dict:
        """Template variables of the model card of ``role`` (a part's name, or ``"run"``)."""
        return {}

    # ---- helpers for families ------------------------------------------------------------------
    def image_source(self, negatives=()):
        """The run's training split (``--dataset`` at ``--image_size`` / ``--num_channels``)."""
        from ..data.batches import ImageSource

        args = self.args
        return ImageSource.from_dataset(args.dataset, image_size=args.image_size, num_channels=args.num_channels,
                                        negatives=negatives, data_dir=args.data_dir,
                                        max_samples=args.max_train_samples)

    def add_frozen(self, name: str, module: torch.nn.Module, *, checkpoint: bool = False,
                   train_mode: bool = False) -> torch.nn.Module:
        """Register a model that is used but not optimised: no gradient, not DDP-wrapped, on the
        device, its forward under the run's autocast. ``checkpoint``: it changes during training
        (e.g. a momentum encoder) and is saved in checkpoints; a pretrained model is not.
        ``train_mode``: keep batch statistics (MoCo's key encoder needs them); else eval mode."""
        module = module.to(self.accelerator.device).requires_grad_(False).train(train_mode)
        if self.accelerator.mixed_precision != "no":
            # What Accelerate's prepare_model(evaluation_mode=True) does, without registering the model
            # for save_state (a pretrained frozen model must stay out of the checkpoints).
            forward = module.forward

            @wraps(forward)
            def autocast_forward(*inputs, **kwargs):
                with self.accelerator.autocast():
                    return forward(*inputs, **kwargs)

            module.forward = autocast_forward
        self.frozen_models[name] = module
        if checkpoint:
            self.checkpointed_frozen.add(name)
        return module

    @contextmanager
    def frozen(self, name: str):
        """The trained model ``name``, unwrapped and with its parameters frozen, for the other
        player's update: gradients reach its input only, and DDP neither waits for nor all-reduces
        its weight gradients."""
        with freeze(self.unwrap(name)) as module:
            yield module

    def add_ema(self, name: str, decay: float) -> None:
        """Keep an exponential moving average of ``self.models[name]`` (buffers averaged too)."""
        self.ema[name] = AveragedModel(self.unwrap(name), multi_avg_fn=ema_with_warmup(decay), use_buffers=True)

    def unwrap(self, name: str) -> torch.nn.Module:
        if name in self.frozen_models:
            return self.frozen_models[name]
        return self.accelerator.unwrap_model(self.models[name])

    def exported(self, name: str) -> torch.nn.Module:
        """The weights to publish: the EMA copy when there is one."""
        return self.ema[name].module if name in self.ema else self.unwrap(name)

    def batch(self, draw: int) -> tuple[torch.Tensor, ...]:
        """One draw of the source, on the device (images and labels for an image source)."""
        return self.source.batch(draw, self.accelerator.device)

    def step_generator(self, step: int) -> torch.Generator:
        """A CPU generator seeded by (seed, step, rank): the step's random draws, replayable."""
        key = (self.args.seed * 1_000_003 + step) * 1024 + self.accelerator.process_index
        return torch.Generator().manual_seed(key)

    def micro_batches(self, *tensors) -> list[tuple]:
        """Split a step's tensors into ``gradient_accumulation_steps`` micro-batches (None stays None)."""
        chunks = self.args.gradient_accumulation_steps
        return list(zip(*(t.chunk(chunks) if t is not None else [None] * chunks for t in tensors)))

    def make_scheduler(self, optimizer):
        from transformers import get_scheduler

        return get_scheduler(self.args.lr_scheduler_type, optimizer, num_warmup_steps=self.args.warmup_steps,
                             num_training_steps=self.args.max_steps)

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
        self.record_run_info()
        acc.wait_for_everyone()
        self.step = start = self.resume_if_possible() if args.resume else 0
        if acc.log_with:
            acc.init_trackers(f"hf_nda_{self.family}", config=_flat_config(args))
        bar = tqdm(total=args.max_steps, initial=self.step, disable=not acc.is_local_main_process,
                   desc=f"{self.family}", dynamic_ncols=True, mininterval=1.0)
        began = time.perf_counter()
        while self.needs_training and self.step < args.max_steps and not self.stop_requested:
            logs = self.training_step(self.step, self.step_generator(self.step))
            self.check_finite(logs)
            for scheduler in self.schedulers.values():
                scheduler.step()
            for name, ema in self.ema.items():
                ema.update_parameters(self.unwrap(name))
            self.step += 1
            bar.update(1)
            if self.step % args.logging_steps == 0 or self.step == args.max_steps:
                self.log(logs)
                bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()})
            if args.save_steps and self.step % args.save_steps == 0 and self.step < args.max_steps:
                self.save_checkpoint()
            if args.sample_steps and self.step % args.sample_steps == 0:
                self.save_samples()
        bar.close()
        if self.needs_training:
            self.save_checkpoint()
        self.save_samples()
        if acc.is_main_process:
            self.export(self.output_dir)
            self.print_summary(self.step - start, time.perf_counter() - began)
        acc.wait_for_everyone()
        acc.end_training()
        if args.push_to_hub and acc.is_main_process:
            from ..hub import push_run

            push_run(self.output_dir, args.hub_model_id or self.output_dir.name)
        return self.output_dir

    def claim_output_dir(self) -> dict:
        """Before anything is written: clear the old run with ``--overwrite_output_dir``, or refuse a run
        directory that holds another recipe (or any run, with ``--resume false``); every rank checks.
        Returns the harmless flag changes of a resume. ``max_steps`` is harmless only for a constant
        schedule: a decaying one is laid out over ``max_steps``."""
        args, acc = self.args, self.accelerator
        run_info = self.output_dir / "run_info.json"
        if args.overwrite_output_dir and run_info.exists():
            acc.wait_for_everyone()
            if acc.is_main_process:
                shutil.rmtree(self.output_dir)
                logger.warning("--overwrite_output_dir: removed the previous run in %s", self.output_dir)
            acc.wait_for_everyone()
        elif run_info.exists() and not args.resume:
            raise RecipeChangedError(f"{self.output_dir} holds a run and --resume is false: a new run there would mix "
                                     "with its checkpoints and logs. Use another --output_dir, or "
                                     "--overwrite_output_dir true to discard it.")
        harmless = self.harmless_flags
        if args.lr_scheduler_type not in ("constant", "constant_with_warmup"):
            harmless = harmless - {"max_steps"}
        return check_recipe(self.output_dir, self.family, dataclasses.asdict(args), harmless)

    def record_run_info(self) -> None:
        """Write ``run_info.json`` (main process): the flags, and the restarts with their harmless changes."""
        args, acc = self.args, self.accelerator
        if not acc.is_main_process:
            return
        run_info = self.output_dir / "run_info.json"
        flags = dataclasses.asdict(args)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        info = json.loads(run_info.read_text()) if run_info.exists() else {}
        restarts = info.get("restarts", [])
        if info:
            changes = self.recipe_changes
            restarts.append({"command": self.command, "changed": {k: new for k, (_, new) in changes.items()}})
        info = {"family": self.family, "command": info.get("command", self.command),
                "num_processes": acc.num_processes, "args": flags, "restarts": restarts}
        tmp = run_info.with_name(".tmp-run_info.json")
        tmp.write_text(json.dumps(info, indent=2))
        os.replace(tmp, run_info)

    def check_finite(self, logs: dict[str, float]) -> None:
        """Stop with an error naming the step and the last good checkpoint when a loss is NaN/inf."""
        bad = non_finite(logs)
        if bad:
            self.diverged(f"non-finite {', '.join(bad)} at step {self.step + 1}")

    def diverged(self, what: str) -> None:
        found = self.checkpoints()
        last = f"the last good checkpoint is {found[-1]}" if found else "no checkpoint was written yet"
        raise TrainingDivergedError(
            f"training diverged: {what}; nothing was saved after it ({last}). Lower the learning rate(s) or "
            "use --mixed_precision no, and train again with another --output_dir (or --overwrite_output_dir true).")

    def log(self, logs: dict[str, float]) -> None:
        """Send one row to the trackers and append it to ``log_history.jsonl`` at once (a killed run
        keeps its metrics). Non-finite values are written as strings: the file stays strict JSON."""
        row = {"step": self.step, **logs}
        if self.schedulers:
            row["lr"] = next(iter(self.schedulers.values())).get_last_lr()[0]
        self.accelerator.log(row, step=self.step)
        self.log_history.append(row)
        if self.accelerator.is_main_process:
            strict = {k: v if not isinstance(v, float) or v == v and abs(v) != float("inf") else str(v)
                      for k, v in row.items()}
            with open(self.output_dir / LOG_FILE, "a") as f:
                f.write(json.dumps(strict, allow_nan=False) + "\n")
                f.flush()

    def print_summary(self, steps: int, seconds: float) -> None:
        last = self.log_history[-1] if self.log_history else {}
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "step" and isinstance(v, float))
        rate = f"{seconds / steps:.3f} s/step" if steps else "no new steps"
        loads = f" (loads as its {self.loads_as} with from_pretrained)" if self.loads_as else ""
        print(f"{self.family}: {steps} steps in {seconds:.0f} s ({rate}); step {self.step}: {metrics}\n"
              f"run saved in {self.output_dir}{loads}", flush=True)

    # ---- checkpoints -------------------------------------------------------------------------
    def checkpoint_dir(self) -> Path:
        return self.output_dir / "checkpoints"

    def checkpoints(self) -> list[Path]:
        """Complete checkpoints, oldest first (temporary folders of interrupted saves are ignored)."""
        root = self.checkpoint_dir()
        found = [p for p in root.glob(f"{CHECKPOINT_PREFIX}*") if p.is_dir() and (p / "trainer_state.json").exists()]
        return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))

    def extra_state(self) -> dict[str, torch.Tensor]:
        """Tensors checkpointed beside models and optimizers: EMA copies and the frozen models that
        change (families add their own state, e.g. a queue)."""
        state = {f"ema.{name}.{k}": v for name, ema in self.ema.items() for k, v in ema.state_dict().items()}
        for name in self.checkpointed_frozen:
            state.update({f"{name}.{k}": v for k, v in self.frozen_models[name].state_dict().items()})
        return state

    def load_extra_state(self, state: dict[str, torch.Tensor]) -> None:
        modules = {f"ema.{name}.": ema for name, ema in self.ema.items()}
        modules.update({f"{name}.": self.frozen_models[name] for name in self.checkpointed_frozen})
        for prefix, module in modules.items():
            module.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})

    def save_checkpoint(self) -> None:
        acc = self.accelerator
        final = self.checkpoint_dir() / f"{CHECKPOINT_PREFIX}{self.step:07d}"
        tmp = self.checkpoint_dir() / f".tmp-{CHECKPOINT_PREFIX}{self.step:07d}"
        bad = non_finite(modules={name: self.unwrap(name) for name in self.models})
        if bad:
            self.diverged(f"non-finite weights ({', '.join(bad[:5])}) at step {self.step}")
        if self.step == self.resumed_step and final.is_dir() and checkpoint_problem(final) is None:
            self.prune_checkpoints()  # a finished run started again: this very state is saved already
            return
        if acc.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.parent.mkdir(parents=True, exist_ok=True)
        acc.wait_for_everyone()
        acc.save_state(str(tmp), safe_serialization=True)
        acc.wait_for_everyone()  # every rank has written its files before the folder is renamed
        if acc.is_main_process:  # safetensors, not accelerate's pickled custom state
            save_file(_contiguous(self.extra_state()), tmp / "extra_state.safetensors")
            (tmp / "trainer_state.json").write_text(json.dumps({"step": self.step, "command": self.command}))
            shutil.rmtree(final, ignore_errors=True)  # a damaged one (a whole one was kept above)
            os.replace(tmp, final)  # atomic: the checkpoint appears whole or not at all
        self.prune_checkpoints()

    def prune_checkpoints(self) -> None:
        """Keep the newest ``--save_total_limit`` checkpoints (oldest removed first, so a kill midway
        never touches the newest)."""
        if self.accelerator.is_main_process:
            for old in self.checkpoints()[:-self.args.save_total_limit]:
                shutil.rmtree(old, ignore_errors=True)
        self.accelerator.wait_for_everyone()

    def resume_if_possible(self) -> int:
        """Load the newest loadable checkpoint; a damaged one is skipped with a warning (none loadable
        while some exist: an error, rather than a silent restart over them)."""
        found = self.checkpoints()
        for checkpoint in reversed(found):
            problem = checkpoint_problem(checkpoint)
            if problem is None:
                try:
                    step = self.load_checkpoint(checkpoint)
                except Exception as error:  # e.g. a truncated optimizer file: any failure means "try an older one"
                    problem = f"loading failed ({type(error).__name__}: {error})"
            if problem is not None:
                logger.warning("checkpoint %s is damaged (%s): falling back to an older one", checkpoint, problem)
                continue
            if self.accelerator.is_main_process:  # rows logged after the checkpoint are logged again by the replay
                truncate_log(self.output_dir / LOG_FILE, step)
            self.accelerator.wait_for_everyone()
            logger.info("resumed from %s (step %d)", checkpoint, step)
            self.resumed_step = step
            return step
        if found:
            raise RuntimeError(f"none of the checkpoints in {self.checkpoint_dir()} can be loaded (see the warnings); "
                               "move them away to start over, or use --overwrite_output_dir true")
        return 0

    def load_checkpoint(self, checkpoint: Path) -> int:
        self.accelerator.load_state(str(checkpoint))
        self.load_extra_state(load_file(checkpoint / "extra_state.safetensors", device=str(self.accelerator.device)))
        return json.loads((checkpoint / "trainer_state.json").read_text())["step"]

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

    def export(self, run_dir: Path) -> None:
        """One ``save_pretrained`` folder per part (EMA weights where kept), the processor, the
        top-level copy of ``loads_as`` and the model cards (main process only)."""
        from ..hub import link_scoring_model, save_pretrained_atomic

        bad = non_finite(modules={name: self.exported(name) for name in self.export_parts()})
        if bad:
            self.diverged(f"non-finite weights ({', '.join(bad[:5])}) at export")
        for name in self.export_parts():
            save_pretrained_atomic(self.exported(name), run_dir / name, self.part_processor(name))
        if self.processor is not None:
            self.processor.save_pretrained(run_dir)
        if self.loads_as:
            link_scoring_model(run_dir, self.loads_as)
        if self.card_template:
            self.write_cards(run_dir)

    def part_processor(self, name: str):
        """The processor saved with part ``name``: the run's own, unless the part sees other inputs
        (CRL-TAC's encoder sees crops, not canvases)."""
        return self.processor

    def export_parts(self) -> tuple[str, ...]:
        """The parts this run exports (all of ``parts`` unless a family leaves some out)."""
        return self.parts

    @classmethod
    def write_cards(cls, run_dir: str | Path) -> None:
        """(Re)write the cards of the run and of each part from ``run_info.json``, the logs and any
        evaluation results (OOD table, probe). The run and its ``loads_as`` part carry the metrics."""
        from ..hub import REFERENCE_FILE, build_card, read_results

        run_dir = Path(run_dir)
        info = json.loads((run_dir / "run_info.json").read_text())
        args = cls.arguments_from_run_info(info["args"])
        probe_file = run_dir / PROBE_FILE
        evaluation = {"results": read_results(run_dir), "history": read_log_history(run_dir),
                      "probe": json.loads(probe_file.read_text()) if probe_file.exists() else None,
                      "config": read_results(run_dir, "config.json") or {}}  # what the run's top-level model loads
        parts = [(name, run_dir / name) for name in cls.parts + cls.evaluation_parts if (run_dir / name).is_dir()]
        for role, path in parts + [("run", run_dir)]:
            scored = role in ("run", cls.loads_as, *cls.evaluation_parts)
            card = build_card(cls.card_template, dataset=args.dataset, tags=list(cls.card_tags), command=info["command"],
                              context=cls.card_context(args, role, evaluation),
                              results=evaluation["results"] if scored else None,
                              probe=evaluation["probe"] if scored else None,
                              reference=read_results(run_dir, REFERENCE_FILE))
            card.save(path / "README.md")

    @classmethod
    def arguments_from_run_info(cls, saved: dict):
        """The run's arguments from ``run_info.json`` (families adapt flags of older runs here)."""
        names = {f.name for f in dataclasses.fields(cls.arguments_class)}
        return cls.arguments_class(**{k: v for k, v in saved.items() if k in names})


def _contiguous(state: dict) -> dict:
    return {k: v.detach().contiguous() for k, v in state.items()}


def _flat_config(args) -> dict:
    """Tracker-friendly hyper-parameters: only int/float/str/bool values."""
    return {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in dataclasses.asdict(args).items()}
