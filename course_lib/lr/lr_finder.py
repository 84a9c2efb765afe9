"""The learning-rate range test (Leslie Smith, 2015; fastai's ``lr_find``): one short run, lr growing.

The lr grows exponentially from ``start_lr`` to ``end_lr`` over at most ``num_steps`` updates; each
update's loss is smoothed by a debiased exponential moving average, and the run stops once the
smoothed loss passes ``stop_factor`` (4) times its minimum or turns NaN. The run is an ordinary
``Trainer.fit`` with an :class:`LRFinder` callback (miniai's ``LRFinderCB``), so mixed precision,
gradient clipping and a ``training_step`` override work as in training. Afterwards the model, the
optimizer, the random generators and the loader's shuffling are restored exactly, so the test leaves
no trace.

A moving average lags: with ``beta=0.98`` it trails the raw loss by about 50 updates, which on a
range test is half a decade of lr or more, so a suggestion read off it lands too far right. The stop
rule has to be causal (it decides while the test runs), but the suggestions are read afterwards, off
``centred``: a moving average run forwards and one run backwards, averaged, which lags neither way
(see :func:`centred`). They are read on the points left after dropping the first 10% and the last 5,
as fastai does, and, for the first two, only up to the lowest point: past it the loss is recovering
from an explosion, no place to pick an lr.

- ``steepest``: where the loss falls fastest against log(lr);
- ``valley``: fastai's default, a point 1/2 of the way down the longest falling stretch;
- ``minimum/10``: a tenth of the lr at the lowest loss, a cautious choice.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..training import random_state, statuses
from ..training.callbacks import Callback
from ..training.trainer import Trainer
from ..training.trainer_checks import check_loader
from ..validate import check_instance, check_int, check_number

SUGGESTIONS = ("steepest", "valley", "minimum/10")


@dataclass
class LRFinderResult:
    """``lrs[i]``, ``losses[i]``, ``smoothed[i]`` (causal) and ``centred[i]`` (no lag) belong to update i;
    ``suggestions`` maps a rule to an lr, read off ``centred``."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestions: dict[str, float] = field(default_factory=dict)
    stop_reason: str = ""
    centred: list[float] = field(default_factory=list)


class LRFinder(Callback):
    """Set update i's lr to ``start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))``, record its loss,
    and end the test by the stop rule. Every parameter group follows the ramp, keeping their lr ratios."""

    def __init__(self, start_lr: float, end_lr: float, num_steps: int, beta: float, stop_factor: float):
        self.start_lr, self.end_lr, self.num_steps, self.beta, self.stop_factor = (
            start_lr,
            end_lr,
            num_steps,
            beta,
            stop_factor,
        )
        self.result, self.done, self.average, self.best = LRFinderResult([], [], []), False, 0.0, math.inf

    def lr(self, step: int) -> float:
        return self.start_lr * (self.end_lr / self.start_lr) ** (step / max(self.num_steps - 1, 1))

    def batches(self, loader):
        """``loader``'s batches, started again whenever it runs out, until the test is over."""
        while not self.done:
            empty = True
            for batch in loader:
                empty = False
                yield batch
                if self.done:
                    return
            if empty:
                raise ValueError(f"train_loader yielded no batches (empty, or an iterator already used up): {loader!r}")

    def on_fit_start(self, trainer) -> None:
        first = trainer.optimizer.param_groups[0]["lr"]
        self.ratios = [group["lr"] / first if first > 0 else 1.0 for group in trainer.optimizer.param_groups]

    def on_batch_start(self, trainer) -> None:
        for group, ratio in zip(trainer.optimizer.param_groups, self.ratios):
            group["lr"] = self.lr(trainer.global_step) * ratio

    def on_batch_end(self, trainer) -> None:
        self._record(trainer.last_loss, self.lr(trainer.global_step - 1))
        if not self.done and len(self.result.lrs) == self.num_steps:
            self.done, self.result.stop_reason = True, f"reached end_lr={self.end_lr:g} after {self.num_steps} updates"

    def on_fit_end(self, trainer) -> None:
        if self.done or trainer.history.status != statuses.DIVERGED:
            if not self.done:
                self.result.stop_reason = f"{trainer.history.status} after {len(self.result.lrs)} updates"
            return
        lr = self.lr(trainer.global_step)  # the update the trainer refused to take
        self._record(trainer.last_loss, lr)
        if not self.done:  # a finite loss with a gradient that was not
            self.done, self.result.stop_reason = True, f"{trainer.history.message} (lr {lr:.3g})"

    def _record(self, loss: float, lr: float) -> None:
        result = self.result
        self.average = self.beta * self.average + (1 - self.beta) * loss
        smoothed = self.average / (1 - self.beta ** (len(result.lrs) + 1))  # debiased: the average starts at 0
        result.lrs.append(lr)
        result.losses.append(loss)
        result.smoothed.append(smoothed)
        if not math.isfinite(smoothed):
            self.done, result.stop_reason = True, f"the loss turned {smoothed} at lr {lr:.3g}"
        elif statuses.diverged(smoothed, self.best, self.stop_factor):
            self.done, result.stop_reason = (
                True,
                f"the smoothed loss passed {self.stop_factor:g}x its minimum at lr {lr:.3g}",
            )
        self.best = min(self.best, smoothed)


def lr_find(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader,
    loss_fn=nn.functional.cross_entropy,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    beta: float = 0.98,
    stop_factor: float = 4.0,
    trainer_class: type = Trainer,
    **trainer_options,
) -> LRFinderResult:
    """Run the range test on ``model`` with ``optimizer``, then put both back as they were.

    Batches come from ``train_loader`` (started again when it runs out). The run is
    ``trainer_class(model, optimizer, loss_fn=loss_fn, **trainer_options).fit(...)`` on the model's
    device: pass ``amp="bf16"``, ``grad_clip=1.0`` or a ``Trainer`` subclass with its own
    ``training_step``, as for training.
    """
    _check(
        model=model,
        optimizer=optimizer,
        train_loader=train_loader,
        start_lr=start_lr,
        end_lr=end_lr,
        num_steps=num_steps,
        beta=beta,
        stop_factor=stop_factor,
        trainer_class=trainer_class,
    )
    finder = LRFinder(start_lr, end_lr, num_steps, beta, stop_factor)
    saved = {
        "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "training": model.training,
        "rng": random_state.capture(train_loader),
    }
    options = {
        "device": next(model.parameters()).device,
        "progress": False,
        "divergence_factor": None,
        **trainer_options,
    }
    options["callbacks"] = [finder, *options.get("callbacks", ())]
    try:
        trainer_class(model, optimizer, loss_fn=loss_fn, **options).fit(finder.batches(train_loader), num_epochs=1)
    finally:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        model.train(saved["training"])
        random_state.restore(saved["rng"], train_loader)
    result = finder.result
    result.centred = centred(result.losses)
    result.suggestions = suggest(result.lrs, result.centred)
    return result


def centred(losses: list[float], beta: float = 0.8) -> list[float]:
    """The debiased moving average run forwards and run backwards, averaged: smooth, and no lag either way.

    ``beta=0.8``: each side reaches back about 1 / (1 - 0.8) = 5 updates, so the window is about ten
    updates wide. A range test's fall takes 10 to 30 updates, which that keeps in place; the 0.98 of the
    stop rule, centred, would be a hundred updates wide and smear the explosion over the fall. Points
    from the first non-finite loss on stay NaN (the backward pass must not start from a NaN).
    """
    finite = next((i for i, v in enumerate(losses) if not math.isfinite(v)), len(losses))
    forward, backward = _average(losses[:finite], beta), _average(losses[:finite][::-1], beta)[::-1]
    return [(f + b) / 2 for f, b in zip(forward, backward)] + [math.nan] * (len(losses) - finite)


def _average(values: list[float], beta: float) -> list[float]:
    out, average = [], 0.0
    for i, value in enumerate(values):
        average = beta * average + (1 - beta) * value
        out.append(average / (1 - beta ** (i + 1)))
    return out


def suggest(lrs: list[float], smoothed: list[float], skip_start: float = 0.1, skip_end: int = 5) -> dict[str, float]:
    """The three suggestions, on the curve without its first ``skip_start`` fraction and last ``skip_end`` points;
    ``steepest`` and ``valley`` on its falling part, up to the lowest point.

    When fewer than five points would be left, the whole curve is used; NaN points are dropped.
    """
    if len(lrs) != len(smoothed):
        raise ValueError(f"lrs and smoothed must have the same length, got {len(lrs)} and {len(smoothed)}")
    points = [(lr, loss) for lr, loss in zip(lrs, smoothed) if math.isfinite(loss)]
    start, stop = int(len(lrs) * skip_start), len(points) - skip_end
    if stop - start >= 5:
        points = points[start:stop]
    if len(points) < 2:
        return {}
    x, y = [p[0] for p in points], [p[1] for p in points]
    lowest = int(np.argmin(y))
    falling = slice(0, max(lowest + 1, 2))  # at least two points for a slope
    return {
        "steepest": steepest(x[falling], y[falling]),
        "valley": valley(x[falling], y[falling]),
        "minimum/10": x[lowest] / 10,
    }


def steepest(lrs: list[float], losses: list[float]) -> float:
    """The lr where the loss falls fastest against log(lr) (the most negative slope)."""
    slopes = np.diff(losses) / np.diff(np.log(lrs))
    return float(lrs[int(np.argmin(slopes))])


def valley(lrs: list[float], losses: list[float]) -> float:
    """fastai's valley: the longest run of falling losses (as a longest decreasing subsequence), then a
    point 1/2 of the way into it (``start + third + third / 2``)."""
    n = len(losses)
    length = [1] * n  # length[i]: the longest decreasing subsequence ending at i
    best_start = best_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and length[i] < length[j] + 1:
                length[i] = length[j] + 1
            if length[best_end] < length[i]:
                best_end, best_start = i, i - length[i]
    third = (best_end - best_start) / 3
    return float(lrs[best_start + int(third) + int(third / 2)])


def plot(result: LRFinderResult, ax=None):
    """The raw loss, its moving average and its lag-free smoothing against lr (log scale), with the
    three suggestions marked on the last."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    ax.plot(result.lrs, result.losses, color="0.75", linewidth=1, label="loss per update")
    ax.plot(
        result.lrs, result.smoothed, color="C0", linewidth=1, linestyle="--", label="moving average (stops the test)"
    )
    curve = result.centred or result.smoothed
    ax.plot(result.lrs, curve, color="C0", linewidth=2, label="smoothed without lag")
    for (name, lr), marker, color in zip(result.suggestions.items(), "ov^", ("C3", "C2", "C1")):
        index = min(range(len(result.lrs)), key=lambda i: abs(math.log(result.lrs[i] / lr)))
        ax.plot([lr], [curve[index]], marker, color=color, markersize=9, label=f"{name}: {lr:.2g}")
    finite = [v for v in result.smoothed + curve if math.isfinite(v)]
    if finite:  # from the lowest raw loss to the top of the smoothed curve, so spikes do not squash it
        low = min([v for v in result.losses if math.isfinite(v)] + finite)
        high = max(finite[0], min(max(finite), 4 * min(finite)))
        ax.set_ylim(low - 0.05 * (high - low), high + 0.1 * (high - low))
    ax.set_xscale("log")
    ax.set(xlabel="learning rate (log scale)", ylabel="training loss", title="LR range test")
    ax.legend()
    return ax


def _check(*, model, optimizer, train_loader, start_lr, end_lr, num_steps, beta, stop_factor, trainer_class) -> None:
    check_instance("model", model, nn.Module, "a torch.nn.Module")
    check_instance("optimizer", optimizer, torch.optim.Optimizer, "a torch.optim.Optimizer")
    check_loader("train_loader", train_loader)
    check_number("start_lr", start_lr, 0, include_low=False)
    check_number("end_lr", end_lr, start_lr, include_low=False)
    check_int("num_steps", num_steps, 2)
    check_number("beta", beta, 0, 1, include_high=False)
    check_number("stop_factor", stop_factor, 1, include_low=False)
    if not (isinstance(trainer_class, type) and issubclass(trainer_class, Trainer)):
        raise ValueError(f"trainer_class must be Trainer or a subclass of it, got {trainer_class!r}")
