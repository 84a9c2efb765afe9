"""Where the memory of training goes, measured: what autograd saves for backward, and the peak.

Training holds the weights, their gradients, the optimizer's state, and the *activations*: the
tensors the forward pass saves so that backward can compute gradients. Those grow with the batch
and the depth, and they are what in-place operations, mixed precision, gradient accumulation and
gradient checkpointing shrink.

- :class:`SavedTensors` counts the bytes autograd saves, with
  ``torch.autograd.graph.saved_tensors_hooks``: exact, and the same on every device.
- :class:`LiveTensors` follows every tensor an operation returns until it is freed and reports the
  peak of those bytes (forward *and* backward, any device).
- :func:`cuda_peak_bytes` asks the CUDA allocator itself (``torch.cuda.max_memory_allocated``).

>>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
>>> with SavedTensors(ignore=model.parameters()) as saved:
...     loss = model(torch.zeros(16, 4)).sum()
>>> saved.bytes  # the input (16 x 4) and the ReLU's output (16 x 8), 4 bytes each
768
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode  # the hook that sees every op, backward included
from torch.utils._pytree import tree_flatten


def _storage_key(tensor: torch.Tensor) -> tuple:
    return (tensor.device, tensor.untyped_storage().data_ptr())


class SavedTensors:
    """Inside ``with SavedTensors() as saved:``, record every tensor autograd saves for backward.

    ``saved.bytes`` counts each storage once (a tensor saved by two operations, as a ReLU's output is
    saved by the ReLU and by the next Linear, is held once), at the size of the largest view saved of
    it. Tensors sharing storage with ``ignore`` (pass ``model.parameters()``) are left out, so what is
    left is the activations. ``saved.count`` and ``saved.bytes_by_dtype`` break it down.
    """

    def __init__(self, ignore: Iterable[torch.Tensor] = ()):
        self._ignored = {_storage_key(t) for t in ignore}
        self._sizes: dict[tuple, int] = {}  # storage -> bytes of the largest view saved from it
        self._dtypes: dict[tuple, torch.dtype] = {}
        self.count = 0  # pack calls, repeats included
        self._hooks = None

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        key = _storage_key(tensor)
        if key not in self._ignored:
            self.count += 1
            size = tensor.numel() * tensor.element_size()
            self._sizes[key] = max(size, self._sizes.get(key, 0))
            self._dtypes[key] = tensor.dtype
        return tensor  # keep the tensor itself: counting must not change what backward sees

    def __enter__(self) -> SavedTensors:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)

    @property
    def bytes(self) -> int:
        return sum(self._sizes.values())

    @property
    def bytes_by_dtype(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for key, size in self._sizes.items():
            name = str(self._dtypes[key]).replace("torch.", "")
            totals[name] = totals.get(name, 0) + size
        return totals


def saved_bytes(model: torch.nn.Module, *inputs: torch.Tensor, autocast_dtype: torch.dtype | None = None) -> int:
    """Bytes of activations ``model(*inputs)`` saves for backward (the parameters left out)."""
    device_type = inputs[0].device.type if inputs else "cpu"
    with (
        SavedTensors(ignore=model.parameters()) as saved,
        torch.autocast(device_type, dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None),
    ):
        model(*inputs)
    return saved.bytes


class LiveTensors(TorchDispatchMode):
    """Inside ``with LiveTensors() as live:``, follow the bytes of every tensor an operation returns.

    ``live.peak_bytes`` is the most that was alive at once, ``live.live_bytes`` what is alive now.
    Tensors made before the block (the weights, the data) are not counted; temporaries an operation
    frees before it returns are not seen. Slow (a Python call per operation): for small models.
    """

    def __init__(self):
        super().__init__()
        self._alive: dict[tuple, tuple] = {}  # storage -> (weak reference, bytes)
        self.live_bytes = 0
        self.peak_bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for key in [key for key, (ref, _) in self._alive.items() if ref.expired()]:
            self.live_bytes -= self._alive.pop(key)[1]
        inputs = {_storage_key(t) for t in tree_flatten((args, kwargs))[0] if _is_dense(t)}
        for tensor in tree_flatten(out)[0]:
            if _is_dense(tensor):
                storage = tensor.untyped_storage()
                key = (tensor.device, storage.data_ptr())  # a view or an in-place result shares an input's storage
                if key not in self._alive and key not in inputs and storage.nbytes() > 0:
                    self._alive[key] = (StorageWeakRef(storage), storage.nbytes())
                    self.live_bytes += storage.nbytes()
        self.peak_bytes = max(self.peak_bytes, self.live_bytes)
        return out


def _is_dense(value) -> bool:
    return isinstance(value, torch.Tensor) and value.layout == torch.strided


def cuda_peak_bytes(function: Callable[[], object], device: torch.device | str = "cuda") -> tuple[int, int]:
    """Run ``function()`` and return ``(peak, peak above the start)`` in bytes, from the CUDA allocator."""
    device = torch.device(device)
    if device.type != "cuda":
        raise ValueError(f"device must be a CUDA device, got {device}; use LiveTensors or SavedTensors elsewhere")
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    start = torch.cuda.memory_allocated(device)
    function()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device)
    return peak, peak - start


def peak_bytes(function: Callable[[], object], device: torch.device | str) -> tuple[int, str]:
    """Peak bytes ``function()`` allocates on ``device``, and how they were measured."""
    device = torch.device(device)
    if device.type == "cuda":
        return cuda_peak_bytes(function, device)[1], "torch.cuda.max_memory_allocated"
    with LiveTensors() as live:
        function()
    return live.peak_bytes, "LiveTensors (bytes of the tensors operations returned)"


def format_bytes(n: float) -> str:
    """``format_bytes(3 * 2**20)`` -> ``'3.0 MiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
