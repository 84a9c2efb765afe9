"""The bridge between the course's ``step -> lr`` schedules and PyTorch's ``torch.optim.lr_scheduler``.

Both directions: :func:`as_lambda_lr` drives an optimizer with any schedule through ``LambdaLR`` (and
:func:`as_scheduler` is how ``Trainer`` turns whatever it is given into one thing to step), and
:func:`trace` records the lr a PyTorch scheduler gives, step by step, so that a hand-written curve and
the built-in one can be compared on the same axes.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, ReduceLROnPlateau

from ..validate import check_callable, check_int, check_number


def as_lambda_lr(optimizer: torch.optim.Optimizer, schedule: Callable[[int], float]) -> LambdaLR:
    """Drive ``optimizer`` with ``schedule`` through PyTorch's ``LambdaLR``.

    ``LambdaLR`` multiplies each group's initial lr by a factor; the factor here is
    ``schedule(step) / initial lr of the first group``, so the first group follows the schedule and every
    other group keeps its ratio to it (a head at 10x the body's lr stays at 10x).
    """
    check_callable("schedule", schedule, "a step -> lr callable")
    base = optimizer.param_groups[0].get("initial_lr", optimizer.param_groups[0]["lr"])
    return LambdaLR(optimizer, lambda step: schedule(step) / base)


def as_scheduler(optimizer: torch.optim.Optimizer, schedule) -> LRScheduler | ReduceLROnPlateau | None:
    """What ``Trainer`` steps: nothing, the torch scheduler it was given, or a ``step -> lr`` callable
    through :func:`as_lambda_lr`. One kind of thing to step, whatever the learner passed."""
    if schedule is None or isinstance(schedule, (LRScheduler, ReduceLROnPlateau)):
        return schedule
    return as_lambda_lr(optimizer, schedule)


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
