"""What a run directory guarantees across restarts: a resume continues the *same* recipe, a damaged
checkpoint is skipped rather than fatal, and diverged weights are never saved.

- :func:`check_recipe` — before anything is written, the flags of a new command are compared with the
  run's recorded ones: a change to what is trained (data, architecture, losses, batch, …) is an error
  naming the flags and the way out; harmless ones (more steps, logging, checkpoint cadence) are
  allowed and recorded in ``run_info.json``.
- :func:`checkpoint_problem` — why a checkpoint folder cannot be loaded (missing or unreadable files),
  so resume can fall back to the newest one that can.
- :func:`non_finite` — the names of logged values or parameters that are NaN or infinite.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch

LOG_FILE = "log_history.jsonl"

# flags that change how long, how often or where a run reports — not what it trains
HARMLESS_FLAGS = frozenset({"output_dir", "max_steps", "save_steps", "save_total_limit", "sample_steps",
                            "logging_steps", "log_level", "report_to", "resume", "push_to_hub", "hub_model_id",
                            "overwrite_output_dir", "data_dir"})


class RecipeChangedError(ValueError):
    """A resume was asked for with flags that change what the run trains."""


class TrainingDivergedError(RuntimeError):
    """A loss or a weight became NaN or infinite."""


def recipe_changes(saved: dict, now: dict, harmless=HARMLESS_FLAGS) -> tuple[dict, dict]:
    """(changes that alter the training, harmless changes) between two flag dicts, as
    ``{flag: (saved value, new value)}``; flags only one side knows are not compared."""
    changed = {k: (saved[k], now[k]) for k in saved.keys() & now.keys() if saved[k] != now[k]}
    harmful = {k: v for k, v in changed.items() if k not in harmless}
    return harmful, {k: v for k, v in changed.items() if k in harmless}


def check_recipe(run_dir: Path, family: str, args: dict, harmless=HARMLESS_FLAGS) -> dict:
    """Raise :class:`RecipeChangedError` when ``run_dir`` holds a run of another family or recipe;
    return the harmless changes (empty for a new run)."""
    info_file = run_dir / "run_info.json"
    if not info_file.exists():
        return {}
    info = json.loads(info_file.read_text())
    if info.get("family") != family:
        raise RecipeChangedError(f"{run_dir} holds a {info.get('family')!r} run, not {family!r}: use another "
                                 "--output_dir, or --overwrite_output_dir true to replace it")
    harmful, harmless_changes = recipe_changes(info["args"], args, harmless)
    if harmful:
        listed = "; ".join(f"--{k}: {old!r} → {new!r}" for k, (old, new) in sorted(harmful.items()))
        raise RecipeChangedError(
            f"{run_dir} was trained with another recipe ({listed}); resuming would mix the two. Use another "
            "--output_dir for the new recipe, or --overwrite_output_dir true to discard this run and start over. "
            f"(Flags that may change on resume: {', '.join(sorted(harmless - {'output_dir'}))}.)")
    return harmless_changes


def checkpoint_problem(path: Path) -> str | None:
    """None when ``path`` looks loadable, else what is wrong with it."""
    from safetensors import safe_open

    state = path / "trainer_state.json"
    try:
        json.loads(state.read_text())["step"]
    except (OSError, ValueError, KeyError) as error:
        return f"trainer_state.json unreadable ({error})"
    weights = sorted(path.glob("model*.safetensors"))
    if not weights:
        return "no model weights (model*.safetensors)"
    for file in [*weights, path / "extra_state.safetensors"]:
        try:
            with safe_open(str(file), framework="pt") as f:
                f.keys()
        except Exception as error:  # safetensors raises several types for truncated / missing files
            return f"{file.name} unreadable ({error})"
    if not any(path.glob("optimizer*.bin")) and not any(path.glob("optimizer*.safetensors")):
        return "no optimizer state"
    return None


def non_finite(values: dict[str, float] | None = None, modules: dict[str, torch.nn.Module] | None = None) -> list[str]:
    """Names of non-finite logged values and of parameters/buffers holding a NaN or inf."""
    bad = [k for k, v in (values or {}).items() if isinstance(v, float) and not math.isfinite(v)]
    for name, module in (modules or {}).items():
        bad += [f"{name}.{k}" for k, t in module.state_dict().items()
                if t.is_floating_point() and not torch.isfinite(t).all()]
    return bad


def read_log_history(run_dir: str | Path) -> list[dict]:
    """The rows of a run's ``log_history.jsonl`` (every logged step, across resumes)."""
    path = Path(run_dir) / LOG_FILE
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def truncate_log(path: Path, last_step: int) -> None:
    """Keep the rows of ``path`` up to ``last_step`` (written to a temporary file and renamed)."""
    if not path.exists():
        return
    rows = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= last_step]
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text("".join(row + "\n" for row in rows))
    os.replace(tmp, path)
