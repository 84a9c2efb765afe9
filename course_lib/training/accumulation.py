"""Gradient accumulation: ``k`` micro-batches make one optimizer update, as one batch ``k`` times larger would.

Memory limits the batch a model can take at once, not the batch an update may average over: run the
forward and backward pass on ``k`` micro-batches, let ``backward`` add their gradients into ``.grad``,
then step once. For the sum to be the gradient of the big batch's *mean* loss, each micro-batch's
mean loss is weighted by its share of the group's samples: ``n_i / (k * n)``, which is ``1 / k`` when
all hold ``n`` samples. A group can come up short (the end of an epoch); its gradient is then
rescaled to the mean over the samples it has, as a short last batch is without accumulation.
(Exact for a loss that is a mean over samples; a flooded or penalised loss is not.)
"""
from __future__ import annotations

import torch

from ..metrics import add_batch


class Accumulator:
    """The update being accumulated: how many micro-batches, their samples, and their summed loss and metrics."""

    def __init__(self, steps: int):
        self.steps = steps
        self.clear()

    def clear(self) -> None:
        self.micro_batches, self.full_size, self.sums = 0, 0, {}

    @property
    def full(self) -> bool:
        return self.micro_batches == self.steps

    def weight(self, samples: int) -> float:
        """The factor for this micro-batch's loss before ``backward``; the first one sets the group's full size."""
        if self.micro_batches == 0:
            self.full_size = samples * self.steps  # the samples of a full group of batches like this one
        return samples / self.full_size

    def add(self, loss: float, outputs: torch.Tensor, targets: torch.Tensor, metrics: dict) -> None:
        """Count a micro-batch whose backward is done: its loss, and ``metrics`` on its outputs."""
        self.micro_batches += 1
        add_batch(self.sums, loss, outputs, targets, metrics)

    def rescale_short_group(self, parameters) -> None:
        """Make a short group's gradient the mean over the samples it has (a no-op for a full group)."""
        if self.sums["count"] != self.full_size:
            torch._foreach_mul_([p.grad for p in parameters if p.grad is not None], self.full_size / self.sums["count"])

    def mean_loss(self) -> float:
        return self.sums["loss"] / self.sums["count"]
