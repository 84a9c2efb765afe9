"""Train K copies of one model at once, each with its own hyperparameters: an lr sweep in one run.

Every member starts from the same weights (``model_fn()`` after ``torch.manual_seed(seed)``) and sees
the same batches (those of ``loaders.DeviceLoader(X, y, batch_size, seed=seed)``), so the only thing
that differs is the hyperparameter. Each parameter's K copies are stacked into one ``(K, *shape)``
tensor; the forward pass runs all members together (batched matrix products for an MLP, else
``torch.func.vmap`` over ``functional_call``), and the optimizer updates are torch.optim's own
formulas written once for the whole stack, rounded as torch.optim rounds. Each member's weights stay
those of its own ordinary run up to the last bit of rounding (a batched matrix product and
``nn.Linear`` need not round alike; ``tests/test_sweep.py``). Where training is stable that
difference stays at rounding level; past the edge of stability (a large lr with momentum) any such
difference grows, as would a nudge of the initial weights, and the two runs part ways: chaos, not a
bug (``benchmarks/sweep.py`` measures both).

A member whose loss turns NaN or exceeds ``divergence_factor`` times the first loss is marked
diverged at that step and frozen (its weights are those before the step), as ``Trainer`` does.

>>> from course_lib import models
>>> from course_lib.data import datasets
>>> X, y = datasets.make_spirals(256)
>>> result = run_sweep(lambda: models.MLP(2, 2, width=16), X, y, "sgd", lrs=[0.01, 0.1], num_steps=5)
>>> result.status
['completed', 'completed']
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from .. import optimizers
from ..data.loaders import DeviceLoader
from ..device import pick_device
from ..training import statuses
from ..training.history import History
from ..validate import check_callable, check_choice, check_int, check_number, is_number
from . import stacked

LOSSES = ("cross_entropy", "mse")


def log_grid(low: float, high: float, num: int) -> list[float]:
    """``num`` values from ``low`` to ``high`` (both included), evenly spaced on a log scale.

    >>> [round(v, 6) for v in log_grid(1e-3, 1e-1, 3)]
    [0.001, 0.01, 0.1]
    """
    if not (is_number(low) and is_number(high) and 0 < low < high < math.inf):
        raise ValueError(f"low and high must be numbers with 0 < low < high, got {low!r} and {high!r}")
    check_int("num", num, 2)
    a, b = math.log10(low), math.log10(high)
    return [10 ** (a + (b - a) * i / (num - 1)) for i in range(num)]


@dataclass
class SweepResult:
    """Plain data, one entry per member: ``losses[k][i]`` is member k's loss at update i.

    ``final_loss`` is the loss on the whole training set after the run, ``valid_loss`` and
    ``valid_accuracy`` those on the validation set (``None`` without one); all are NaN for a member
    that diverged. ``epochs[k]`` holds member k's per-epoch ``train_loss`` (and validation numbers).
    """

    optimizer: str
    hyperparameters: list[dict]
    losses: list[list[float]]
    status: list[str]
    diverged_at_step: list[int | None]
    final_loss: list[float] = field(default_factory=list)
    valid_loss: list[float] | None = None
    valid_accuracy: list[float] | None = None
    epochs: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def lrs(self) -> list[float]:
        return [h["lr"] for h in self.hyperparameters]

    def __len__(self) -> int:
        return len(self.hyperparameters)

    def best(self, key: str = "final_loss") -> int:
        """Index of the member with the lowest loss (or highest ``valid_accuracy``); diverged ones never win."""
        values = getattr(self, key, None) if key in ("final_loss", "valid_loss", "valid_accuracy") else None
        if values is None:
            raise ValueError(
                f"key must be 'final_loss', or 'valid_loss' / 'valid_accuracy' after a sweep with validation data, got {key!r}"
            )
        finite = [k for k, v in enumerate(values) if math.isfinite(v)]
        if not finite:
            raise ValueError("every member diverged: there is no best one")
        return (max if key == "valid_accuracy" else min)(finite, key=values.__getitem__)

    def histories(self) -> list[History]:
        """One :class:`History` per member, as ``Trainer.fit`` would have logged it (without times)."""
        out = []
        for k, losses in enumerate(self.losses):
            history = History(
                step={"step": list(range(len(losses))), "loss": list(losses), "lr": [self.lrs[k]] * len(losses)},
                epoch={name: list(values) for name, values in self.epochs[k].items()},
                status=self.status[k],
                diverged_at_step=self.diverged_at_step[k],
            )
            if history.status == statuses.DIVERGED:
                history.message = f"loss became {losses[-1]:.4g} at step {history.diverged_at_step}"
            out.append(history)
        return out


def run_sweep(
    model_fn,
    X: torch.Tensor,
    y: torch.Tensor,
    optimizer: str = "sgd",
    lrs=(0.01,),
    num_steps: int = 100,
    batch_size: int = 128,
    momentum=None,
    weight_decay=None,
    betas=(0.9, 0.999),
    eps: float = 1e-8,
    seed: int = 0,
    X_valid=None,
    y_valid=None,
    loss: str = "cross_entropy",
    device=None,
    divergence_factor: float = 1e3,
) -> SweepResult:
    """Train one member per hyperparameter setting, all at once, for ``num_steps`` updates.

    ``lrs``, ``momentum``, ``weight_decay`` and ``betas`` each take one value (shared by all) or a
    list with one value per member. ``momentum`` defaults to 0.9 for "momentum" and "nesterov";
    ``weight_decay`` to torch's default (0, and 0.01 for "adamw"): L2 added to the gradient for SGD
    and Adam, decoupled (``w <- w * (1 - lr * wd)`` before the step) for AdamW.
    """
    hyper = _check_arguments(
        model_fn=model_fn,
        X=X,
        y=y,
        optimizer=optimizer,
        lrs=lrs,
        num_steps=num_steps,
        batch_size=batch_size,
        momentum=momentum,
        weight_decay=weight_decay,
        betas=betas,
        eps=eps,
        seed=seed,
        X_valid=X_valid,
        y_valid=y_valid,
        loss=loss,
        divergence_factor=divergence_factor,
    )
    device = torch.device(device) if device is not None else pick_device()
    with torch.random.fork_rng(
        devices=[]
    ):  # the weights of `torch.manual_seed(seed); model_fn()`, caller's RNG untouched
        torch.manual_seed(seed)
        model = model_fn()
    if not isinstance(model, nn.Module):
        raise ValueError(f"model_fn must return a torch.nn.Module, got {type(model).__name__}")
    for module in model.modules():
        if isinstance(module, (nn.Dropout, nn.modules.batchnorm._BatchNorm)):
            raise ValueError(
                f"model_fn's model must not use {type(module).__name__}: "
                "the members would differ by more than their hyperparameters"
            )
    K, net, loss_fn = len(hyper), stacked.StackedModel(model.to(device), len(hyper)), stacked.member_losses(loss)
    rule, train = (
        stacked.StackedUpdate(optimizer, hyper, device, eps),
        DeviceLoader(X, y, batch_size, seed=seed, device=device),
    )
    result = SweepResult(
        optimizer,
        hyper,
        [[] for _ in range(K)],
        [statuses.COMPLETED] * K,
        [None] * K,
        epochs=[{"epoch": []} for _ in range(K)],
    )
    mask = torch.ones(K, dtype=torch.bool, device=device)  # the members still training
    step_losses, first_loss, start = [], None, time.perf_counter()  # step_losses: one (K,) tensor per update
    while len(step_losses) < num_steps and any(status != statuses.DIVERGED for status in result.status):
        epoch_start, batch_sizes = len(step_losses), []
        for inputs, targets in train:
            member_losses, grads = net.loss_and_gradients(
                inputs, targets, loss, mask
            )  # (K,); frozen members: zero gradient
            step_losses.append(member_losses)
            batch_sizes.append(len(targets))
            first_loss = member_losses[0].item() if first_loss is None else first_loss  # the same for every member
            worst = torch.where(mask, member_losses, 0.0).abs().max().item()  # one number per step, not K
            if statuses.diverged(
                worst, first_loss, divergence_factor
            ):  # some member may have diverged: ask the rule for each
                _freeze_diverged(
                    result, member_losses.tolist(), first_loss, divergence_factor, len(step_losses) - 1, mask, net, rule
                )
            rule.step(net.params, grads)
            if len(step_losses) == num_steps:
                break
        if sum(batch_sizes) == len(train.X):  # a whole epoch was trained: log it as Trainer does
            rows = torch.stack(step_losses[epoch_start:]).tolist()
            numbers = {
                "train_loss": [sum(row[k] * n for row, n in zip(rows, batch_sizes)) / len(train.X) for k in range(K)]
            }
            if X_valid is not None:
                numbers["valid_loss"], numbers["valid_accuracy"] = _evaluate(
                    net, X_valid, y_valid, loss_fn, mask, device, batch_size
                )
            for k in (k for k in range(K) if result.status[k] != statuses.DIVERGED):
                result.epochs[k]["epoch"].append(len(result.epochs[k]["epoch"]) + 1)
                for name, values in numbers.items():
                    if values is not None:
                        result.epochs[k].setdefault(name, []).append(values[k])
    table = torch.stack(step_losses).tolist() if step_losses else []
    for k in range(K):  # a diverged member's losses end with the one that diverged
        result.losses[k] = [
            row[k] for row in table[: None if result.diverged_at_step[k] is None else result.diverged_at_step[k] + 1]
        ]
    result.final_loss, _ = _evaluate(net, X, y, loss_fn, mask, device, batch_size)
    if X_valid is not None:
        result.valid_loss, result.valid_accuracy = _evaluate(net, X_valid, y_valid, loss_fn, mask, device, batch_size)
    result.seconds = time.perf_counter() - start
    return result


def plot_final_loss(results: dict[str, SweepResult], key: str = "final_loss", ax=None):
    """``key`` of every member against its lr, one line per sweep; a cross at the top marks a diverged member."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    for name, result in results.items():
        values = getattr(result, key)
        line = ax.plot(result.lrs, values, "o-", markersize=3, label=name)[0]
        diverged = [lr for lr, v in zip(result.lrs, values) if not math.isfinite(v)]
        if diverged:  # an empty line would still count in a constrained layout and shrink the axes
            ax.plot(
                diverged,
                [1] * len(diverged),
                "x",
                color=line.get_color(),
                transform=ax.get_xaxis_transform(),
                clip_on=False,
            )
    ax.set_xscale("log")
    ax.set(
        xlabel="learning rate",
        ylabel=key.replace("_", " "),
        title=f"{key.replace('_', ' ')} after the sweep (x: diverged)",
    )
    if results:
        ax.legend()
    return ax


def _freeze_diverged(result, values, first_loss, factor, step, mask, net, rule) -> None:
    """Mark each member whose loss at ``step`` diverged, and freeze its weights as they were before the step."""
    members = [k for k, value in enumerate(values) if mask[k] and statuses.diverged(value, first_loss, factor)]
    for k in members:
        result.status[k], result.diverged_at_step[k] = statuses.DIVERGED, step
    mask[members] = False
    rule.freeze(net.params, members)


@torch.no_grad()
def _evaluate(net, X, y, loss_fn, active, device, chunk: int):
    """Per-member mean loss (and accuracy for classification) on a whole set, in chunks; NaN for frozen members.

    Chunks of the training batch size reuse the training step's buffers (see ``StackedModel``)."""
    loss_sum, correct = torch.zeros(len(active), device=device), torch.zeros(len(active), device=device)
    for start in range(0, len(X), chunk):
        outputs, targets = net(X[start : start + chunk].to(device)), y[start : start + chunk].to(device)  # (K, n, C)
        loss_sum += loss_fn(outputs, targets) * len(targets)
        if loss_fn.name == "cross_entropy":
            correct += (outputs.movedim(-1, 1).argmax(1) == targets).float().sum(1)  # classes along dim 1, as stored
    nan = torch.tensor(math.nan, device=device)
    values = torch.where(active, loss_sum / len(X), nan).tolist()
    return values, torch.where(active, correct / len(X), nan).tolist() if loss_fn.name == "cross_entropy" else None


def _check_arguments(
    *,
    model_fn,
    X,
    y,
    optimizer,
    lrs,
    num_steps,
    batch_size,
    momentum,
    weight_decay,
    betas,
    eps,
    seed,
    X_valid,
    y_valid,
    loss,
    divergence_factor,
) -> list[dict]:
    """Validate everything before any work; return one dict of hyperparameters per member."""
    check_choice("optimizer", optimizer, optimizers.NAMES)  # the rules of optimizers.build, for many lrs at once
    check_choice("loss", loss, LOSSES)
    check_callable("model_fn", model_fn, "a callable returning a fresh torch.nn.Module")
    for name, a, b in (("X, y", X, y), ("X_valid, y_valid", X_valid, y_valid)):
        if name.startswith("X_valid") and a is None and b is None:
            continue
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and len(a) == len(b) > 0):
            raise ValueError(f"{name} must be non-empty tensors of the same length")
    check_int("num_steps", num_steps, 1)
    check_int("batch_size", batch_size, 1)
    check_int("seed", seed, 0)
    check_number("eps", eps, 0, include_low=False)
    check_number("divergence_factor", divergence_factor, 1, include_low=False)
    if momentum is not None and optimizer not in ("momentum", "nesterov"):
        raise ValueError(f"momentum applies to optimizer 'momentum' or 'nesterov' only, got optimizer={optimizer!r}")
    given = {
        "lrs": lrs,
        "momentum": 0.9 if momentum is None else momentum,
        "betas": betas,
        "weight_decay": (0.01 if optimizer == "adamw" else 0.0) if weight_decay is None else weight_decay,
    }
    lists = {
        name: list(value)
        for name, value in given.items()
        if hasattr(value, "__len__") and not (name == "betas" and len(value) == 2 and all(is_number(b) for b in value))
    }
    sizes = {len(values) for values in lists.values()}
    if len(sizes) > 1 or 0 in sizes:
        raise ValueError(
            f"lrs, momentum, weight_decay and betas take one value or one per member (lists of one length > 0), "
            f"got lengths { ({name: len(values) for name, values in lists.items()}) }"
        )
    K = sizes.pop() if sizes else 1
    column = {name: lists.get(name, [value] * K) for name, value in given.items()}
    hyper = []
    for lr, mom, wd, pair in zip(column["lrs"], column["momentum"], column["weight_decay"], column["betas"]):
        if not (is_number(lr) and 0 < lr < math.inf):
            raise ValueError(f"lrs must be positive finite numbers, got {lr!r}")
        if not (is_number(mom) and 0 <= mom < 1) or (optimizer == "nesterov" and mom == 0):
            raise ValueError(f"momentum must be a number in [0, 1) (> 0 for nesterov), got {mom!r}")
        if not (is_number(wd) and 0 <= wd < math.inf):
            raise ValueError(f"weight_decay must be a number >= 0, got {wd!r}")
        if not (hasattr(pair, "__len__") and len(pair) == 2 and all(is_number(b) and 0 <= b < 1 for b in pair)):
            raise ValueError(
                f"betas must be a pair (beta1, beta2), each in [0, 1), or a list of such pairs, got {pair!r}"
            )
        member = {"lr": float(lr), "weight_decay": float(wd)}
        if optimizer in ("momentum", "nesterov"):
            member["momentum"] = float(mom)
        if optimizer in ("adam", "adamw"):
            member["betas"] = (float(pair[0]), float(pair[1]))
        hyper.append(member)
    return hyper
