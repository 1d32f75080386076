"""Throughput of each negative transform on a 256×3×32×32 batch, as ratios measured in one run:

- vs ``clone()`` of the same batch (a memory-bandwidth ceiling: a transform must at least write
  its output once), higher is better, 1.0 = as fast as a copy;
- vs a per-image Python loop implementing the same definition (what research code usually does).

Run: ``python benchmarks/transforms.py [--device cuda]``
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_time  # noqa: E402

from hf_nda.processing import get_transform  # noqa: E402


def _box(h, w):
    ph, pw = random.randint(-(-h // 3), h // 2), random.randint(-(-w // 3), w // 2)
    top, left = random.randint(0, h - ph), random.randint(0, w - pw)
    return slice(top, top + ph), slice(left, left + pw)


def loop_jigsaw(x, k=2):
    out = torch.empty_like(x)
    n, c, h, w = x.shape
    th, tw = h // k, w // k
    for i in range(n):
        perm = list(range(k * k))
        while perm == sorted(perm):
            random.shuffle(perm)
        for slot, src in enumerate(perm):
            out[i, :, slot // k * th:(slot // k + 1) * th, slot % k * tw:(slot % k + 1) * tw] = \
                x[i, :, src // k * th:(src // k + 1) * th, src % k * tw:(src % k + 1) * tw]
    return out


def loop_stitch(x):
    out = x.clone()
    n, _, h, w = x.shape
    for i in range(n):
        j = (i + random.randint(1, n - 1)) % n
        if random.random() < 0.5:
            out[i, :, h // 2:] = x[j, :, h // 2:]
        else:
            out[i, :, :, w // 2:] = x[j, :, :, w // 2:]
    return out


def loop_cutout(x):
    out = x.clone()
    for i in range(x.shape[0]):
        rs, cs = _box(*x.shape[-2:])
        out[i, :, rs, cs] = x[i, :, rs, cs].mean(dim=(1, 2), keepdim=True)
    return out


def loop_cutmix(x):
    out = x.clone()
    n = x.shape[0]
    for i in range(n):
        j = (i + random.randint(1, n - 1)) % n
        rs, cs = _box(*x.shape[-2:])
        out[i, :, rs, cs] = x[j, :, rs, cs]
    return out


def loop_mixup(x, alpha=2.0):
    out = torch.empty_like(x)
    n = x.shape[0]
    for i in range(n):
        j = (i + random.randint(1, n - 1)) % n
        g = random.betavariate(alpha, alpha)
        out[i] = g * x[i] + (1 - g) * x[j]
    return out


LOOPS = {"jigsaw": loop_jigsaw, "stitch": loop_stitch, "cutout": loop_cutout, "cutmix": loop_cutmix,
         "mixup": loop_mixup}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    x = torch.rand(args.batch, 3, 32, 32, device=args.device) * 2 - 1
    gen = torch.Generator().manual_seed(0)
    clone_s = best_time(lambda: x.clone(), args.repeats)
    print(f"batch {tuple(x.shape)} on {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"clone(): {clone_s * 1e6:.0f} µs\n")
    print("| transform | µs / batch | throughput vs clone() | speed-up vs per-image loop |")
    print("|---|---:|---:|---:|")
    for name, loop in LOOPS.items():
        transform = get_transform(name)
        t = best_time(lambda: transform(x, generator=gen), args.repeats)
        t_loop = best_time(lambda: loop(x), max(3, args.repeats // 5), warmup=1)
        print(f"| {name} | {t * 1e6:.0f} | {clone_s / t:.2f}× | {t_loop / t:.0f}× |")


if __name__ == "__main__":
    main()
