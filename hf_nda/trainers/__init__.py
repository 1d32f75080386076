"""Accelerate trainers, one per family, on one shared loop (:mod:`hf_nda.trainers.base`)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

TRAINER_MODULES = {"gan": "hf_nda.trainers.gan", "moco": "hf_nda.trainers.moco", "amr": "hf_nda.trainers.amr",
                   "copgen": "hf_nda.trainers.copgen", "crl-tac": "hf_nda.trainers.crl_tac"}
TRAINER_CLASSES = {"gan": "NDAGANTrainer", "moco": "NDAMoCoTrainer", "amr": "AMRTrainer", "copgen": "COPGenTrainer",
                   "crl-tac": "CRLTACTrainer"}


def trainer_class(family: str):
    """The trainer class of a family name (as in ``run_info.json`` and ``hf-nda train <family>``)."""
    if family not in TRAINER_MODULES:
        raise ValueError(f"unknown family {family!r}; known: {sorted(TRAINER_MODULES)}")
    return getattr(importlib.import_module(TRAINER_MODULES[family]), TRAINER_CLASSES[family])


def write_run_cards(run_dir: str | Path) -> None:
    """Re-render the model cards of a finished run (after new evaluation results)."""
    family = json.loads((Path(run_dir) / "run_info.json").read_text())["family"]
    trainer_class(family).write_cards(run_dir)
