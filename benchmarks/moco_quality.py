"""MoCo-v2 vs NDA-MoCo (jigsaw) on Fashion-MNIST at CPU scale: train both with the same recipe,
then probe each (linear + kNN on a held-out test split) and measure the cosine distance between an
image and its jigsaw view (paper Fig. 9). Writes a table and the overlaid histogram.

Run: ``python benchmarks/moco_quality.py --steps 300 --output_dir outputs/moco``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hf_nda.evaluation.probe import linear_probe, plot_cosine_distances, representation_metrics
from hf_nda.trainers.moco import main as train


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--output_dir", default="outputs/moco")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out, rows, distances = Path(args.output_dir), {}, {}
    for name, nda in (("MoCo-v2", "none"), ("NDA-MoCo (jigsaw)", "jigsaw")):
        run = out / nda
        train(["--dataset", "fashion_mnist", "--backbone", "resnet18", "--nda", nda, "--batch_size", str(args.batch_size),
               "--queue_size", "4096", "--temperature", "0.2", "--learning_rate", "0.06", "--max_steps", str(args.steps),
               "--save_steps", str(args.steps), "--seed", str(args.seed), "--output_dir", str(run)])
        rows[name] = linear_probe(str(run), "fashion_mnist", max_train=10000)
        from transformers import AutoImageProcessor, AutoModel

        from hf_nda.data import cached_pixel_values

        model = AutoModel.from_pretrained(run / "encoder")
        test, _ = cached_pixel_values("fashion_mnist", "test", AutoImageProcessor.from_pretrained(run / "encoder"))
        distances[name] = representation_metrics(model, test[:2000])["nda_cosine_distances"]
    lines = ["| model | linear probe top-1 | kNN top-1 | cos. distance image↔jigsaw | alignment | uniformity |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        rep = r["representation"]
        lines.append(f"| {name} | {r['linear_top1']:.4f} | {r['knn_top1']:.4f} | {rep['nda_cosine_distance_mean']:.3f} "
                     f"| {rep['alignment']:.3f} | {rep['uniformity']:.3f} |")
    table = "\n".join(lines) + "\n"
    (out / "comparison.md").write_text(table)
    (out / "comparison.json").write_text(json.dumps(rows, indent=2))
    plot_cosine_distances(distances, out / "nda_cosine_distance.png")
    print(table)


if __name__ == "__main__":
    main()
