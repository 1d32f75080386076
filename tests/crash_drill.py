"""Crash drills for resume and divergence tests: run a trainer and either SIGKILL it once it has
finished step N (after that step's checkpoint and samples), the way a power cut or an OOM killer
would, or poison its weights with NaN after step N (a diverging run).

    python tests/crash_drill.py kill|nan N FAMILY TRAINER-FLAGS...
"""

import os
import signal
import sys

import torch

from hf_nda.trainers import trainer_class
from hf_nda.trainers.arguments import run_cli
from hf_nda.trainers.base import BaseTrainer


def main() -> None:
    mode, at, family, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
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
