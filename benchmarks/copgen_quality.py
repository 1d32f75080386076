"""COP-Gen at CPU scale on Fashion-MNIST: positives from a navigator trained over our own NDA-GAN
generator, against GenRep's Gaussian positives (σ = 0.2) and no positive move (z' = z), and a
real-image contrastive baseline — each encoder trained with the same recipe and budget, then
linear-probed on the real held-out test split.

Per seed: a navigator run (``hf-nda train copgen``) and the two baseline runs; ``--num_pairs``
pairs from each (``generate_pairs``); MoCo-v2 on each pair dataset (``hf-nda train moco --pairs``:
anchor → query view, positive → key view, each with its own SimCLR augmentation) and on real images;
``linear_probe`` of every encoder. Also the navigator's ‖T(z)‖ statistics and a grid of pairs.

Run: ``python benchmarks/copgen_quality.py --generator outputs/demo/nda-gan --seeds 0 1 2 --output_dir outputs/copgen``
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from hf_nda.data.pairs import generate_pairs
from hf_nda.evaluation.probe import linear_probe
from hf_nda.trainers.run_dir import read_log_history
from hf_nda.trainers.copgen import main as train_copgen
from hf_nda.trainers.moco import main as train_moco

POSITIVES = {"none": "none (z' = z)", "gaussian": "Gaussian, σ = 0.2", "copgen": "COP-Gen"}


def navigator_run(args, positive: str, seed: int, out: Path) -> Path:
    run = out / f"navigator-{positive}-seed{seed}"
    train_copgen(["--generator", args.generator, "--positive", positive, "--dataset", "fashion_mnist",
                  "--max_steps", str(args.navigator_steps), "--batch_size", "64", "--seed", str(seed),
                  "--eval_steps", str(args.navigator_steps // 5), "--min_agreement", str(args.min_agreement),
                  "--sample_steps", str(args.navigator_steps), "--save_steps", str(args.navigator_steps),
                  "--report_to", "none", "--output_dir", str(run), *args.copgen_flags.split()])
    return run


def contrastive_run(args, seed: int, out: Path, name: str, data_flags: list[str]) -> dict:
    run = out / f"encoder-{name}-seed{seed}"
    train_moco(["--dataset", "fashion_mnist", *data_flags, "--backbone", args.backbone, "--nda", "none",
                "--batch_size", "128", "--queue_size", "4096", "--temperature", "0.1", "--learning_rate", "0.06",
                "--max_steps", str(args.encoder_steps), "--save_steps", str(args.encoder_steps),
                "--sample_steps", "0", "--seed", str(seed), "--report_to", "none", "--output_dir", str(run)])
    return linear_probe(str(run), "fashion_mnist", max_train=10000)


def pair_agreement(pairs: Path, n: int = 2000) -> float:
    """Share of the first ``n`` pairs a pixel classifier fitted on real Fashion-MNIST puts in one class."""
    from hf_nda.data.pairs import load_pair_dataset
    from hf_nda.data.tensors import dataset_to_pixel_values
    from hf_nda.evaluation.pair_agreement import ReferenceClassifier
    from hf_nda.processing import NDAImageProcessor

    rows = load_pair_dataset(str(pairs)).select(range(n))
    size = rows[0]["anchor"].size[0]
    processor = NDAImageProcessor(size={"height": size, "width": size}, num_channels=1)
    classifier = ReferenceClassifier.fit_dataset("fashion_mnist", image_size=size)
    return classifier.agreement(dataset_to_pixel_values(rows, processor, image_column="anchor"),
                                dataset_to_pixel_values(rows, processor, image_column="positive"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", required=True, help="an NDA-GAN run directory or generator folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--navigator_steps", type=int, default=500)
    parser.add_argument("--encoder_steps", type=int, default=1000)
    parser.add_argument("--num_pairs", type=int, default=20000)
    parser.add_argument("--min_agreement", type=float, default=0.0)
    parser.add_argument("--backbone", default="hf_nda_cnn3")
    parser.add_argument("--copgen_flags", default="", help='extra hf-nda train copgen flags, one string: "--navigator_lr 1e-4"')
    parser.add_argument("--variants", nargs="+", default=[*POSITIVES, "real"], choices=[*POSITIVES, "real"])
    parser.add_argument("--output_dir", default="outputs/copgen")
    args = parser.parse_args(argv)
    out = Path(args.output_dir)
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    for seed in args.seeds:
        for positive in [p for p in POSITIVES if p in args.variants]:
            key = f"{positive}/{seed}"
            if key in results:
                continue
            run = navigator_run(args, positive, seed, out)
            pairs = out / f"pairs-{positive}-seed{seed}"
            if not pairs.exists():
                generate_pairs(str(run), args.num_pairs, pairs, seed=seed)
            probe = contrastive_run(args, seed, out, positive, ["--pairs", str(pairs)])
            history = read_log_history(run)
            results[key] = {"linear_top1": probe["linear_top1"], "knn_top1": probe["knn_top1"],
                            "agreement": pair_agreement(pairs), "navigator": history[-1] if history else None}
            (out / "results.json").write_text(json.dumps(results, indent=2))
        if "real" in args.variants and f"real/{seed}" not in results:
            probe = contrastive_run(args, seed, out, "real", [])
            results[f"real/{seed}"] = {"linear_top1": probe["linear_top1"], "knn_top1": probe["knn_top1"]}
            (out / "results.json").write_text(json.dumps(results, indent=2))
    print(table(results, args.seeds))
    (out / "comparison.md").write_text(table(results, args.seeds))


def table(results: dict, seeds: list[int]) -> str:
    names = {**POSITIVES, "real": "real images (two SimCLR views of one image)"}
    lines = ["| positives | " + " | ".join(f"linear, seed {s}" for s in seeds)
             + " | mean ± sd | kNN mean | pair class agreement |", "|---|" + "---:|" * (len(seeds) + 3)]
    for key, name in names.items():
        rows = [results.get(f"{key}/{s}") for s in seeds]
        if not all(rows):
            continue
        linear = [r["linear_top1"] for r in rows]
        spread = statistics.stdev(linear) if len(linear) > 1 else 0.0
        lines.append(f"| {name} | " + " | ".join(f"{v:.4f}" for v in linear)
                     + f" | {statistics.mean(linear):.4f} ± {spread:.4f} | "
                     f"{statistics.mean(r['knn_top1'] for r in rows):.4f} | "
                     + (f"{statistics.mean(r['agreement'] for r in rows):.3f} |" if "agreement" in rows[0] else "— |"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
