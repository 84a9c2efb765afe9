"""Metrics take ``(outputs, targets)`` and return a 0-d tensor, so they stay on the device."""
from __future__ import annotations

import torch


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose largest logit is the target class. outputs (B, C), targets (B,)."""
    if outputs.dim() != 2 or targets.dim() != 1 or len(outputs) != len(targets):
        raise ValueError(f"accuracy expects outputs (B, C) and targets (B,), got {tuple(outputs.shape)} and {tuple(targets.shape)}")
    return (outputs.argmax(dim=1) == targets).float().mean()
