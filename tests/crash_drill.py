"""Crash drill for resume tests: run a trainer and SIGKILL it once it has finished step N (after
that step's checkpoint and samples), the way a power cut or an OOM killer would.

    python tests/crash_drill.py N FAMILY TRAINER-FLAGS...
"""

import os
import signal
import sys

from hf_nda.trainers import trainer_class
from hf_nda.trainers.base import BaseTrainer, run_cli


def main() -> None:
    kill_at, family, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    step_generator = BaseTrainer.step_generator

    def killing_step_generator(self, step):  # asked for at the start of each step: step N+1 starts here
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return step_generator(self, step)

    BaseTrainer.step_generator = killing_step_generator
    run_cli(trainer_class(family), argv)


if __name__ == "__main__":
    main()
