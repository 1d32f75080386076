"""``hf-nda evaluate-ood``: score an in-distribution test split against an OOD suite and write the
table (Markdown + JSON), ROC curves and score-difference histograms (paper Fig. 4 / 8)."""

from __future__ import annotations

import json
import logging
import math
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

    image_generator = AutoModel.from_pretrained(generator_dir).eval()
    real, _ = cached_pixel_values(dataset, "test", processor, data_dir=data_dir)
    n = min(num_samples, len(real))
    fake = torch.cat([image_generator.generate(len(c), generator=torch.Generator().manual_seed(i))
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


LINE_STYLES = ("-", "--", "-.", ":")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def series_styles(n: int) -> list[dict]:
    """``n`` line styles (``color``, ``linestyle``), no two alike for any ``n``.

    Up to 10 series: the 10 tab10 colours, solid. Up to 40: tab10 colours × 4 line styles (series
    ``i`` and ``i + 10`` share a colour but not a dash pattern). Beyond that: ``n`` evenly spaced
    colours of a continuous colormap, with the dash patterns cycling on top.
    """
    import matplotlib

    if n <= 10 * len(LINE_STYLES):
        palette = matplotlib.colormaps["tab10"].colors
        return [{"color": palette[i % 10], "linestyle": LINE_STYLES[i // 10]} for i in range(n)]
    cmap = matplotlib.colormaps["turbo"]
    return [{"color": cmap(i / (n - 1)), "linestyle": LINE_STYLES[i % len(LINE_STYLES)]} for i in range(n)]


def set_family(name: str) -> str:
    """The group an OOD set's name belongs to: ``nda/jigsaw`` → ``nda``, ``mnist`` → ``other dataset``."""
    return name.split("/", 1)[0] if "/" in name else "other dataset"


FAMILY_COLORS = {"other dataset": "tab:green", "nda": "tab:red", "corruption": "tab:blue"}
FAMILY_TITLES = {"other dataset": "other datasets", "nda": "NDA transforms of the test images",
                 "corruption": "corruptions of the test images"}


def _grid(n: int, max_cols: int = 4) -> tuple[int, int]:
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


def plot_roc_curves(in_scores, suite_scores: dict, path: Path):
    """ROC curves of in-distribution test vs each OOD set, one panel per family of sets (other
    datasets, NDA transforms, corruptions): each panel's curves have distinct colours and line
    styles, and each legend entry gives the set's AUROC. Returns the (closed) figure."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    families: dict[str, list[str]] = {}
    for name in suite_scores:
        families.setdefault(set_family(name), []).append(name)
    rows, cols = _grid(max(1, len(families)), max_cols=3)
    fig, axes = plt.subplots(rows, cols, figsize=(4.8 * cols, 4.4 * rows + 0.6), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[len(families):]:
        fig.delaxes(ax)
    for i, (ax, (family, names)) in enumerate(zip(flat, families.items())):
        for name, style in zip(names, series_styles(len(names))):
            scores = suite_scores[name]
            labels = torch.cat([torch.zeros(len(in_scores)), torch.ones(len(scores))]).numpy()
            both = torch.cat([in_scores, scores]).double().numpy()
            fpr, tpr, _ = roc_curve(labels, both)
            label = f"{name.split('/', 1)[-1]} (AUROC {roc_auc_score(labels, both):.3f})"
            ax.plot(fpr, tpr, lw=1.4, label=label, **style)
        ax.plot([0, 1], [0, 1], color="0.5", ls=":", lw=0.8, label="_chance")
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false-positive rate\n(in-distribution images flagged as OOD)",
               title=FAMILY_TITLES.get(family, family))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right", title="OOD set", title_fontsize=7)
        if i % cols == 0:
            ax.set_ylabel("true-positive rate\n(OOD images detected)")
    if not families:
        fig.add_subplot(1, 1, 1).text(0.5, 0.5, "no OOD sets", ha="center", va="center")
    fig.suptitle("ROC: in-distribution test images vs each OOD set (OOD = positive, higher score = more OOD)\n"
                 "the further above the dotted diagonal (chance), the better the set is told apart", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return fig


def plot_score_differences(in_scores, paired_scores: dict, path: Path):
    """Histograms of D(x) − D(T(x)) = score(T(x)) − score(x) per transform (paper Fig. 4 / 8), one
    titled panel per transform (coloured by family: NDA red, corruption blue) with a shared x axis
    and shared bins, so any number of sets stays apart: centred at zero when the model cannot
    tell an image from its transformed version, to the right when it finds the transformed image
    less real (more out-of-distribution). Returns the (closed) figure."""
    plt = _pyplot()
    names = list(paired_scores)
    differences = {n: (paired_scores[n] - in_scores).double().numpy() for n in names}
    rows, cols = _grid(max(1, len(names)))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 1.9 * rows + 1.1), sharex=True, squeeze=False)
    flat = list(axes.flat)
    for ax in flat[len(names):]:
        fig.delaxes(ax)
    if not names:
        fig.add_subplot(1, 1, 1).text(0.5, 0.5, "no paired transformed sets", ha="center", va="center")
    else:
        low = min(float(d.min()) for d in differences.values())
        high = max(float(d.max()) for d in differences.values())
        low, high = min(low, 0.0), max(high, 0.0)
        if high - low < 1e-9:
            low, high = low - 0.5, high + 0.5
        bins = torch.linspace(low, high, 61).numpy()
        for i, (ax, name) in enumerate(zip(flat, names)):
            d = differences[name]
            ax.hist(d, bins=bins, color=FAMILY_COLORS.get(set_family(name), "tab:gray"), alpha=0.8)
            ax.axvline(0, color="k", lw=0.9)
            median = float(torch.as_tensor(d).median())
            ax.axvline(median, color="k", ls="--", lw=0.9)
            ax.set_title(name, fontsize=9)
            summary = f"median {round(median, 2) + 0.0:+.2f}\n{100 * (d > 0).mean():.0f}% > 0"  # + 0.0: no -0.00
            ax.text(0.98, 0.95, summary, transform=ax.transAxes, ha="right", va="top", fontsize=7)
            ax.tick_params(labelsize=7)
            if i % cols == 0:
                ax.set_ylabel("images", fontsize=8)
            if i + cols >= len(names):  # lowest panel of its column
                ax.set_xlabel("D(x) − D(T(x))", fontsize=8)
                ax.tick_params(labelbottom=True)
    fig.suptitle("Score difference per transformed set: D(x) − D(T(x)) = score(T(x)) − score(x), one image "
                 "x vs its own transform T(x)\n0 = the model cannot tell them apart; > 0 = T(x) looks less real "
                 "(more OOD) than x.  Solid line: 0, dashed: median.", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return fig
