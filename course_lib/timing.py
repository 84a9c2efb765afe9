"""Timing a piece of code fairly: warm it up, repeat it, wait for the GPU, and report the fastest or the median.

The first call pays for allocation, caches and kernel selection; a GPU returns before its work is
done, so the clock is read only after ``torch.cuda.synchronize``. Another program on the machine only
ever adds time, so the fastest of a few repeats is the steadiest estimate of the code's own cost; the
median says what a user typically waits.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch

from .validate import check_int


def seconds(function: Callable[[], object], repeats: int = 3, warmup: int = 1, device=None) -> list[float]:
    """Wall-clock seconds of each of ``repeats`` calls of ``function()``, after ``warmup`` untimed calls."""
    check_int("repeats", repeats, 1)
    check_int("warmup", warmup, 0)
    cuda = device is not None and torch.device(device).type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    times = []
    for i in range(warmup + repeats):
        sync()
        start = time.perf_counter()
        function()
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def fastest(function: Callable[[], object], repeats: int = 3, warmup: int = 1, device=None) -> float:
    """The fastest of ``repeats`` timed calls: the code's own cost, least disturbed by other work."""
    return min(seconds(function, repeats, warmup, device))


def median(function: Callable[[], object], repeats: int = 5, warmup: int = 1, device=None) -> float:
    """The median of ``repeats`` timed calls: what a user typically waits."""
    return statistics.median(seconds(function, repeats, warmup, device))
