"""Accelerate trainers, one per family, on one shared loop (:mod:`hf_nda.trainers.base`)."""

from __future__ import annotations

import json
from pathlib import Path

TRAINER_MODULES = {"gan": "hf_nda.trainers.gan", "moco": "hf_nda.trainers.moco", "amr": "hf_nda.trainers.amr"}


def write_run_cards(run_dir: str | Path) -> None:
    """Re-render the model cards of a finished run (after new evaluation results)."""
    import importlib

    run_dir = Path(run_dir)
    family = json.loads((run_dir / "run_info.json").read_text())["family"]
    importlib.import_module(TRAINER_MODULES[family]).write_cards(run_dir)
