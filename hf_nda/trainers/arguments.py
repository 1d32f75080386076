"""The flags every trainer shares, and parsing them (CLI flags or a JSON/YAML recipe) with
transformers' ``HfArgumentParser``."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

LOG_LEVELS = ("debug", "info", "warning", "error")


def scheduler_names() -> tuple[str, ...]:
    from transformers.trainer_utils import SchedulerType

    return tuple(s.value for s in SchedulerType)


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
    lr_scheduler_type: str = field(default="constant", metadata={
        "help": "learning-rate schedule of every optimizer (transformers.get_scheduler): constant, "
                "constant_with_warmup, linear, cosine, ..."})
    warmup_steps: int = field(default=0, metadata={"help": "warm-up steps of the schedule"})
    save_steps: int = field(default=500, metadata={"help": "checkpoint every N steps (0: only at the end)"})
    save_total_limit: int = field(default=2, metadata={"help": "checkpoints kept"})
    sample_steps: int = field(default=500, metadata={"help": "sample grid every N steps (0: only at the end)"})
    logging_steps: int = field(default=50)
    log_level: str = field(default="warning", metadata={"help": "debug, info, warning or error (Accelerate's "
                                                                 "per-file checkpoint messages are info)"})
    report_to: str = field(default="tensorboard", metadata={"help": "accelerate tracker(s), or 'none'"})
    resume: bool = field(default=True, metadata={"help": "resume from the newest checkpoint in output_dir"})
    overwrite_output_dir: bool = field(default=False, metadata={
        "help": "discard the run already in output_dir (checkpoints, logs, models) and start over"})
    push_to_hub: bool = field(default=False)
    hub_model_id: str | None = field(default=None)
    max_train_samples: int | None = field(default=None, metadata={"help": "use only the first N training images"})
    dataloader_seed_offset: int = field(default=0, metadata={"help": "changes data order without changing init"})

    def validate(self) -> None:
        if self.max_steps < 1 or self.batch_size < 1 or self.gradient_accumulation_steps < 1:
            raise ValueError("max_steps, batch_size and gradient_accumulation_steps must be >= 1")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ValueError(f"mixed_precision must be no, fp16 or bf16, got {self.mixed_precision!r}")
        if self.lr_scheduler_type not in scheduler_names():
            raise ValueError(f"--lr_scheduler_type must be one of {scheduler_names()}, got {self.lr_scheduler_type!r}")
        if self.warmup_steps < 0:
            raise ValueError(f"--warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"--log_level must be one of {LOG_LEVELS}, got {self.log_level!r}")
        if self.logging_steps < 1 or self.save_total_limit < 1:
            raise ValueError(f"--logging_steps and --save_total_limit must be >= 1, got {self.logging_steps} and "
                             f"{self.save_total_limit}")
        if self.save_steps < 0 or self.sample_steps < 0:
            raise ValueError(f"--save_steps and --sample_steps must be >= 0 (0: only at the end), got "
                             f"{self.save_steps} and {self.sample_steps}")
        if self.batch_size % self.gradient_accumulation_steps:
            raise ValueError(f"--batch_size ({self.batch_size}) must be a multiple of --gradient_accumulation_steps "
                             f"({self.gradient_accumulation_steps}): micro-batches of one size")
        if self.max_train_samples is not None and self.max_train_samples < self.batch_size:
            raise ValueError(f"--max_train_samples ({self.max_train_samples}) is smaller than one batch "
                             f"(--batch_size {self.batch_size}): every batch would repeat images")
        if Path(self.output_dir).is_file():
            raise ValueError(f"--output_dir {self.output_dir} is a file; give a directory (new or a run to resume)")


def negative_names(specs: list[str]) -> list[str]:
    """The ``--nda`` values that name a transform (``none`` means no NDA)."""
    return [n for n in specs if n.lower() != "none"]


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


def run_cli(trainer_class, argv=None) -> int:
    """Entry point shared by ``python -m hf_nda.trainers.<family>`` and ``hf-nda train <family>``."""
    (args,) = parse_args(trainer_class.arguments_class, argv)
    try:
        args.validate()
    except ValueError as error:  # a bad flag: its message and exit code 2 (as argparse does), before any work
        print(f"hf-nda train {trainer_class.family}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    trainer_class(args, argv).train()
    return 0
