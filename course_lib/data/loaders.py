"""Batches from tensors that already live on the device.

For data that fits in memory (everything in this course but CIFAR), a ``DataLoader`` spends most
of its time collating single samples on the CPU. Keeping the tensors on the device and cutting
batches out of one shuffled copy per epoch removes that cost: see ``benchmarks/trainer_overhead.py``.
"""

from __future__ import annotations

import torch

from ..validate import check_int


class DeviceLoader:
    """Iterate ``(inputs, targets)`` batches of tensors kept on ``device``.

    Shuffling uses the loader's own generator, seeded by ``seed``, so the batch order is the same on
    every run and can be saved in a checkpoint (``generator.get_state()``).

    >>> loader = DeviceLoader(torch.zeros(10, 2), torch.zeros(10), batch_size=4)
    >>> [len(x) for x, _ in loader]
    [4, 4, 2]
    """

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        batch_size: int = 64,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        device: torch.device | str | None = None,
    ):
        if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise ValueError("X and y must be tensors")
        if X.dim() == 0 or y.dim() == 0:
            raise ValueError(
                f"X and y must have a first dimension (one row per sample), got shapes {tuple(X.shape)} and {tuple(y.shape)}"
            )
        if len(X) != len(y):
            raise ValueError(f"X and y must have the same first dimension, got {len(X)} and {len(y)}")
        if len(X) == 0:
            raise ValueError("X must hold at least one sample")
        check_int("batch_size", batch_size, 1)
        check_int("seed", seed, 0)
        if drop_last and batch_size > len(X):
            raise ValueError(
                f"batch_size ({batch_size}) > number of samples ({len(X)}) with drop_last=True gives no batch"
            )
        device = torch.device(device) if device is not None else X.device
        self.X, self.y = X.to(device), y.to(device)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def device(self) -> torch.device:
        return self.X.device

    def __len__(self) -> int:
        full, rest = divmod(len(self.X), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self):
        X, y = self.X, self.y
        if self.shuffle:
            order = torch.randperm(len(X), generator=self.generator).to(X.device)
            X, y = X[order], y[order]  # one gather per epoch; the batches below are views
        stop = len(X) - len(X) % self.batch_size if self.drop_last else len(X)
        for start in range(0, stop, self.batch_size):
            yield X[start : start + self.batch_size], y[start : start + self.batch_size]
