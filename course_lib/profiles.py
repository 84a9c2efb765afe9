"""Size profiles: one notebook, three budgets.

``smoke`` runs in seconds (the tests), ``default`` in minutes on a laptop CPU, ``gpu`` is larger and
meant for CUDA. A notebook asks once for its size and derives every epoch count and data size from it
with :func:`pick`, so the same code is the lecture, the test and the GPU run.
"""

from __future__ import annotations

import os

import torch

SIZES = ("smoke", "default", "gpu")


def get_size(size: str | None = None) -> str:
    """The size to run at: the argument (a papermill parameter), else ``COURSE_SIZE``, else a guess.

    The guess is ``gpu`` when CUDA is present and ``default`` otherwise.
    """
    if size is None or size == "":
        size = os.environ.get("COURSE_SIZE") or None
    if size is None:
        return "gpu" if torch.cuda.is_available() else "default"
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    return size


def pick(size: str, *, smoke, default, gpu):
    """Choose the value for this size, e.g. ``num_epochs = pick(SIZE, smoke=2, default=30, gpu=100)``."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    return {"smoke": smoke, "default": default, "gpu": gpu}[size]
