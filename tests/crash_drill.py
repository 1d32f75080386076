"""Crash drills for resume and divergence tests: run a trainer and either SIGKILL it once it has
finished step N (after that step's checkpoint and samples), the way a power cut or an OOM killer
would, or poison its weights with NaN after step N (a diverging run), or SIGKILL it in the middle of
saving step N's checkpoint, at one of ``SAVE_PHASES``.

    python tests/crash_drill.py kill|nan|kill-save:PHASE N FAMILY TRAINER-FLAGS...
"""

import os
import signal
import sys

import torch
from accelerate import Accelerator

from hf_nda.trainers import base, trainer_class
from hf_nda.trainers.arguments import run_cli
from hf_nda.trainers.base import BaseTrainer

# Where a save can be cut: before any file of the temporary folder, after the models/optimizers,
# after the extra state, just before the atomic rename (old copy removed), just after it (before pruning).
SAVE_PHASES = ("before_state", "after_state", "after_extra", "before_rename", "after_rename")


def kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def drill_save(phase: str, at: int) -> None:
    """SIGKILL the process at ``phase`` of the save of step ``at``'s checkpoint."""
    saving = {"now": False}
    save_checkpoint, save_state, save_file, replace = (BaseTrainer.save_checkpoint, Accelerator.save_state,
                                                       base.save_file, os.replace)

    def drilled_save_checkpoint(self):
        saving["now"] = self.step == at
        save_checkpoint(self)
        saving["now"] = False

    def drilled_save_state(self, *args, **kwargs):
        if saving["now"] and phase == "before_state":
            kill()
        out = save_state(self, *args, **kwargs)
        if saving["now"] and phase == "after_state":
            kill()
        return out

    def drilled_save_file(*args, **kwargs):
        save_file(*args, **kwargs)
        if saving["now"] and phase == "after_extra":
            kill()

    def drilled_replace(src, dst, *args, **kwargs):
        if saving["now"] and phase == "before_rename" and os.path.basename(src).startswith(".tmp-step-"):
            kill()
        replace(src, dst, *args, **kwargs)
        if saving["now"] and phase == "after_rename" and os.path.basename(src).startswith(".tmp-step-"):
            kill()

    BaseTrainer.save_checkpoint, Accelerator.save_state, base.save_file = (drilled_save_checkpoint,
                                                                           drilled_save_state, drilled_save_file)
    base.os.replace = drilled_replace


def main() -> None:
    mode, at, family, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    if mode.startswith("kill-save:"):
        drill_save(mode.split(":", 1)[1], at)
        mode = "none"
    step_generator = BaseTrainer.step_generator

    def drilled_step_generator(self, step):  # asked for at the start of each step: step N+1 starts here
        if step == at and mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if step == at and mode == "nan":
            with torch.no_grad():
                for model in self.models.values():
                    next(model.parameters()).fill_(float("nan"))
        return step_generator(self, step)

    BaseTrainer.step_generator = drilled_step_generator
    run_cli(trainer_class(family), argv)


if __name__ == "__main__":
    main()
