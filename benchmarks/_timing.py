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
