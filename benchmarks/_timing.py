"""Shared timing helper for the benchmarks: best-of-N wall time of a callable."""

from __future__ import annotations

import time

import torch


def best_time(fn, repeats: int = 20, warmup: int = 3) -> float:
    """Smallest wall time in seconds over ``repeats`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def best_step_times(trainers: dict, repeats: int, warmup: int = 2) -> dict[str, float]:
    """Best wall time in seconds of one ``training_step`` of each trainer, alternating between them
    step by step so every variant sees the same machine state."""
    best = {name: float("inf") for name in trainers}
    for step in range(repeats + warmup):
        for name, trainer in trainers.items():
            start = time.perf_counter()
            trainer.training_step(step, trainer.step_generator(step))
            if step >= warmup:
                best[name] = min(best[name], time.perf_counter() - start)
    return best
