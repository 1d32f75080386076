"""``hf-nda evaluate-ood``: score an in-distribution test split against an OOD suite and write the
table (Markdown + JSON), ROC curves and score-difference histograms (paper Fig. 4 / 8)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from ..data import build_ood_suite, cached_pixel_values
from ..data.ood_suite import DEFAULT_OTHER
from .ood_metrics import ood_metrics

logger = logging.getLogger(__name__)
METRIC_NAMES = ("AUROC", "AUPR-IN", "AUPR-OUT", "FPR95TPR")


def load_scorer(model: str, device=None):
    """``pipeline("ood-scoring")`` for a model folder, a run directory or a Hub repo id."""
    import hf_nda  # noqa: F401  (registers the task)
    from transformers import pipeline

    path = Path(model)
    if path.is_dir() and not (path / "config.json").exists():
        raise ValueError(f"{model} holds no model: expected config.json (a run directory has one at the top "
                         "once training finished; a model folder from save_pretrained always has one)")
    return pipeline("ood-scoring", model=model, device=device)


def evaluate_ood(model: str, dataset: str = "fashion_mnist", *, num_images: int = 2000, severity: int = 5,
                 other_datasets=None, output_dir: str | None = None, batch_size: int = 256, seed: int = 0,
                 data_dir: str | None = None, command: str | None = None, fid_samples: int = 1000) -> dict:
    """Score ``dataset``'s test split (in-distribution) and each OOD set; write reports to
    ``output_dir`` (default: the model folder when it is local). Returns the results dict.

    For a GAN run directory (with ``generator/``) it also measures the FID-style distance of
    ``fid_samples`` generated images to as many test images (0 skips it), and refreshes the cards.
    """
    scorer = load_scorer(model)
    processor = scorer.image_processor
    in_test, _ = cached_pixel_values(dataset, "test", processor, data_dir=data_dir)
    in_test = in_test[:num_images]
    if hasattr(scorer.model, "fit_ood") and not scorer.model.config.ood_num_fitted:
        fit_images, _ = cached_pixel_values(dataset, "train", processor, data_dir=data_dir)
        scorer.fit(fit_images[:num_images], batch_size=batch_size)  # features of held-out train images
        logger.info("fitted the encoder's %s scorer on %d training images", scorer.model.config.ood_method, num_images)
    other = DEFAULT_OTHER.get(dataset, []) if other_datasets is None else other_datasets
    suite = build_ood_suite(in_test, processor, other_datasets=other, severity=severity, seed=seed)
    in_scores = scorer.scores(in_test, batch_size=batch_size)
    suite_scores = {name: scorer.scores(images, batch_size=batch_size) for name, images in suite.items()}
    metrics = {name: ood_metrics(in_scores, s) for name, s in suite_scores.items()}
    metrics["mean"] = {k: sum(m[k] for m in metrics.values()) / len(metrics) for k in METRIC_NAMES}
    method = getattr(scorer.model.config, "ood_method", None) or "discriminator logit"
    results = {"dataset": dataset, "num_in_distribution": len(in_test), "severity": severity, "metrics": metrics,
               "method": method,
               "command": command or f"hf-nda evaluate-ood --model {model} --dataset {dataset}"}
    run_dir = Path(model) if Path(model).is_dir() else None
    if run_dir is not None and (run_dir / "generator").is_dir() and fid_samples:
        results["fid_style"] = generator_fid_style(run_dir / "generator", dataset, processor, fid_samples, data_dir)
    out = Path(output_dir) if output_dir else (run_dir or Path("ood_eval"))
    write_reports(out, results, in_scores, suite_scores)
    if run_dir is not None and out == run_dir and (run_dir / "run_info.json").exists():
        from ..trainers import write_run_cards

        write_run_cards(run_dir)
    return results


def generator_fid_style(generator_dir: Path, dataset: str, processor, num_samples: int, data_dir=None) -> dict:
    """FID-style distance (EfficientNet-Lite0 features) of a generator's samples to the test split."""
    from transformers import AutoModel

    from .fid_style import FEATURE_RESOLUTION, fid_style_distance

    generator = AutoModel.from_pretrained(generator_dir).eval()
    real, _ = cached_pixel_values(dataset, "test", processor, data_dir=data_dir)
    n = min(num_samples, len(real))
    fake = torch.cat([generator.generate(len(c), generator=torch.Generator().manual_seed(i))
                      for i, c in enumerate(torch.arange(n).split(500))])
    size = processor.size
    key = f"{dataset}-test-{size.height}x{size.width}x{processor.num_channels}"
    value = fid_style_distance(fake, real[:n], real_cache_key=None if data_dir else key)
    # the same distance between two sets of *real* images: the floor a perfect generator reaches
    train, _ = cached_pixel_values(dataset, "train", processor, data_dir=data_dir)
    floor = fid_style_distance(train[:n], real[:n], real_cache_key=None if data_dir else key)
    return {"value": value, "real_reference": floor, "num_samples": n,
            "feature_network": "EfficientNet-Lite0 (ImageNet)", "resolution": FEATURE_RESOLUTION}


def markdown_table(results: dict) -> str:
    rows = ["| OOD set | " + " | ".join(METRIC_NAMES) + " |", "|---|" + "---:|" * len(METRIC_NAMES)]
    for name, m in results["metrics"].items():
        rows.append(f"| {name} | " + " | ".join(f"{m[k]:.4f}" for k in METRIC_NAMES) + " |")
    return "\n".join(rows) + "\n"


def write_reports(out: Path, results: dict, in_scores: torch.Tensor, suite_scores: dict) -> None:
    from ..hub import RESULTS_FILE

    out.mkdir(parents=True, exist_ok=True)
    (out / RESULTS_FILE).write_text(json.dumps(results, indent=2))
    (out / "ood_results.md").write_text(markdown_table(results))
    plot_roc_curves(in_scores, suite_scores, out / "roc_curves.png")
    paired = {n: s for n, s in suite_scores.items() if len(s) == len(in_scores) and n.startswith(("nda/", "corruption/"))}
    plot_score_differences(in_scores, paired, out / "score_differences.png")
    logger.info("wrote %s, ood_results.md, roc_curves.png, score_differences.png in %s", RESULTS_FILE, out)


def plot_roc_curves(in_scores, suite_scores: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    fig, ax = plt.subplots(figsize=(6, 6))
    for name, scores in suite_scores.items():
        labels = torch.cat([torch.zeros(len(in_scores)), torch.ones(len(scores))])
        fpr, tpr, _ = roc_curve(labels.numpy(), torch.cat([in_scores, scores]).numpy())
        ax.plot(fpr, tpr, lw=1.2, label=name)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="false-positive rate (in-distribution flagged)", ylabel="true-positive rate (OOD detected)",
           title="ROC: in-distribution test vs OOD sets")
    ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_score_differences(in_scores, paired_scores: dict, path: Path) -> None:
    """Histogram of D(x) − D(T(x)) = score(T(x)) − score(x) per transform (paper Fig. 4 / 8):
    centred at zero when the model cannot tell an image from its transformed version."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, scores in paired_scores.items():
        ax.hist((scores - in_scores).numpy(), bins=60, histtype="step", lw=1.2, label=name)
    ax.axvline(0, color="k", lw=0.8)
    ax.set(xlabel="D(x) − D(T(x))", ylabel="images", title="Discriminator output: real image vs its transformed version")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
