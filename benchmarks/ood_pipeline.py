"""``pipeline("ood-scoring")`` throughput / a bare batched discriminator forward on the same images,
measured side by side in one run (the variants alternate repeat by repeat, so all see the same machine
load; best of ``--repeats``). Inputs are uint8 arrays (what users have), so the pipeline's number
includes converting and normalising them; the bare forward gets ready pixel_values.

Run: ``python benchmarks/ood_pipeline.py``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from transformers import pipeline

import hf_nda  # noqa: F401  (registers the pipeline task)
from hf_nda import NDADiscriminator, NDADiscriminatorConfig, NDAImageProcessor

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_alternating_times  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        NDADiscriminator(NDADiscriminatorConfig(base_channels=args.channels)).save_pretrained(tmp)
        NDAImageProcessor(size={"height": 32, "width": 32}, num_channels=1).save_pretrained(tmp)
        pipe = pipeline("ood-scoring", model=tmp)
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (32, 32), dtype=np.uint8) for _ in range(args.images)]
    pixel_values = pipe.image_processor(arrays, return_tensors="pt").pixel_values
    model = pipe.model

    @torch.no_grad()
    def bare():
        for batch in pixel_values.split(args.batch_size):
            model(batch)

    variants = {"bare batched D forward (pixel_values)": bare,
                "pipeline, uint8 arrays": lambda: pipe(arrays, batch_size=args.batch_size),
                "pipeline, pixel_values tensor": lambda: pipe(pixel_values, batch_size=args.batch_size)}
    best = best_alternating_times(variants, args.repeats)  # the first round warms up
    t_bare = best["bare batched D forward (pixel_values)"]
    print(f"{args.images} images 32×32×1, batch {args.batch_size}, DCGAN D width {args.channels}, "
          f"CPU threads {torch.get_num_threads()}")
    print("| path | images / s | vs bare forward |\n|---|---:|---:|")
    for name, t in best.items():
        print(f"| {name} | {args.images / t:.0f} | {t_bare / t:.2f}× |")


if __name__ == "__main__":
    main()
