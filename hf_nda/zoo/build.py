"""``hf-nda zoo build``: train a registry entry's recipe (resumable), evaluate it with its family's
own evaluation, and leave a Hub-ready folder whose cards carry the metrics, the use and the citation."""

from __future__ import annotations

import importlib
import json
import logging
import os
import time
from pathlib import Path

import torch

from ..hub import REFERENCE_FILE, read_results
from .registry import REFERENCE, ZooEntry, get_entry

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT_DIR = "outputs/zoo"


def recipe_argv(flags: dict) -> list[str]:
    """Trainer flags (a recipe's mapping) as the command-line arguments ``hf-nda train`` parses."""
    argv = []
    for key, value in flags.items():
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        argv += [f"--{key}", *(str(v).lower() if isinstance(v, bool) else str(v) for v in values)]
    return argv


def train_flags(entry: ZooEntry, output_dir: Path, overrides: dict | None = None) -> dict:
    """The entry's recipe with ``zoo:NAME`` resolved to built folders under ``output_dir``."""
    flags = {**entry.recipe_flags(), **(overrides or {}), "output_dir": str(output_dir / entry.name)}
    return {k: str(output_dir / v[len(REFERENCE):]) if isinstance(v, str) and v.startswith(REFERENCE) else v
            for k, v in flags.items()}


def build(name: str, output_dir: str | Path = DEFAULT_OUTPUT_DIR, *, org: str | None = None,
          overrides: dict | None = None, evaluation: dict | None = None, force: bool = False) -> dict:
    """Build the zoo entry ``name`` into ``output_dir/name`` (and the entries it trains on, first).

    A killed build resumes from the run's last checkpoint; a finished one is left as it is unless
    ``force``. ``overrides`` (trainer flags) and ``evaluation`` (evaluation arguments) shrink a build
    for tests; a build made with them says so in its ``zoo.json`` and card. Returns ``zoo.json``.

    Example:
        >>> from hf_nda.zoo import build
        >>> info = build("nda-gan-fashion-mnist")  # doctest: +SKIP
        >>> {m["name"]: m["value"] for m in info["metrics"]}  # doctest: +SKIP
    """
    entry, root = get_entry(name), Path(output_dir)
    for dependency in entry.requires():
        if read_results(root / dependency, REFERENCE_FILE) is None:
            build(dependency, root, org=org, overrides=overrides, evaluation=evaluation)
    flags = train_flags(entry, root, overrides)
    folder = root / name
    done = read_results(folder, REFERENCE_FILE)
    if done and not force and done["train_flags"] == flags and done["repo_id"] == entry.repo_id(org):
        logger.info("%s is built (%s); --force rebuilds it", name, folder)
        return done
    started = time.perf_counter()
    trainer = importlib.import_module(f"hf_nda.trainers.{entry.family.replace('-', '_')}")
    trainer.main(recipe_argv(flags))
    _point_references_at_repos(entry, folder, org)
    _evaluate(entry, folder, evaluation)
    seconds = time.perf_counter() - started
    if done and done["train_flags"] == flags:  # a forced rebuild of the same recipe adds to the first build's time
        seconds += done["build_seconds"]
    info = _reference_info(entry, folder, flags, org, seconds,
                           smoke={"overrides": overrides, "evaluation": evaluation} if overrides or evaluation else None)
    _write_json_atomic(folder / REFERENCE_FILE, info)
    from ..trainers import write_run_cards

    write_run_cards(folder)
    return info


def _evaluate(entry: ZooEntry, folder: Path, extra: dict | None) -> None:
    kind = entry.evaluation["kind"]
    kwargs = {k: v for k, v in entry.evaluation.items() if k != "kind"} | (extra or {})
    if kind == "ood":
        from ..evaluation.report import evaluate_ood

        evaluate_ood(str(folder), entry.dataset, command=f"hf-nda evaluate-ood --model {folder} --dataset {entry.dataset}",
                     **kwargs)
    elif kind == "probe":
        from ..evaluation.probe import linear_probe

        linear_probe(str(folder), entry.dataset, command=f"hf-nda probe --model {folder} --dataset {entry.dataset}",
                     **kwargs)
    # "training": the trainer measured it (COP-Gen's agreement monitor, in log_history.jsonl)


def _point_references_at_repos(entry: ZooEntry, folder: Path, org: str | None) -> None:
    """A model that names another zoo entry (COP-Gen's generator) is trained on its local folder, then
    made to name its repo id, so the published navigator loads its generator from the Hub."""
    from transformers import AutoConfig

    for flag, value in entry.overrides.items():
        if not (isinstance(value, str) and value.startswith(REFERENCE)):
            continue
        if (entry.family, flag) != ("copgen", "generator"):
            raise ValueError(f"zoo entry {entry.name}: a zoo: reference is supported for copgen's --generator only")
        repo_id = get_entry(value[len(REFERENCE):]).repo_id(org)
        for config_dir in (folder, folder / "navigator"):
            config = AutoConfig.from_pretrained(config_dir)
            config.generator = {**config.generator, "source": repo_id}
            config.save_pretrained(config_dir)


def _reference_info(entry: ZooEntry, folder: Path, flags: dict, org: str | None, seconds: float, smoke) -> dict:
    from .. import __version__

    threads = f"{torch.get_num_threads()} CPU threads"
    device = f"{torch.cuda.get_device_name()}" if torch.cuda.is_available() else threads
    metrics = [{"name": m.name, "value": m.read(folder), "type": m.type, "source": m.value} for m in entry.metrics]
    missing = [m["name"] for m in metrics if m["value"] is None]
    if missing:
        raise RuntimeError(f"zoo entry {entry.name}: the build measured no {', '.join(missing)} "
                           f"(looked in {folder}); the registry's metric paths disagree with the evaluation output")
    return {"name": entry.name, "family": entry.family, "repo_id": entry.repo_id(org), "recipe": entry.recipe,
            "dataset": entry.dataset, "summary": entry.summary, "intended_use": entry.intended_use,
            "not_for": entry.not_for, "limitations": entry.limitations, "metrics": metrics, "train_flags": flags,
            "build_seconds": round(seconds, 1), "device": device, "hf_nda_version": __version__,
            "smoke_build": smoke}


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    os.replace(tmp, path)
