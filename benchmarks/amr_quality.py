"""AE+GAN vs AMR on MNIST at CPU scale: train each with the same recipe (only the mixer differs),
probe the bottleneck codes (logistic regression + kNN, fitted on the training split, reported on the
held-out test split), and put their midpoint mixes side by side in one PNG.

Run: ``python benchmarks/amr_quality.py --steps 1000 --output_dir outputs/amr``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from transformers import AutoModel

import hf_nda  # noqa: F401
from hf_nda.data import cached_pixel_values
from hf_nda.evaluation.probe import linear_probe
from hf_nda.showcase import save_image_grid
from hf_nda.trainers.amr import main as train

VARIANTS = {"AE+GAN": ["--mixer", "none"], "AMR mixup k=2": ["--mixer", "mixup", "--k", "2"],
            "AMR mixup k=3": ["--mixer", "mixup", "--k", "3"], "AMR Bernoulli k=2": ["--mixer", "bernoulli", "--k", "2"],
            "ACAI": ["--adversary", "acai", "--mixer", "mixup", "--k", "2"]}


def midpoints(run: Path, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """Decoded 50/50 mixup of the codes of x1 and x2 (the ghosting test of the paper's figures)."""
    ae = AutoModel.from_pretrained(run).eval()
    with torch.no_grad():
        mixed, _ = ae.mix([ae.encode(x1), ae.encode(x2)], mixer="mixup", weights=torch.tensor([0.5, 0.5]))
        return ae.decode(mixed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--variants", nargs="+", default=["AE+GAN", "AMR mixup k=2"], choices=list(VARIANTS))
    parser.add_argument("--output_dir", default="outputs/amr")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out, rows, mids = Path(args.output_dir), {}, []
    for name in args.variants:
        run = out / name.lower().replace(" ", "_").replace("+", "_").replace("=", "")
        train(["--dataset", "mnist", "--lambda_recon", "10", "--bottleneck", "32", "--batch_size", str(args.batch_size),
               "--max_steps", str(args.steps), "--save_steps", str(args.steps), "--sample_steps", str(args.steps),
               "--seed", str(args.seed), "--report_to", "none", "--output_dir", str(run), *VARIANTS[name]])
        rows[name] = linear_probe(str(run), "mnist", max_train=None)
        rows[name]["run"] = str(run)
        test, _ = cached_pixel_values("mnist", "test", hf_nda.NDAImageProcessor(size={"height": 32, "width": 32}))
        if not mids:
            mids += [test[:8], test[8:16]]
        mids.append(midpoints(run, test[:8], test[8:16]))
    lines = ["| model | linear probe top-1 | kNN top-1 |", "|---|---:|---:|"]
    lines += [f"| {name} | {r['linear_top1']:.4f} | {r['knn_top1']:.4f} |" for name, r in rows.items()]
    table = "\n".join(lines) + "\n"
    (out / "comparison.md").write_text(table)
    (out / "comparison.json").write_text(json.dumps(rows, indent=2))
    save_image_grid(torch.cat(mids), out / "midpoints.png", nrow=8)  # rows: x1, x2, then one per model
    print(table)
    print(f"rows of {out / 'midpoints.png'}: x1, x2, " + ", ".join(rows))


if __name__ == "__main__":
    main()
