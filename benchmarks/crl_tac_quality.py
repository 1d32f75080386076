"""CRL-TAC quality on canvas-MNIST (the 5 000 offline digits on 84×84 canvases): a learned P(T|x)
against ``--policy uniform`` (SimCLR) with the same encoder, views, objective and budget, over
seeds. For each run: linear probe (held-out test) and kNN on f and on h integrated over P(T|x),
the policy's mass on crops that intersect the digit, H(T|x), uniformity of h (average pairwise
Gaussian potential); a heat-map figure (paper Fig. 3) under ``docs/``.

Variants: ``learned`` (translation-equivariant crop head, the default), ``uniform`` (SimCLR),
``learned-fc`` (the paper's Fig. 5 FC head, as an ablation).

Run: ``OMP_NUM_THREADS=1 python benchmarks/crl_tac_quality.py --max_steps 600 --seeds 0 1``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parents[1]))

from hf_nda.trainers.crl_tac import CRLTACTrainer, CRLTACTrainingArguments  # noqa: E402

VARIANTS = {"learned": dict(policy="learned", policy_head="crops"), "uniform": dict(policy="uniform"),
            "learned-fc": dict(policy="learned", policy_head="fc")}
PAPER = {"learned": dict(f=0.9729, h=0.9551, mass=0.998, uniformity=0.0845),
         "uniform": dict(f=0.4598, h=0.3156, uniformity=0.9757)}


def train_and_probe(variant: str, seed: int, args) -> dict:
    from hf_nda.evaluation.probe import linear_probe

    out = Path(args.runs) / f"{variant}-s{seed}"
    flags = dict(output_dir=str(out), dataset="canvas_mnist", batch_size=64, num_views=8, beta=0.5,
                 entropy_weight=0.0025, max_steps=args.max_steps, seed=seed, report_to="none", save_steps=0,
                 sample_steps=0, logging_steps=50, **VARIANTS[variant])
    argv = [f"--{k}={v}" for k, v in flags.items()]
    began = time.perf_counter()
    CRLTACTrainer(CRLTACTrainingArguments(**flags), argv=argv).train()
    trained = time.perf_counter() - began
    probe = linear_probe(str(out), "canvas_mnist", max_train=None)
    return {"variant": variant, "seed": seed, "train_seconds": trained, "command": "hf-nda train crl-tac "
            + " ".join(argv), **{k: v for k, v in probe.items() if k not in ("command",)}}


def heat_map_figure(runs: Path, path: Path) -> None:
    import hf_nda  # noqa: F401
    from transformers import AutoImageProcessor, AutoModel

    from hf_nda.data import cached_pixel_values
    from hf_nda.evaluation.policy_maps import plot_policy_maps

    rows = {}
    for variant in ("learned", "learned-fc", "uniform"):
        if (runs / f"{variant}-s0").exists():
            model = AutoModel.from_pretrained(runs / f"{variant}-s0").eval()
            processor = AutoImageProcessor.from_pretrained(runs / f"{variant}-s0")
            x, _ = cached_pixel_values("canvas_mnist", "test", processor)
            with torch.no_grad():
                rows[f"{variant}"] = model.policy.probs(x[:12])
    first = next(iter(rows))
    plot_policy_maps(x[:12], rows.pop(first), model.transform_set, path, rows_of=rows,
                     title=f"P(T|x) over the 17×17 crop grid, canvas-MNIST test images (rows: {first}, "
                           + ", ".join(rows) + ")")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max_steps", type=int, default=600)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--variants", nargs="+", default=["learned", "uniform"])
    parser.add_argument("--runs", default="runs/crl-tac-quality")
    parser.add_argument("--figure", default="docs/crl_tac_policy_maps.png")
    args = parser.parse_args(argv)
    results_file = Path(args.runs) / "results.jsonl"
    results_file.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in args.seeds:
        for variant in args.variants:
            row = train_and_probe(variant, seed, args)
            rows.append(row)
            with open(results_file, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps({k: row[k] for k in ("variant", "seed", "linear_top1_f", "linear_top1_h",
                                                    "digit_mass", "uniformity_h", "train_seconds")}), flush=True)
    heat_map_figure(Path(args.runs), Path(args.figure))
    print(f"canvas-MNIST, {args.max_steps} steps × batch 64, m 8, β 0.5, λ 0.0025; linear probe on 1 000 test images")
    print("| variant | seed | probe f | probe h | kNN f | kNN h | digit mass | H(T|x) | uniformity h | train s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['variant']} | {r['seed']} | {r['linear_top1_f']:.3f} | {r['linear_top1_h']:.3f} | "
              f"{r['knn_top1_f']:.3f} | {r['knn_top1_h']:.3f} | {r.get('digit_mass', float('nan')):.3f} | "
              f"{r['entropy']:.2f} | {r['uniformity_h']:.4f} | {r['train_seconds']:.0f} |")


if __name__ == "__main__":
    main()
