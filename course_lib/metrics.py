"""Metrics take ``(outputs, targets)`` and return a 0-d tensor, so they stay on the device.

Over an epoch they are summed batch by batch, weighted by the batch's size, and divided once at the
end: the sums stay on the device, so logging a metric costs no synchronisation per batch.
"""

from __future__ import annotations

import torch


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose largest logit is the target class. outputs (B, C), targets (B,)."""
    if outputs.dim() != 2 or targets.dim() != 1 or len(outputs) != len(targets):
        raise ValueError(
            f"accuracy expects outputs (B, C) and targets (B,), got {tuple(outputs.shape)} and {tuple(targets.shape)}"
        )
    return (outputs.argmax(dim=1) == targets).float().mean()


@torch.no_grad()
def accuracy_of(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 4096) -> float:
    """The accuracy of ``model`` on ``(X, y)`` in eval mode (dropout off, batch norm frozen); the mode is restored.

    >>> accuracy_of(torch.nn.Linear(2, 2), torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)) in (0.0, 1.0)
    True
    """
    if len(X) != len(y) or len(X) == 0:
        raise ValueError(f"X and y must hold the same number of rows, at least one, got {len(X)} and {len(y)}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = sum(
        int((model(X[i : i + batch_size].to(device)).argmax(dim=1) == y[i : i + batch_size].to(device)).sum())
        for i in range(0, len(X), batch_size)
    )
    model.train(was_training)
    return correct / len(X)


def add_batch(totals: dict, loss, outputs: torch.Tensor, targets: torch.Tensor, metrics: dict) -> None:
    """Add one batch's ``loss`` (a float or a 0-d tensor) and ``metrics`` to ``totals``, weighted by its size."""
    n = targets.shape[0]  # len(tensor) goes through Python; this is one update's bookkeeping
    totals["count"], totals["loss"] = totals.get("count", 0) + n, totals.get("loss", 0.0) + loss * n
    for name, metric in metrics.items():
        totals[name] = totals.get(name, 0.0) + metric(outputs, targets).float() * n


def means(totals: dict) -> dict[str, float]:
    """The mean of every sum in ``totals`` over its ``count`` samples, as floats.

    >>> totals = {}
    >>> add_batch(totals, 1.0, torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), {})
    >>> add_batch(totals, 4.0, torch.zeros(1, 3), torch.zeros(1, dtype=torch.long), {})
    >>> means(totals)
    {'loss': 2.0}
    """
    return {name: float(value) / totals["count"] for name, value in totals.items() if name != "count"}
