"""MoCo-v2 vs NDA-MoCo (jigsaw) on Fashion-MNIST at CPU scale: train each variant with the same
recipe, then probe each (linear + kNN on a held-out test split) and measure the cosine distance
between an image and its jigsaw view in projection space (paper Fig. 9). Writes a table and the
overlaid histogram.

Variants (``--variants``, any of):
  moco          plain MoCo-v2 (``--nda none``)
  nda-shared    NDA views of 1/8 of the query images through the query encoder (with gradient),
                shared negatives of every query
  nda-shared-25 the same with 1/4 of the query images (the trainer's default NDA negatives)
  nda-own       each query's own NDA view through the query encoder (with gradient)
  nda-appn      App. N: NDA views of the query and key images through the key encoder (no gradient)

Run: ``python benchmarks/moco_quality.py --steps 1000 --output_dir outputs/moco``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hf_nda.evaluation.probe import linear_probe, plot_cosine_distances, representation_metrics
from hf_nda.trainers.moco import main as train

VARIANTS = {
    "moco": ("MoCo-v2", ["--nda", "none"]),
    "nda-shared": ("NDA-MoCo, query enc., shared 1/8", ["--nda", "jigsaw", "--nda_encoder", "query", "--nda_views", "query",
                                                        "--nda_negatives", "batch", "--nda_fraction", "0.125"]),
    "nda-shared-25": ("NDA-MoCo, query enc., shared 1/4", ["--nda", "jigsaw", "--nda_encoder", "query", "--nda_views",
                                                           "query", "--nda_negatives", "batch", "--nda_fraction", "0.25"]),
    "nda-own": ("NDA-MoCo, query enc., own", ["--nda", "jigsaw", "--nda_encoder", "query", "--nda_views", "query",
                                              "--nda_negatives", "own", "--nda_fraction", "1"]),
    "nda-appn": ("NDA-MoCo, key enc., own ×2 (App. N)", ["--nda", "jigsaw", "--nda_encoder", "key", "--nda_views", "both",
                                                          "--nda_negatives", "own", "--nda_fraction", "1"]),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--output_dir", default="outputs/moco")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", nargs="+", default=["moco", "nda-shared-25"], choices=sorted(VARIANTS))
    args = parser.parse_args(argv)
    out, rows, distances = Path(args.output_dir), {}, {}
    for key in args.variants:
        name, flags = VARIANTS[key]
        run = out / key
        train(["--dataset", "fashion_mnist", "--backbone", "resnet18", *flags, "--batch_size", str(args.batch_size),
               "--queue_size", "4096", "--temperature", "0.2", "--learning_rate", "0.06", "--max_steps", str(args.steps),
               "--save_steps", str(args.steps), "--seed", str(args.seed), "--report_to", "none", "--output_dir", str(run)])
        rows[name] = linear_probe(str(run), "fashion_mnist", max_train=10000)
        from transformers import AutoImageProcessor, AutoModel

        from hf_nda.data import cached_pixel_values

        model = AutoModel.from_pretrained(run / "encoder")
        test, _ = cached_pixel_values("fashion_mnist", "test", AutoImageProcessor.from_pretrained(run / "encoder"))
        distances[name] = representation_metrics(model, test[:2000])["nda_cosine_distances"]
    order = [name for name, _ in VARIANTS.values()]
    lines = ["| model | linear probe top-1 | kNN top-1 | cos. distance image↔jigsaw | alignment | uniformity |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in sorted(rows.items(), key=lambda kv: order.index(kv[0])):
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
