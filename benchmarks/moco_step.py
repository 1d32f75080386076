"""NDA-MoCo step time / MoCo-v2 step time on the same encoder and batch, measured side by side in
one run through the real trainer step (alternating, best of N). The extra cost is the key-encoder
forward of the 2·B NDA views (App. N: 1.36 s / 1.09 s = 1.25 in the paper).

Run: ``python benchmarks/moco_step.py [--backbone resnet18] [--batch_size 128]``
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from hf_nda.trainers.moco import NDAMoCoTrainer, NDAMoCoTrainingArguments


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        variants = {"none": ("none", "both"), "jigsaw": ("jigsaw", "both"), "jigsaw-query": ("jigsaw", "query")}
        trainers = {name: NDAMoCoTrainer(NDAMoCoTrainingArguments(
            output_dir=f"{tmp}/{name}", backbone=args.backbone, nda=[nda], nda_views=views, batch_size=args.batch_size,
            queue_size=4096, temperature=0.2, learning_rate=0.06, report_to="none"), argv=[])
            for name, (nda, views) in variants.items()}
        best = {nda: float("inf") for nda in trainers}
        for step in range(args.repeats + 2):
            for nda, trainer in trainers.items():
                start = time.perf_counter()
                trainer.training_step(step, trainer.step_generator(step))
                if step >= 2:
                    best[nda] = min(best[nda], time.perf_counter() - start)
    print(f"{args.backbone}, 32×32×1, batch {args.batch_size}, queue 4096, CPU threads {torch.get_num_threads()}")
    print("| step | s / step |\n|---|---:|")
    print(f"| MoCo-v2 | {best['none']:.3f} |\n| NDA-MoCo (jigsaw), --nda_views both (App. N, +2) | {best['jigsaw']:.3f} |")
    print(f"| NDA-MoCo (jigsaw), --nda_views query (+1) | {best['jigsaw-query']:.3f} |")
    print(f"\nNDA / plain = {best['jigsaw'] / best['none']:.3f} (both), {best['jigsaw-query'] / best['none']:.3f} (query)")


if __name__ == "__main__":
    main()
