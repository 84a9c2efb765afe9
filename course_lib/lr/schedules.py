"""Learning-rate schedules as plain ``step -> lr`` callables.

A schedule here is a small dataclass you can call, print and plot without an optimizer. Warm-up is
one wrapper that composes with any of them. The bridge to PyTorch's own schedulers is reached from
here too: :func:`as_lambda_lr` hands any schedule to ``LambdaLR`` (the ``Trainer`` drives callables that
way), and :func:`trace` records what a PyTorch scheduler does, so a notebook can put the hand-written
curve and the built-in one on the same axes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..validate import check_callable, check_instance, check_int, check_number
from .torch_schedules import as_lambda_lr, trace  # noqa: F401  (schedules.trace etc.)


def _check_lr(name: str, value) -> None:
    check_number(name, value, 0, include_low=False)


def _check_factor(name: str, value) -> None:
    check_number(name, value, 0, 1, include_low=False)


def _check_step(step) -> None:
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step!r}")


@dataclass
class Constant:
    lr: float

    def __post_init__(self):
        _check_lr("lr", self.lr)

    def __call__(self, step: int) -> float:
        _check_step(step)
        return self.lr


@dataclass
class StepDecay:
    """Multiply by ``gamma`` every ``step_size`` steps (``gamma=0.5``: halve), like ``StepLR``."""

    lr: float
    step_size: int
    gamma: float = 0.5

    def __post_init__(self):
        _check_lr("lr", self.lr)
        check_int("step_size", self.step_size, 1)
        _check_factor("gamma", self.gamma)

    def __call__(self, step: int) -> float:
        _check_step(step)
        return self.lr * self.gamma ** (step // self.step_size)


@dataclass
class MultiStep:
    """Multiply by ``gamma`` at each milestone, like ``MultiStepLR``."""

    lr: float
    milestones: list[int]
    gamma: float = 0.1

    def __post_init__(self):
        _check_lr("lr", self.lr)
        _check_factor("gamma", self.gamma)
        check_instance("milestones", self.milestones, (list, tuple), "a non-empty list of positive ints")
        if not self.milestones:
            raise ValueError(f"milestones must be a non-empty list of positive ints, got {self.milestones!r}")
        for milestone in self.milestones:
            check_int("each milestone", milestone, 1)
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ValueError(f"milestones must be strictly increasing, got {self.milestones!r}")

    def __call__(self, step: int) -> float:
        _check_step(step)
        return self.lr * self.gamma ** sum(step >= m for m in self.milestones)


@dataclass
class Exponential:
    """``lr * gamma**step``, like ``ExponentialLR``."""

    lr: float
    gamma: float

    def __post_init__(self):
        _check_lr("lr", self.lr)
        _check_factor("gamma", self.gamma)

    def __call__(self, step: int) -> float:
        _check_step(step)
        return self.lr * self.gamma**step


@dataclass
class InverseTime:
    """``lr / (1 + k * step)``: the 1/t decay of classic stochastic approximation."""

    lr: float
    k: float

    def __post_init__(self):
        _check_lr("lr", self.lr)
        check_number("k", self.k, 0)

    def __call__(self, step: int) -> float:
        _check_step(step)
        return self.lr / (1 + self.k * step)


@dataclass
class Cosine:
    """Half a cosine from ``lr`` down to ``min_lr`` over ``total_steps``, like ``CosineAnnealingLR``."""

    lr: float
    total_steps: int
    min_lr: float = 0.0

    def __post_init__(self):
        _check_lr("lr", self.lr)
        check_int("total_steps", self.total_steps, 1)
        check_number("min_lr", self.min_lr, 0, self.lr, include_high=False)

    def __call__(self, step: int) -> float:
        _check_step(step)
        progress = min(step, self.total_steps) / self.total_steps
        return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2


@dataclass
class CosineRestarts:
    """Cosine that jumps back to ``lr`` every period; each period ``period_mult`` times longer (SGDR)."""

    lr: float
    period: int
    period_mult: int = 1
    min_lr: float = 0.0

    def __post_init__(self):
        _check_lr("lr", self.lr)
        check_int("period", self.period, 1)
        check_int("period_mult", self.period_mult, 1)
        check_number("min_lr", self.min_lr, 0, self.lr, include_high=False)

    def __call__(self, step: int) -> float:
        _check_step(step)
        period, position = self.period, step
        while position >= period:
            position, period = position - period, period * self.period_mult
        return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * position / period)) / 2


@dataclass
class OneCycle:
    """Up from ``max_lr / div_factor`` to ``max_lr``, then down to a tiny lr, both by cosine (like ``OneCycleLR``)."""

    max_lr: float
    total_steps: int
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4

    def __post_init__(self):
        _check_lr("max_lr", self.max_lr)
        check_int("total_steps", self.total_steps, 2)
        _check_factor("pct_start", self.pct_start)
        _check_lr("div_factor", self.div_factor)
        _check_lr("final_div_factor", self.final_div_factor)

    def __call__(self, step: int) -> float:
        _check_step(step)
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        peak = self.pct_start * self.total_steps - 1
        step = min(step, self.total_steps - 1)
        if step <= peak:
            start, end, progress = initial, self.max_lr, step / peak if peak > 0 else 1.0
        else:
            start, end, progress = self.max_lr, final, (step - peak) / (self.total_steps - 1 - peak)
        return end + (start - end) * (1 + math.cos(math.pi * progress)) / 2


@dataclass
class Warmup:
    """Linear warm-up for ``warmup_steps``, then ``schedule`` (shifted to start after the warm-up).

    The lr grows from ``start_factor * schedule(0)`` and reaches ``schedule(0)`` at step
    ``warmup_steps``, as ``LinearLR`` + ``SequentialLR`` do. ``start_factor`` must be > 0: a warm-up
    whose first lr is 0 wastes its first step (the bug in the source note's ``LambdaLR``).
    """

    schedule: Callable[[int], float]
    warmup_steps: int
    start_factor: float = 0.1

    def __post_init__(self):
        check_callable("schedule", self.schedule, "a step -> lr callable")
        check_int("warmup_steps", self.warmup_steps, 1)
        _check_factor("start_factor", self.start_factor)

    def __call__(self, step: int) -> float:
        _check_step(step)
        if step < self.warmup_steps:
            factor = self.start_factor + (1 - self.start_factor) * step / self.warmup_steps
            return self.schedule(0) * factor
        return self.schedule(step - self.warmup_steps)


def warmup_cosine(
    lr: float, warmup_steps: int, total_steps: int, start_factor: float = 0.1, min_lr: float = 0.0
) -> Warmup:
    """Warm up for ``warmup_steps``, then cosine-decay so that the whole run is ``total_steps`` long."""
    check_int("total_steps", total_steps, 1)
    check_int("warmup_steps", warmup_steps, 1)
    if warmup_steps >= total_steps:
        raise ValueError(f"warmup_steps ({warmup_steps}) must be shorter than total_steps ({total_steps})")
    return Warmup(Cosine(lr, total_steps - warmup_steps, min_lr), warmup_steps, start_factor)


def lr_curve(schedule: Callable[[int], float], num_steps: int) -> list[float]:
    """The schedule's lr at steps 0 .. num_steps - 1, for plotting."""
    check_int("num_steps", num_steps, 1)
    return [float(schedule(step)) for step in range(num_steps)]
