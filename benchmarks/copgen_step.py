"""COP-Gen step time: our batched, seeded SimCLR views against the authors' augmentation — the same
torchvision transforms applied to one image at a time in a Python loop on the CPU — in the same
navigator/estimator step, same batch and generator, measured side by side in one run (alternating,
best of N).

Run: ``python benchmarks/copgen_step.py [--batch_size 64] [--repeats 10]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from _timing import best_step_times  # noqa: E402
from hf_nda import NDAGenerator, NDAGeneratorConfig  # noqa: E402
from hf_nda.trainers.copgen import COPGenTrainer, COPGenTrainingArguments  # noqa: E402


def authors_views(images: torch.Tensor) -> torch.Tensor:
    """SimCLR augmentation (RandomResizedCrop 0.2–1, flip, ColorJitter 0.4/0.4/0.4/0.1 p 0.8,
    grayscale p 0.2) per image, on the CPU, differentiable, as in the authors' code."""
    from torchvision.transforms import v2

    size = images.shape[-1]
    augment = v2.Compose([v2.RandomResizedCrop(size, scale=(0.2, 1.0), antialias=True), v2.RandomHorizontalFlip(),
                          v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8), v2.RandomGrayscale(p=0.2)])
    device = images.device
    return torch.stack([augment((x.cpu() + 1) / 2) * 2 - 1 for x in images]).to(device)


class PerImageViews(COPGenTrainer):
    """The same step, views made by :func:`authors_views`."""

    def view_pairs(self, z, generator):
        with torch.no_grad():
            anchors = self.adapter(z)
        out = self.models["navigator"](z)
        positives = self.adapter(out.positives.view_as(z))
        return {"anchor_views": authors_views(anchors), "positive_views": authors_views(positives),
                "navigator_output": out}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--estimator_backbone", default="hf_nda_cnn3")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        NDAGenerator(NDAGeneratorConfig(latent_dim=128, base_channels=64, image_size=32)).save_pretrained(f"{tmp}/g")
        common = dict(generator=f"{tmp}/g", batch_size=args.batch_size, report_to="none", eval_steps=0,
                      estimator_backbone=args.estimator_backbone)
        trainers = {"batched": COPGenTrainer(COPGenTrainingArguments(output_dir=f"{tmp}/a", **common), argv=[]),
                    "per-image": PerImageViews(COPGenTrainingArguments(output_dir=f"{tmp}/b", **common), argv=[])}
        best = best_step_times(trainers, args.repeats, warmup=2)
        views = {"batched": lambda x: trainers["batched"].views(x, generator=torch.Generator().manual_seed(0)),
                 "per-image": authors_views}
        x = torch.rand(args.batch_size, 1, 32, 32) * 2 - 1
        from _timing import best_time

        view_times = {name: best_time(lambda f=f: f(x), repeats=args.repeats) for name, f in views.items()}
    print(f"NDA-GAN generator 32×32 (latent 128, width 64), estimator {args.estimator_backbone}, batch "
          f"{args.batch_size}, CPU threads {torch.get_num_threads()}")
    print("| | views of one batch, ms | whole step (decode, views, estimator + navigator updates), ms |")
    print("|---|---:|---:|")
    for name in ("per-image", "batched"):
        print(f"| {name} | {view_times[name] * 1e3:.1f} | {best[name] * 1e3:.1f} |")
    print(f"\nspeed-up: views {view_times['per-image'] / view_times['batched']:.1f}×, "
          f"step {best['per-image'] / best['batched']:.2f}×")


if __name__ == "__main__":
    main()
