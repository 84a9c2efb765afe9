"""Every random generator a run draws from, captured and put back in one place.

An exact resume (``checkpoint``, ``run_state``) and a test that must leave no trace (``lr_finder``)
both need the state of Python's, NumPy's and torch's generators (CPU, and every CUDA or MPS device),
and of the loader's own generator when it has one (``DeviceLoader`` and ``DataLoader(generator=...)``
shuffle with it). The state is kept as tensors, numbers and lists, so a checkpoint holding it still
loads with ``torch.load(weights_only=True)``.

Torch's part costs about a microsecond to capture; Python's and NumPy's cost tens (NumPy copies its
whole state), too much to take at every update of a training loop. ``capture(torch_only=True)``
takes the cheap part alone, and :func:`same_outside_torch` tells whether the other two have moved.
"""

from __future__ import annotations

import functools
import random

import numpy as np
import torch


def loader_generator(loader) -> torch.Generator | None:
    """The generator that orders ``loader``'s batches, if it has its own."""
    generator = getattr(loader, "generator", None)
    return generator if isinstance(generator, torch.Generator) else None


def capture(loader=None, torch_only: bool = False) -> dict:
    """The state of every generator now (and of ``loader``'s own generator, if it has one)."""
    state = {"torch": torch.default_generator.get_state()}  # torch.get_rng_state without its Python wrapper
    cuda, mps = _accelerators()
    if cuda:
        state["cuda"] = torch.cuda.get_rng_state_all()
    if mps:
        state["mps"] = torch.mps.get_rng_state()
    if not torch_only:
        kind, keys, position, has_gauss, cached = np.random.get_state()
        state["python"] = random.getstate()
        state["numpy"] = [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached]
    generator = loader_generator(loader) if loader is not None else None
    if generator is not None:
        state["loader"] = generator.get_state()
    return state


def restore(state: dict, loader=None) -> None:
    """Put back every generator :func:`capture` found (the loader's only if both have one)."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])
    if "python" in state:
        random.setstate(_tuples(state["python"]))
        kind, keys, position, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached))
    generator = loader_generator(loader)
    if generator is not None and "loader" in state:
        generator.set_state(state["loader"])


def same(a: dict, b: dict) -> bool:
    """Whether two full captures found the global generators (not the loader's) in the same state."""
    return same_torch(a, b) and same_outside_torch(a, b)


def same_torch(a: dict, b: dict) -> bool:
    """Whether two captures found torch's generators (CPU and every accelerator) in the same state."""
    return torch.equal(a["torch"], b["torch"]) and all(
        torch.equal(x, y) for key in ("cuda", "mps") for x, y in zip(_list(a.get(key)), _list(b.get(key)))
    )


def same_outside_torch(a: dict, b: dict) -> bool:
    """Whether Python's and NumPy's generators are in the same state in two full captures."""
    return (
        _tuples(a["python"]) == _tuples(b["python"])
        and torch.equal(a["numpy"][1], b["numpy"][1])
        and list(a["numpy"][2:]) == list(b["numpy"][2:])
    )


def _list(value) -> list:
    return [] if value is None else value if isinstance(value, list) else [value]


@functools.cache
def _accelerators() -> tuple[bool, bool]:
    """Whether CUDA and MPS generators exist: asked once, as asking costs more than taking torch's state."""
    return torch.cuda.is_available(), torch.backends.mps.is_available()


def _tuples(value):
    """``random.setstate`` wants tuples back where a round trip through a checkpoint gives lists."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value
