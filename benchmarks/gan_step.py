"""NDA-GAN step time / plain GAN step time: the same models, batch and optimiser, measured side by
side in one run (alternating, best of N), through the real trainer step.

Run: ``python benchmarks/gan_step.py [--d_steps 1] [--channels 32]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from _timing import best_step_times  # noqa: E402
from hf_nda.trainers.gan import NDAGANTrainer, NDAGANTrainingArguments  # noqa: E402


def make_trainer(nda: str, args, tmp: str) -> NDAGANTrainer:
    targs = NDAGANTrainingArguments(output_dir=f"{tmp}/{nda}", nda=[nda], nda_lambda=0.25, d_steps=args.d_steps,
                                    g_channels=args.channels, d_channels=args.channels, batch_size=args.batch_size,
                                    image_size=32, report_to="none", seed=0)
    return NDAGANTrainer(targs, argv=[])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d_steps", type=int, default=1)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {name: make_trainer(name, args, tmp) for name in ("none", "jigsaw")}
        best = best_step_times(trainers, args.repeats, warmup=3)
    print(f"DCGAN 32×32, width {args.channels}, batch {args.batch_size}, {args.d_steps} D step(s) per G step, "
          f"λ = 0.25, CPU threads {torch.get_num_threads()}")
    print("| step | ms / step |\n|---|---:|")
    print(f"| plain GAN | {best['none'] * 1e3:.1f} |\n| NDA-GAN (jigsaw) | {best['jigsaw'] * 1e3:.1f} |")
    print(f"\nNDA / plain = {best['jigsaw'] / best['none']:.3f}")


if __name__ == "__main__":
    main()
