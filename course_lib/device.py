"""Pick the fastest device present and make runs repeatable.

The device is chosen when asked, never at import time, so importing the course on a laptop or on
Colab costs nothing and a test can force the CPU.
"""

from __future__ import annotations

import os
import random
from contextlib import contextmanager

import numpy as np
import torch

from .validate import check_int

DEVICE_KINDS = ("cuda", "mps", "cpu")


def pick_device(prefer: str | None = None) -> torch.device:
    """Return CUDA if present, else Apple's MPS, else the CPU.

    ``prefer`` forces a kind (``"cpu"`` to compare against a GPU run, say); the environment
    variable ``COURSE_DEVICE`` does the same for a whole session.

    >>> pick_device("cpu")
    device(type='cpu')
    """
    prefer = prefer or os.environ.get("COURSE_DEVICE") or None
    if prefer is not None:
        if prefer not in DEVICE_KINDS:
            raise ValueError(f"prefer must be one of {DEVICE_KINDS} or None, got {prefer!r}")
        if prefer == "cuda" and not torch.cuda.is_available():
            raise ValueError("prefer='cuda' but torch sees no CUDA device; use None to pick automatically")
        if prefer == "mps" and not _mps_available():
            raise ValueError("prefer='mps' but torch sees no MPS device; use None to pick automatically")
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (every device) in one call, so a run can be repeated exactly."""
    check_int("seed", seed, 0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA and MPS device


def describe_device(device: torch.device) -> str:
    """One line a learner can read: which device, and why it was picked."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)} (a CUDA GPU was found)"
    if device.type == "mps":
        return "mps: Apple GPU (no CUDA, but Metal is available)"
    threads = torch.get_num_threads()
    return f"cpu: {threads} thread{'s' if threads != 1 else ''} (no CUDA or MPS GPU was found)"


THREADS_VARIABLE = "COURSE_THREADS"


def thread_count() -> int:
    """The course's one thread policy: torch uses ``COURSE_THREADS`` CPU threads, 1 when it is not set.

    The course's models are tiny: splitting a 64x128 matrix product across threads costs more than it
    saves, and far more when another program keeps the other cores busy (seen on a 2-core machine: 10
    to 50 times slower on two threads than on one). Notebooks, widgets, tests and benchmarks all follow
    this one setting; a learner with a quiet many-core machine and larger runs can raise it.
    """
    value = os.environ.get(THREADS_VARIABLE, "").strip()
    if not value:
        return 1
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{THREADS_VARIABLE} must be a whole number >= 1, got {value!r}")
    return int(value)


def apply_thread_policy() -> int:
    """Set torch's CPU thread count to :func:`thread_count` for this process; return it.

    Every notebook's setup cell calls it. It changes nothing on the GPU, where the threads only launch kernels.
    """
    threads = thread_count()
    torch.set_num_threads(threads)
    return threads


@contextmanager
def thread_policy():
    """Run a block under the thread policy, then restore the count (what a widget does in any kernel)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(thread_count())
    try:
        yield
    finally:
        torch.set_num_threads(threads)
