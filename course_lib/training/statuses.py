"""How a run ends: the status names every module compares, and the one rule that calls a loss diverged.

The names are plain strings (a saved history stays plain data, and ``history.status == "diverged"``
keeps working), defined once here so that no module spells them on its own. ``Trainer``, ``sweep``
and ``lr_finder`` all decide divergence with :func:`diverged`; each brings its own reference loss.
"""

from __future__ import annotations

import math
import sys

import torch

NOT_STARTED = "not started"
RUNNING = "running"
COMPLETED = "completed"
STOPPED_EARLY = "stopped early"
DIVERGED = "diverged"
INTERRUPTED = "interrupted"
FAILED = "failed"  # an exception other than Ctrl-C: the history keeps the message, and the error is raised again
STATUSES = (NOT_STARTED, RUNNING, COMPLETED, STOPPED_EARLY, DIVERGED, INTERRUPTED, FAILED)
ENDED_NORMALLY = (COMPLETED, STOPPED_EARLY)


def diverged(loss: float, reference: float, factor: float | None) -> bool:
    """True when ``loss`` is NaN or infinite, or larger than ``factor`` times ``|reference|``.

    ``Trainer`` and ``sweep`` compare each loss with the run's first loss (``factor=1e3``): a model
    whose loss grows a thousandfold is not coming back. ``lr_finder`` compares its smoothed loss with
    the lowest one so far (``factor=4``). ``factor=None`` checks only for NaN and infinity.

    >>> diverged(float("nan"), 2.3, None), diverged(2400.0, 2.3, 1e3), diverged(5.0, 2.3, 1e3)
    (True, True, False)
    """
    low, high = loss_limits(reference, factor)
    return not low <= loss <= high


def loss_limits(reference: float, factor: float | None) -> tuple[float, float]:
    """The range a loss must lie in not to have diverged (NaN lies in none): the rule of :func:`diverged` as two
    numbers, so that a training loop computes them once and compares each loss with them."""
    largest = sys.float_info.max  # finite: an infinite loss lies outside
    return -largest, largest if factor is None else factor * max(abs(reference), 1e-12)


def describe_loss(loss: float, reference: float, factor: float | None) -> str:
    """What :func:`diverged` saw, in words."""
    if not math.isfinite(loss):
        return f"loss became {loss}"
    return f"loss {loss:.4g} exceeded {factor:g}x the first loss {reference:.4g}"


class FiniteGradients:
    """``check()`` is True when no gradient of ``parameters`` holds a NaN or an infinity: the check a loss cannot make
    (a NaN can appear in the backward pass alone). It is GradScaler's own check (``found_inf``) with a scale of 1:
    one pass over the gradients, one sync. (A loop that clips has the gradient's norm already: a finite norm says the
    same.) Made once per fit: the parameters and the flag are found once, not at every update."""

    def __init__(self, parameters):
        self.parameters = list(parameters)
        device = self.parameters[0].device if self.parameters else "cpu"
        self.found, self.one = torch.zeros(1, device=device), torch.ones(1, device=device)

    def check(self) -> bool:
        grads = [p.grad for p in self.parameters if p.grad is not None]
        if not grads:
            return True
        torch._amp_foreach_non_finite_check_and_unscale_(grads, self.found, self.one)
        if self.found.item():
            self.found.zero_()
            return False
        return True
