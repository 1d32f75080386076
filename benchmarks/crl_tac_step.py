"""CRL-TAC step cost against a SimCLR step with the same batch, m and encoder, measured side by side
in one run (alternating, best of N): the h update alone (= a SimCLR step with m views: the policy
only draws the indices), the exact policy update (every crop of every image, identical crops
encoded once), the sampled policy update (Algorithm 1, k uniform crops per image) and whole steps.

Run: ``OMP_NUM_THREADS=1 python benchmarks/crl_tac_step.py [--batch_size 64] [--num_views 8]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from hf_nda.trainers.crl_tac import CRLTACTrainer, CRLTACTrainingArguments  # noqa: E402


def best_of(fns: dict, repeats: int, warmup: int = 1) -> dict[str, float]:
    """Best wall time of each callable, alternating between them call by call."""
    best = {name: float("inf") for name in fns}
    for i in range(repeats + warmup):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(i)
            if i >= warmup:
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--num_views", type=int, default=8)
    parser.add_argument("--policy_samples", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        common = dict(batch_size=args.batch_size, num_views=args.num_views, report_to="none",
                      policy_samples=args.policy_samples)
        learned = CRLTACTrainer(CRLTACTrainingArguments(output_dir=f"{tmp}/l", **common), argv=[])
        sampled = CRLTACTrainer(CRLTACTrainingArguments(output_dir=f"{tmp}/s", policy_update="sampled", **common), argv=[])
        simclr = CRLTACTrainer(CRLTACTrainingArguments(output_dir=f"{tmp}/u", policy="uniform", **common), argv=[])

        def batch(trainer, i):
            return trainer.batch(i)[0]

        fns = {
            "SimCLR step (uniform P(T|x), same m)": lambda i: simclr.training_step(i, simclr.step_generator(i)),
            "h update (views from P(T|x))": lambda i: learned.h_update(batch(learned, i), learned.step_generator(i)),
            "policy update, exact (all crops)": lambda i: learned.policy_update(batch(learned, i), learned.step_generator(i)),
            f"policy update, sampled (k = {args.policy_samples})": lambda i: sampled.policy_update(
                batch(sampled, i), sampled.step_generator(i)),
            "CRL-TAC step, exact": lambda i: learned.training_step(i, learned.step_generator(i)),
            "CRL-TAC step, sampled": lambda i: sampled.training_step(i, sampled.step_generator(i)),
        }
        best = best_of(fns, args.repeats)
    base = best["SimCLR step (uniform P(T|x), same m)"]
    print(f"canvas-MNIST 84×84, 289 crops 20×20, hf_nda_cnn3 → 50-d, batch {args.batch_size}, m {args.num_views}, "
          f"CPU threads {torch.get_num_threads()}, best of {args.repeats}")
    print("| part | s | / SimCLR step |\n|---|---:|---:|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.3f} | {seconds / base:.2f} |")


if __name__ == "__main__":
    main()
