"""Shared timing helpers for the benchmarks: best-of-N wall times, variants alternating so that every
variant sees the same machine state."""

from __future__ import annotations

import time

import torch


def _timed(fn) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def best_time(fn, repeats: int = 20, warmup: int = 3) -> float:
    """Smallest wall time in seconds over ``repeats`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    return min(_timed(fn) for _ in range(repeats))


def best_alternating_times(variants: dict, repeats: int, warmup: int = 1) -> dict[str, float]:
    """Best wall time in seconds of each ``variants[name]()``, the variants alternating call by call
    (``warmup`` rounds first)."""
    best = dict.fromkeys(variants, float("inf"))
    for round_ in range(warmup + repeats):
        for name, fn in variants.items():
            elapsed = _timed(fn)
            if round_ >= warmup:
                best[name] = min(best[name], elapsed)
    return best


def best_step_times(trainers: dict, repeats: int, warmup: int = 2) -> dict[str, float]:
    """Best wall time of one ``training_step`` of each trainer, alternating step by step."""
    steps = {name: iter(range(10**9)) for name in trainers}

    def step_of(name):
        def run():
            step = next(steps[name])
            trainers[name].training_step(step, trainers[name].step_generator(step))
        return run

    return best_alternating_times({name: step_of(name) for name in trainers}, repeats, warmup)
