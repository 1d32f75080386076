"""NDA-GAN step time / plain GAN step time, and the generator update with vs without the
discriminator's weight gradients: the same models, batch and optimiser, measured side by side in one
run (alternating, best of N), through the real trainer step.

"before" is the loop as it was until the discriminator was frozen for the generator update: the
update ran through the trainable discriminator, so autograd also computed D's weight gradients
(and DDP would all-reduce them) only for them to be thrown away.

Run: ``python benchmarks/gan_step.py [--d_steps 1] [--channels 32]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from _timing import best_step_times  # noqa: E402
from hf_nda.trainers.gan import NDAGANTrainer, NDAGANTrainingArguments  # noqa: E402


class TrainableDiscriminatorInGStep(NDAGANTrainer):
    """The generator update against the trainable discriminator (the loop before the change)."""

    @contextmanager
    def frozen(self, name):
        yield self.models[name]


def make_trainer(cls, nda: str, args, out: str) -> NDAGANTrainer:
    targs = NDAGANTrainingArguments(output_dir=out, nda=[nda], nda_lambda=0.25, d_steps=args.d_steps,
                                    g_channels=args.channels, d_channels=args.channels, batch_size=args.batch_size,
                                    image_size=32, report_to="none", seed=0)
    return cls(targs, argv=[])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d_steps", type=int, default=1)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    variants = {("plain GAN", "before"): (TrainableDiscriminatorInGStep, "none"),
                ("plain GAN", "now"): (NDAGANTrainer, "none"),
                ("NDA-GAN (jigsaw)", "before"): (TrainableDiscriminatorInGStep, "jigsaw"),
                ("NDA-GAN (jigsaw)", "now"): (NDAGANTrainer, "jigsaw")}
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {key: make_trainer(cls, nda, args, f"{tmp}/{i}") for i, (key, (cls, nda)) in enumerate(variants.items())}
        best = best_step_times(trainers, args.repeats, warmup=3)
    print(f"DCGAN 32×32, width {args.channels}, batch {args.batch_size}, {args.d_steps} D step(s) per G step, "
          f"λ = 0.25, CPU threads {torch.get_num_threads()}")
    print("| step | ms / step, G update with D's weight gradients (before) | ms / step, D frozen (now) | now / before |")
    print("|---|---:|---:|---:|")
    for name in ("plain GAN", "NDA-GAN (jigsaw)"):
        before, now = best[(name, "before")], best[(name, "now")]
        print(f"| {name} | {before * 1e3:.1f} | {now * 1e3:.1f} | {now / before:.3f} |")
    print(f"\nNDA / plain (now) = {best[('NDA-GAN (jigsaw)', 'now')] / best[('plain GAN', 'now')]:.3f}")


if __name__ == "__main__":
    main()
