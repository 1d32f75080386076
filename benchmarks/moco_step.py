"""NDA-MoCo step time / MoCo-v2 step time on the same encoder and batch, measured side by side in
one run through the real trainer step (alternating, best of N). The paper (App. N) reports
1.36 s / 1.09 s = 1.25 for its NDA views of the query and key images through the key encoder.

Variants timed (the flags of ``hf-nda train moco``):
  nda-shared-25  --nda_encoder query --nda_views query --nda_negatives batch --nda_fraction 0.25
                 (the default: NDA views of B/4 images ride in the query forward/backward)
  nda-shared     the same with --nda_fraction 0.125
  nda-own        --nda_encoder query --nda_views query --nda_negatives own --nda_fraction 1
                 (B NDA views, forward and backward)
  nda-appn       --nda_encoder key --nda_views both --nda_negatives own --nda_fraction 1
                 (2·B NDA views, key-encoder forward only)

Run: ``python benchmarks/moco_step.py [--backbone resnet18] [--batch_size 128]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from _timing import best_step_times  # noqa: E402
from hf_nda.trainers.moco import NDAMoCoTrainer, NDAMoCoTrainingArguments  # noqa: E402

VARIANTS = {
    "MoCo-v2": dict(nda=["none"]),
    "NDA-MoCo, query enc., shared 1/4 (nda-shared-25, default)": dict(
        nda=["jigsaw"], nda_encoder="query", nda_views="query", nda_negatives="batch", nda_fraction=0.25),
    "NDA-MoCo, query enc., shared 1/8 (nda-shared)": dict(nda=["jigsaw"], nda_encoder="query", nda_views="query",
                                                          nda_negatives="batch", nda_fraction=0.125),
    "NDA-MoCo, query enc., own (nda-own)": dict(nda=["jigsaw"], nda_encoder="query", nda_views="query",
                                                nda_negatives="own", nda_fraction=1.0),
    "NDA-MoCo, key enc., own ×2 (nda-appn, App. N)": dict(nda=["jigsaw"], nda_encoder="key", nda_views="both",
                                                          nda_negatives="own", nda_fraction=1.0),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {name: NDAMoCoTrainer(NDAMoCoTrainingArguments(
            output_dir=f"{tmp}/{i}", backbone=args.backbone, batch_size=args.batch_size, queue_size=4096,
            temperature=0.2, learning_rate=0.06, report_to="none", **flags), argv=[])
            for i, (name, flags) in enumerate(VARIANTS.items())}
        best = best_step_times(trainers, args.repeats)
    plain = best["MoCo-v2"]
    print(f"{args.backbone}, 32×32×1, batch {args.batch_size}, queue 4096, CPU threads {torch.get_num_threads()}, "
          f"best of {args.repeats}")
    print("| step | s / step | / MoCo-v2 |\n|---|---:|---:|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.3f} | {seconds / plain:.3f} |")


if __name__ == "__main__":
    main()
