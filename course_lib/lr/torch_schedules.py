"""The course's ``step -> lr`` schedules beside PyTorch's ``torch.optim.lr_scheduler``.

:func:`trace` records the lr a PyTorch scheduler gives, step by step, so that a hand-written curve and
the built-in one can be compared on the same axes. The other direction, :func:`as_lambda_lr` (any
schedule driving an optimizer through ``LambdaLR``), is defined with the ``Trainer``, which drives
every schedule that way: the training loop imports nothing from this package, which builds on it
(the lr finder is a ``Trainer`` run).
"""

from __future__ import annotations

from typing import Callable

import torch

from ..training.trainer import as_lambda_lr  # noqa: F401  (schedules.as_lambda_lr, for notebooks)
from ..validate import check_int, check_number


def trace(make_scheduler: Callable[[torch.optim.Optimizer], object], num_steps: int, lr: float = 0.1) -> list[float]:
    """The lr a PyTorch scheduler gives at each of ``num_steps`` steps, on a throw-away optimizer.

    >>> trace(lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), 4)
    [0.1, 0.1, 0.05, 0.05]
    """
    check_int("num_steps", num_steps, 1)
    check_number("lr", lr, 0, include_low=False)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(num_steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs
