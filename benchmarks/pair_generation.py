"""Pair-generation throughput (pairs/s) against a bare batched ``adapter.decode`` of the same latents,
measured side by side in one run (the variants alternate repeat by repeat; best of ``--repeats``).

Variants, all over the same untrained NDAGenerator (32×32, latent 128, width 64) and a COP-Gen navigator:

- **bare decode**: ``adapter.decode(z)`` and ``adapter.decode(z')`` per batch — two decodes per pair, with
  z and z' already made (the floor any pair generator pays);
- **core loop**: ``iter_pair_batches`` — what ``generate_pairs`` runs per batch (draw z from the prior,
  navigator z' = z + T(z), both decodes), tensors on the device, no image encoding, no disk;
- **generate_pairs, no output_dir**: the whole function — the core loop plus PIL + PNG encoding of both
  images and datasets' Arrow writer (a staging file in a temporary folder, then read into memory);
- **generate_pairs → disk**: the same, written with ``save_to_disk`` into a fresh folder (and renamed).

Target for the core loop: ≥ 0.9× the bare decode.

Run: ``OMP_NUM_THREADS=1 python benchmarks/pair_generation.py``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from hf_nda import COPGenNavigator, COPGenNavigatorConfig, NDAGenerator, NDAGeneratorConfig
from hf_nda.data.pairs import generate_pairs, iter_pair_batches
from hf_nda.modeling.generators import load_generator

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_alternating_times  # noqa: E402


def build(folder: Path, device: str, latent_dim: int, width: int):
    """An untrained generator (saved, loaded as an adapter) and a navigator over it."""
    torch.manual_seed(0)
    NDAGenerator(NDAGeneratorConfig(latent_dim=latent_dim, base_channels=width, image_size=32)).save_pretrained(
        folder / "generator")
    adapter = load_generator(str(folder / "generator")).to(device)
    navigator = COPGenNavigator(COPGenNavigatorConfig(latent_dim=latent_dim, generator=adapter.describe()))
    return navigator.to(device).eval(), adapter


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2048)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--latent_dim", type=int, default=128)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="pair_bench_"))
    try:
        run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(args, folder: Path):
    navigator, adapter = build(folder, args.device, args.latent_dim, args.width)
    n, b = args.pairs, args.batch_size
    with torch.no_grad():  # the same latents and positives the core loop makes (seed 0)
        batches = [(p.latents, p.positive_latents[:, 0]) for _, p in iter_pair_batches(navigator, adapter, n, seed=0,
                                                                                         batch_size=b)]

    @torch.no_grad()
    def bare():
        for z, z_pos in batches:
            adapter.decode(z), adapter.decode(z_pos)

    def core():
        for _ in iter_pair_batches(navigator, adapter, n, seed=0, batch_size=b):
            pass

    def to_disk():
        out = folder / "pairs"
        generate_pairs(navigator, n, out, seed=0, batch_size=b, image_generator=adapter, overwrite=True,
                       progress=False)

    variants = {"bare batched decode (2 per pair)": bare, "core loop (iter_pair_batches)": core,
                "generate_pairs, no output_dir": lambda: generate_pairs(navigator, n, seed=0, batch_size=b,
                                                                       image_generator=adapter, progress=False),
                "generate_pairs → disk (save_to_disk)": to_disk}
    best = best_alternating_times(variants, args.repeats)
    t_bare = best["bare batched decode (2 per pair)"]
    threads = torch.get_num_threads()
    print(f"{n} pairs, batch {b}, untrained NDAGenerator 32×32 latent {args.latent_dim} width {args.width}, "
          f"device {args.device}" + (f", CPU threads {threads}" if args.device == "cpu" else "")
          + f", best of {args.repeats}")
    print("| path | pairs / s | vs bare decode |\n|---|---:|---:|")
    for name, t in best.items():
        print(f"| {name} | {n / t:.0f} | {t_bare / t:.2f}× |")


if __name__ == "__main__":
    main()
