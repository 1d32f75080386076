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
import re
import shutil
from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData

CARD_TEMPLATES = Path(__file__).parent / "model_cards"
RESULTS_FILE = "ood_results.json"
REFERENCE_FILE = "zoo.json"  # written by `hf-nda zoo build`


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


def read_results(run_dir: str | Path, name: str = RESULTS_FILE) -> dict | None:
    path = Path(run_dir) / name
    return json.loads(path.read_text()) if path.exists() else None


CITATION_KEYS = {"nda_gan": "sinha2021negative", "nda_moco": "sinha2021negative", "amr": "beckham2019adversarial",
                 "copgen": "li2022optimal", "crl_tac": "koyama2021contrastive"}


def build_card(family: str, *, dataset: str, tags: list[str], command: str, context: dict,
               results: dict | None = None, probe: dict | None = None, reference: dict | None = None) -> ModelCard:
    """Render ``model_cards/<family>.md`` with card metadata (library, tags, dataset, metrics: OOD
    ``results`` and/or linear-``probe`` accuracy), then the paper's BibTeX. A zoo ``reference``
    (``zoo.json``) names the repo, replaces the metadata metrics with its own and adds its section."""
    eval_results = _reference_eval_results(reference, dataset) if reference else _eval_results(results, probe, dataset)
    data = ModelCardData(library_name="hf_nda", license="apache-2.0", tags=["hf_nda", *tags],
                         datasets=[_hub_dataset_id(dataset)], metrics=sorted({r.metric_type for r in eval_results}) or None,
                         model_name=reference["name"] if reference else context.get("model_name", family),
                         eval_results=eval_results or None)
    context = {**context, "repo_id": reference["repo_id"] if reference else "REPO_ID"}
    if reference:
        context["model_name"] = reference["name"]
    card = ModelCard.from_template(data, template_path=str(CARD_TEMPLATES / f"{family}.md"),
                                   command=command, results=results, **context)
    card.text = card.text.rstrip() + "\n" + (_reference_section(reference) if reference else "") + _citation(family)
    return card


def _eval_results(results: dict | None, probe: dict | None, dataset: str) -> list:
    from huggingface_hub import EvalResult

    found = []
    if probe:
        found.append(EvalResult(task_type="image-classification", task_name="linear probe on frozen features",
                                dataset_type=probe["dataset"], dataset_name=f"{probe['dataset']} (test)",
                                metric_type="accuracy", metric_name="linear probe top-1",
                                metric_value=round(probe["linear_top1"], 4)))
    if results:
        found += [EvalResult(task_type="image-classification", task_name="out-of-distribution detection",
                             dataset_type=dataset, dataset_name=f"{dataset} (test) vs {name}",
                             metric_type="roc_auc", metric_name=f"AUROC vs {name}", metric_value=round(row["AUROC"], 4))
                  for name, row in results.get("metrics", {}).items()]
    return found


# The task each kind of measurement belongs to, for the card's model-index.
METRIC_TASKS = {"ood_results.json": ("image-classification", "out-of-distribution detection"),
                "probe_results.json": ("image-classification", "linear probe on frozen features"),
                "log_history.jsonl": ("image-to-image", "positive pair generation (training monitor)")}


def _reference_eval_results(reference: dict, dataset: str) -> list:
    from huggingface_hub import EvalResult

    def result(metric: dict) -> EvalResult:
        task_type, task_name = METRIC_TASKS[metric["source"].split(":", 1)[0]]
        return EvalResult(task_type=task_type, task_name=task_name, dataset_type=dataset,
                          dataset_name=f"{dataset} (test)", metric_type=metric["type"], metric_name=metric["name"],
                          metric_value=round(metric["value"], 4))

    return [result(m) for m in reference["metrics"]]


def _reference_section(reference: dict) -> str:
    rows = "\n".join(f"| {m['name']} | {m['value']:.4f} |" for m in reference["metrics"])
    smoke = (f"**Smoke build** with test-sized settings {reference['smoke_build']}: these numbers are not the "
             "reference ones.\n\n" if reference.get("smoke_build") else "")
    return (f"\n## Reference model `{reference['name']}`\n\n"
            f"One of hf_nda's reference checkpoints: `hf-nda zoo build {reference['name']}` rebuilds it — trains the "
            f"recipe `{reference['recipe']}`, evaluates it and writes this card — and `hf-nda zoo publish "
            f"{reference['name']}` uploads it to `{reference['repo_id']}`.\n\n"
            f"- **For:** {reference['intended_use']}\n- **Not for:** {reference['not_for']}\n"
            f"- **Limitations at this scale:** {reference['limitations']}\n\n"
            f"{smoke}| metric | value |\n|---|---:|\n{rows}\n\n"
            f"Built by hf_nda {reference['hf_nda_version']} in {reference['build_seconds']:.0f} s "
            f"({reference['device']}).\n")


def _citation(family: str) -> str:
    key = CITATION_KEYS.get(family)
    if key is None:
        return ""
    bib = (CARD_TEMPLATES / "citations.bib").read_text()
    entry = re.search(r"@\w+\{" + key + r",.*?\n\}", bib, re.DOTALL).group(0)
    return f"\n## Citation\n\n```bibtex\n{entry}\n```\n"


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
