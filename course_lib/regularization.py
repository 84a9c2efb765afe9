"""Regularizers: flooding (Ishida et al., 2020) and an L1 penalty act on the loss; weight decay on the weights."""

from __future__ import annotations

from typing import Callable

import torch

from .validate import check_callable, check_number


class Flooding:
    """``|loss - b| + b``: below the flood level ``b`` the gradient flips sign and lifts the loss back up.

    Training loss then hovers near ``b`` instead of driving to zero on noisy labels. ``level=0`` is the
    plain loss, so one switch turns it on and off.
    """

    def __init__(self, loss_fn: Callable[..., torch.Tensor], level: float):
        check_callable("loss_fn", loss_fn, "a callable (outputs, targets) -> loss tensor")
        check_number("level", level, 0)
        self.loss_fn, self.level = loss_fn, float(level)

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = self.loss_fn(outputs, targets)
        return (loss - self.level).abs() + self.level if self.level > 0 else loss

    def __repr__(self) -> str:
        return f"Flooding({getattr(self.loss_fn, '__name__', self.loss_fn)}, level={self.level})"


def l1_penalty(model: torch.nn.Module, weights_only: bool = True) -> torch.Tensor:
    """Sum of ``|w|`` over the model's parameters (by default only weight matrices and kernels, not biases
    or normalization scales, which are 1-d). Add ``strength * l1_penalty(model)`` to the training loss.

    >>> layer = torch.nn.Linear(2, 1)
    >>> _ = torch.nn.init.constant_(layer.weight, -1.5)
    >>> l1_penalty(layer).item()
    3.0
    """
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    terms = [p.abs().sum() for p in model.parameters() if p.dim() > 1 or not weights_only]
    if not terms:
        raise ValueError("model has no parameters to penalize")
    return torch.stack(terms).sum()


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Parameter groups that decay the weight matrices only: biases and norm scales (1-d) get no decay.

    Decaying a bias or a batch-norm scale toward 0 buys no simpler function, only a worse fit (the
    usual practice since BERT and the GPT-2 code): ``torch.optim.AdamW(decay_groups(model, 0.1), lr=1e-3)``.

    >>> [g["weight_decay"] for g in decay_groups(torch.nn.Linear(3, 2), 0.1)]
    [0.1, 0.0]
    """
    check_number("weight_decay", weight_decay, 0)
    matrices = [p for p in model.parameters() if p.dim() > 1]
    others = [p for p in model.parameters() if p.dim() <= 1]
    return [{"params": matrices, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]
