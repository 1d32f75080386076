"""Saving, model cards and Hub upload for models and whole training runs.

A run directory is Hub-ready as it is: one sub-folder per model (each a complete
``save_pretrained`` folder with its processor config and model card), plus, at the top, the card
of the run and a copy of its *scoring* model (config, weights, processor config), so that
``AutoModel.from_pretrained(run)`` and ``pipeline("ood-scoring", model=run)`` work on the run
directory or its repo id. The copy is a real file rather than an index pointing into the
sub-folder: transformers probes for a top-level ``model.safetensors`` first, and Hub-API servers
other than the Hub (mirrors such as olah) answer that probe for a missing file with an error
transformers does not recover from. Scoring models are small (a discriminator or an encoder).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData

CARD_TEMPLATES = Path(__file__).parent / "model_cards"
RESULTS_FILE = "ood_results.json"


def _replace_dir(tmp: Path, final: Path) -> None:
    old = final.with_name(f".old-{final.name}")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def save_pretrained_atomic(model, path: str | Path, processor=None, card: ModelCard | None = None) -> Path:
    """``save_pretrained`` (+ processor and card) into a temporary folder, then rename into place,
    so an interrupted save never leaves a half-written model folder."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    if processor is not None:
        processor.save_pretrained(tmp)
    if card is not None:
        card.save(tmp / "README.md")
    _replace_dir(tmp, path)
    return path


def link_scoring_model(run_dir: str | Path, subfolder: str) -> None:
    """Copy the model in ``run_dir/subfolder`` to the top of ``run_dir`` (see module docstring)."""
    run_dir = Path(run_dir)
    for name in ("config.json", "model.safetensors", "preprocessor_config.json"):
        if (run_dir / subfolder / name).exists():
            tmp = run_dir / f".tmp-{name}"
            shutil.copyfile(run_dir / subfolder / name, tmp)
            os.replace(tmp, run_dir / name)


def read_results(run_dir: str | Path) -> dict | None:
    path = Path(run_dir) / RESULTS_FILE
    return json.loads(path.read_text()) if path.exists() else None


def build_card(family: str, *, dataset: str, tags: list[str], command: str, context: dict,
               results: dict | None = None, probe: dict | None = None) -> ModelCard:
    """Render ``model_cards/<family>.md`` with card metadata (library, tags, dataset, metrics: OOD
    ``results`` and/or linear-``probe`` accuracy)."""
    from huggingface_hub import EvalResult

    eval_results, metrics = [], []
    if probe:
        metrics.append("accuracy")
        eval_results.append(EvalResult(task_type="image-classification", task_name="linear probe on frozen features",
                                       dataset_type=probe["dataset"], dataset_name=f"{probe['dataset']} (test)",
                                       metric_type="accuracy", metric_name="linear probe top-1",
                                       metric_value=round(probe["linear_top1"], 4)))
    if results:
        metrics.append("roc_auc")
        eval_results += [EvalResult(task_type="image-classification", task_name="out-of-distribution detection",
                                    dataset_type=dataset, dataset_name=f"{dataset} (test) vs {name}",
                                    metric_type="roc_auc", metric_name=f"AUROC vs {name}", metric_value=round(row["AUROC"], 4))
                         for name, row in results.get("metrics", {}).items()]
    data = ModelCardData(library_name="hf_nda", license="apache-2.0", tags=["hf_nda", *tags],
                         datasets=[_hub_dataset_id(dataset)], metrics=metrics or None,
                         model_name=context.get("model_name", family), eval_results=eval_results or None)
    return ModelCard.from_template(data, template_path=str(CARD_TEMPLATES / f"{family}.md"),
                                   command=command, results=results, **context)


def _hub_dataset_id(name: str) -> str:
    from .data.sources import HUB_IDS

    return HUB_IDS.get(name, name)


def push_run(run_dir: str | Path, repo_id: str, *, private: bool = False, token: str | None = None,
             dry_run: bool = False) -> list[str]:
    """Upload a run directory (all model folders, the run card, samples and plots) to ``repo_id``.
    Checkpoints and logs stay local. Returns the uploaded paths."""
    from huggingface_hub import HfApi

    run_dir = Path(run_dir)
    if not (run_dir / "README.md").exists() or not (run_dir / "config.json").exists():
        raise ValueError(f"{run_dir} is not a finished run directory (no README.md / config.json); train first")
    local_only = ("checkpoints", "logs")
    ignore = [f"{d}/*" for d in local_only] + [".tmp-*/*", ".old-*/*"]
    files = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*")
                   if p.is_file() and p.relative_to(run_dir).parts[0] not in local_only
                   and not p.relative_to(run_dir).parts[0].startswith((".tmp-", ".old-")))
    if dry_run:
        return files
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    api.upload_folder(repo_id=repo_id, folder_path=str(run_dir), ignore_patterns=ignore,
                      commit_message="Upload hf_nda run")
    return files
