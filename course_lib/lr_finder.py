"""The learning-rate range test (Leslie Smith, 2015; fastai's ``lr_find``): one short run, lr growing.

The lr grows exponentially from ``start_lr`` to ``end_lr`` over at most ``num_steps`` updates; each
update's loss is smoothed by a debiased exponential moving average, and the run stops once the
smoothed loss passes ``stop_factor`` (4) times its minimum or turns NaN. Afterwards the model, the
optimizer, the random generators and the loader's shuffling are restored exactly, so the test
leaves no trace. Three suggestions are read off the smoothed curve (each on the points left after
dropping the first 10% and the last 5, as fastai does):

- ``steepest``: where the loss falls fastest against log(lr);
- ``valley``: fastai's default, a point 1/2 of the way down the longest falling stretch;
- ``minimum/10``: a tenth of the lr at the lowest loss, a cautious choice.
"""
from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

SUGGESTIONS = ("steepest", "valley", "minimum/10")


@dataclass
class LRFinderResult:
    """``lrs[i]``, ``losses[i]`` and ``smoothed[i]`` belong to update i; ``suggestions`` maps a rule to an lr."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestions: dict[str, float] = field(default_factory=dict)
    stop_reason: str = ""


def lr_find(model: nn.Module, optimizer: torch.optim.Optimizer, train_loader, loss_fn=nn.functional.cross_entropy,
            start_lr: float = 1e-7, end_lr: float = 10.0, num_steps: int = 100, beta: float = 0.98,
            stop_factor: float = 4.0) -> LRFinderResult:
    """Run the range test on ``model`` with ``optimizer``, then put both back as they were.

    Batches come from ``train_loader`` (restarted when it runs out) and go to the model's device.
    Every parameter group follows the exponential ramp, keeping their lr ratios.
    """
    _check(model, optimizer, train_loader, start_lr, end_lr, num_steps, beta, stop_factor)
    saved = _save(model, optimizer, train_loader)
    device = next(model.parameters()).device
    first = optimizer.param_groups[0]["lr"]
    ratios = [group["lr"] / first if first > 0 else 1.0 for group in optimizer.param_groups]
    result, average, best = LRFinderResult([], [], []), 0.0, math.inf
    model.train()
    try:
        batches = iter(train_loader)
        for step in range(num_steps):
            lr = start_lr * (end_lr / start_lr) ** (step / max(num_steps - 1, 1))
            for group, ratio in zip(optimizer.param_groups, ratios):
                group["lr"] = lr * ratio
            try:
                inputs, targets = next(batches)
            except StopIteration:
                batches = iter(train_loader)
                inputs, targets = next(batches)
            loss = loss_fn(model(inputs.to(device)), targets.to(device))
            value = loss.item()
            average = beta * average + (1 - beta) * value
            smoothed = average / (1 - beta ** (step + 1))  # debiased: the average starts at 0
            result.lrs.append(lr)
            result.losses.append(value)
            result.smoothed.append(smoothed)
            if not math.isfinite(smoothed):
                result.stop_reason = f"the loss turned {smoothed} at lr {lr:.3g}"
                break
            if smoothed > stop_factor * best:
                result.stop_reason = f"the smoothed loss passed {stop_factor:g}x its minimum at lr {lr:.3g}"
                break
            best = min(best, smoothed)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        else:
            result.stop_reason = f"reached end_lr={end_lr:g} after {num_steps} updates"
    finally:
        _restore(saved, model, optimizer, train_loader)
    result.suggestions = suggest(result.lrs, result.smoothed)
    return result


def suggest(lrs: list[float], smoothed: list[float], skip_start: float = 0.1, skip_end: int = 5) -> dict[str, float]:
    """The three suggestions, on the curve without its first ``skip_start`` fraction and last ``skip_end`` points.

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
    return {"steepest": steepest(x, y), "valley": valley(x, y), "minimum/10": x[int(np.argmin(y))] / 10}


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
    """The raw and smoothed loss against lr (log scale) with the three suggestions marked."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    ax.plot(result.lrs, result.losses, color="0.75", linewidth=1, label="loss per update")
    ax.plot(result.lrs, result.smoothed, color="C0", linewidth=2, label="smoothed loss")
    for (name, lr), marker, color in zip(result.suggestions.items(), "ov^", ("C3", "C2", "C1")):
        index = min(range(len(result.lrs)), key=lambda i: abs(math.log(result.lrs[i] / lr)))
        ax.plot([lr], [result.smoothed[index]], marker, color=color, markersize=9, label=f"{name}: {lr:.2g}")
    finite = [v for v in result.smoothed if math.isfinite(v)]
    if finite:  # from the lowest raw loss to the top of the smoothed curve, so spikes do not squash it
        low = min([v for v in result.losses if math.isfinite(v)] + finite)
        high = max(finite[0], min(max(finite), 4 * min(finite)))
        ax.set_ylim(low - 0.05 * (high - low), high + 0.1 * (high - low))
    ax.set_xscale("log")
    ax.set(xlabel="learning rate (log scale)", ylabel="training loss", title="LR range test")
    ax.legend()
    return ax


def _save(model, optimizer, train_loader) -> dict:
    saved = {"model": {k: v.detach().clone() for k, v in model.state_dict().items()},
             "optimizer": copy.deepcopy(optimizer.state_dict()), "training": model.training,
             "torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        saved["cuda"] = torch.cuda.get_rng_state_all()
    generator = getattr(train_loader, "generator", None)
    if isinstance(generator, torch.Generator):  # DeviceLoader and DataLoader(generator=...) shuffle with it
        saved["loader"] = generator.get_state()
    return saved


def _restore(saved, model, optimizer, train_loader) -> None:
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    model.train(saved["training"])
    torch.set_rng_state(saved["torch"])
    random.setstate(saved["python"])
    np.random.set_state(saved["numpy"])
    if "cuda" in saved:
        torch.cuda.set_rng_state_all(saved["cuda"])
    if "loader" in saved:
        train_loader.generator.set_state(saved["loader"])


def _check(model, optimizer, train_loader, start_lr, end_lr, num_steps, beta, stop_factor) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if train_loader is None or not hasattr(train_loader, "__iter__"):
        raise ValueError(f"train_loader must be an iterable of (inputs, targets) batches, got {train_loader!r}")
    if not (isinstance(start_lr, (int, float)) and isinstance(end_lr, (int, float)) and 0 < start_lr < end_lr < math.inf):
        raise ValueError(f"start_lr and end_lr must satisfy 0 < start_lr < end_lr, got {start_lr!r} and {end_lr!r}")
    if not isinstance(num_steps, int) or isinstance(num_steps, bool) or num_steps < 2:
        raise ValueError(f"num_steps must be an int >= 2, got {num_steps!r}")
    if not (isinstance(beta, (int, float)) and 0 <= beta < 1):
        raise ValueError(f"beta must be in [0, 1), got {beta!r}")
    if not (isinstance(stop_factor, (int, float)) and stop_factor > 1):
        raise ValueError(f"stop_factor must be a number > 1, got {stop_factor!r}")
