"""Every random generator a run draws from, captured and put back in one place.

An exact resume (``checkpoint``) and a test that must leave no trace (``lr_finder``) both need the
same thing: the state of Python's, NumPy's and torch's generators (CPU and every CUDA device), and
of the loader's own generator when it has one (``DeviceLoader`` and ``DataLoader(generator=...)``
shuffle with it). The state is kept as tensors, numbers and lists, so a checkpoint holding it still
loads with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import random

import numpy as np
import torch


def loader_generator(loader) -> torch.Generator | None:
    """The generator that orders ``loader``'s batches, if it has its own."""
    generator = getattr(loader, "generator", None)
    return generator if isinstance(generator, torch.Generator) else None


def capture(loader=None) -> dict:
    """The state of every generator now (and of ``loader``'s own generator, if it has one)."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    generator = loader_generator(loader)
    if generator is not None:
        state["loader"] = generator.get_state()
    return state


def restore(state: dict, loader=None) -> None:
    """Put every generator back as :func:`capture` found it (the loader's only if both have one)."""
    random.setstate(_tuples(state["python"]))
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    generator = loader_generator(loader)
    if generator is not None and "loader" in state:
        generator.set_state(state["loader"])


def _tuples(value):
    """``random.setstate`` wants tuples back where a round trip through a checkpoint gives lists."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
