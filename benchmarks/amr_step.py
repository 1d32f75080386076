"""AMR step time / AE+GAN step time: the same autoencoder, discriminator, batch and optimisers,
measured side by side in one run (alternating, best of N) through the real trainer step.

AMR's extra work per step is the decoder forward/backward of the B mixed codes and the
discriminator's forward/backward on those B extra images, in both the autoencoder and the
discriminator update (the mixing itself is a few element-wise ops on 32-number codes).

Run: ``python benchmarks/amr_step.py [--batch_size 64] [--channels 16]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from _timing import best_step_times  # noqa: E402
from hf_nda.trainers.amr import AMRTrainer, AMRTrainingArguments  # noqa: E402

VARIANTS = {"AE+GAN": dict(mixer="none"), "AMR mixup k=2": dict(mixer="mixup", k=2),
            "AMR mixup k=3": dict(mixer="mixup", k=3), "AMR Bernoulli k=2": dict(mixer="bernoulli", k=2),
            "AMR supervised (class mixer)": dict(mixer="mixup", k=2, supervised=True)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {name: AMRTrainer(AMRTrainingArguments(
            output_dir=f"{tmp}/{i}", dataset="mnist", batch_size=args.batch_size, base_channels=args.channels,
            d_channels=args.channels, report_to="none", **kwargs), argv=[]) for i, (name, kwargs) in enumerate(VARIANTS.items())}
        best = best_step_times(trainers, args.repeats)
    print(f"MNIST 32×32×1, bottleneck 32, widths {args.channels}, batch {args.batch_size}, "
          f"CPU threads {torch.get_num_threads()}")
    print("| step | ms / step | vs AE+GAN |\n|---|---:|---:|")
    for name, t in best.items():
        print(f"| {name} | {t * 1e3:.1f} | {t / best['AE+GAN']:.2f}× |")


if __name__ == "__main__":
    main()
