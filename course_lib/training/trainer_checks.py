"""The Trainer's arguments, checked before any work: when it is built, when ``fit`` starts, and what the
loss and metrics return on the first batch.

A wrong argument would otherwise fail late and far away: a string ``grad_clip`` at the first update,
a validation loader that is not iterable after a whole epoch of training, a metric that returns one
number per sample after a whole epoch. Each check names the argument, says what it accepts and shows
what it got (:mod:`course_lib.validate`).
"""

from __future__ import annotations

import collections.abc

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from ..validate import check_callable, check_choice, check_instance, check_int, check_number
from .callbacks import Callback

AMP_DTYPES = {None: None, "fp16": torch.float16, "bf16": torch.bfloat16}
INTERVALS = ("step", "epoch")


def check_arguments(
    *,
    model,
    optimizer,
    loss_fn,
    metrics,
    schedule,
    schedule_interval,
    schedule_metric,
    amp,
    grad_clip,
    callbacks,
    device,
    progress,
    divergence_factor,
    train_metrics,
    valid_loss_fn,
    accumulation_steps,
) -> None:
    check_instance("model", model, nn.Module, "a torch.nn.Module")
    check_instance("optimizer", optimizer, torch.optim.Optimizer, "a torch.optim.Optimizer")
    check_callable(
        "loss_fn", loss_fn, "a callable (outputs, targets) -> loss tensor, such as nn.functional.cross_entropy"
    )
    check_callable("valid_loss_fn", valid_loss_fn, "a callable (outputs, targets) -> loss tensor", allow_none=True)
    check_instance(
        "metrics", metrics, dict, "a dict name -> metric, such as {'accuracy': metrics.accuracy}", allow_none=True
    )
    for name, metric in (metrics or {}).items():
        check_callable(f"metric {name!r}", metric, "a callable (outputs, targets) -> tensor")
    check_choice("schedule_interval", schedule_interval, INTERVALS)
    check_instance("schedule_metric", schedule_metric, str, "the name of a logged metric, such as 'valid_loss'")
    check_choice("amp", amp, tuple(AMP_DTYPES))
    check_number("grad_clip", grad_clip, 0, include_low=False, allow_none=True)
    check_number("divergence_factor", divergence_factor, 1, include_low=False, allow_none=True)
    check_int("accumulation_steps", accumulation_steps, 1)
    check_choice("train_metrics", train_metrics, (True, False))
    check_choice("progress", progress, (True, False))
    check_device(device)
    if isinstance(schedule, (LRScheduler, ReduceLROnPlateau)) and schedule.optimizer is not optimizer:
        raise ValueError("schedule must be built on the same optimizer that is passed to the Trainer")
    if schedule is not None and not isinstance(schedule, (LRScheduler, ReduceLROnPlateau)) and not callable(schedule):
        raise ValueError(f"schedule must be None, a step -> lr callable or a torch lr scheduler, got {schedule!r}")
    if isinstance(schedule, ReduceLROnPlateau) and schedule_interval != "epoch":
        raise ValueError("ReduceLROnPlateau needs schedule_interval='epoch' (it reads an epoch's metric)")
    if not isinstance(callbacks, (list, tuple)) or not all(isinstance(c, Callback) for c in callbacks):
        raise ValueError(
            f"callbacks must be a list of Callback instances, such as [EarlyStopping()], got {callbacks!r}"
        )


def check_device(device) -> None:
    allowed = "a name such as 'cpu' or 'cuda:0', or a torch.device (None: cuda, then mps, then cpu)"
    check_instance("device", device, (str, torch.device), allowed, allow_none=True)
    try:
        torch.device(device) if device is not None else None
    except RuntimeError:
        raise ValueError(f"device must be None or {allowed}, got {device!r}") from None


def check_fit(trainer, *, train_loader, valid_loader, num_epochs) -> None:
    """``fit``'s arguments, and whether the run can go on with them; nothing has changed when this raises."""
    check_int("num_epochs", num_epochs, 1)
    remaining = num_epochs - trainer.epoch
    for name, loader in (("train_loader", train_loader), ("valid_loader", valid_loader)):
        if loader is None and name == "valid_loader":
            continue
        check_loader(name, loader)
        if _length(loader) == 0:
            raise ValueError(f"{name} is empty: it holds no batches")
        if isinstance(loader, collections.abc.Iterator) and remaining > 1:
            raise ValueError(
                f"{name} is an iterator (a generator?), which can be read only once, but fit has {remaining} "
                "epochs to train; pass a list, a DeviceLoader or a DataLoader"
            )
    if isinstance(trainer.scheduler, ReduceLROnPlateau) and trainer.schedule_metric not in metric_names(
        trainer, valid_loader
    ):
        raise ValueError(
            f"schedule_metric={trainer.schedule_metric!r} is not logged by this run; "
            f"known metrics: {metric_names(trainer, valid_loader)}"
        )
    warmup = getattr(trainer.schedule, "warmup_steps", 0)
    length = _length(train_loader)
    if warmup and (trainer.schedule_interval == "epoch" or length is not None):
        per_epoch = -(-length // trainer.accumulation_steps) if trainer.schedule_interval == "step" else 1
        if warmup >= num_epochs * per_epoch:
            raise ValueError(
                f"the schedule's warmup_steps ({warmup}) must be shorter than the run "
                f"({num_epochs * per_epoch} {trainer.schedule_interval}s)"
            )
    trainer.state.position.check_can_go_on(train_loader, trainer.epoch + 1)


def check_loader(name: str, loader) -> None:
    """An iterable of batches: not a tensor, an array, a dict or a string (each iterable, each a mistake here)."""
    what = "an iterable of batches (a DeviceLoader, a DataLoader, a list of (inputs, targets))"
    if isinstance(loader, (torch.Tensor, np.ndarray)):
        raise ValueError(
            f"{name} must be {what}, got a tensor of shape {tuple(loader.shape)}; "
            "wrap tensors in loaders.DeviceLoader(X, y, batch_size)"
        )
    if isinstance(loader, (str, bytes, collections.abc.Mapping)) or not hasattr(loader, "__iter__"):
        raise ValueError(f"{name} must be {what}, got {loader!r}")


def metric_names(trainer, valid_loader) -> list[str]:
    """The per-epoch names the history will log: ``train_loss``, ``valid_accuracy``..."""
    train = ["loss", *trainer.metrics] if trainer.train_metrics else ["loss"]
    valid = ["loss", *trainer.metrics] if valid_loader is not None else []
    return [f"train_{m}" for m in train] + [f"valid_{m}" for m in valid]


@torch.no_grad()
def check_numbers(trainer, loss, outputs, targets, validation: bool = False) -> None:
    """On a fit's (or an evaluation's) first batch: the loss and every metric must be one number, not one per
    sample (they are summed weighted by the batch's size), and a tensor (they stay on the device)."""
    named = [
        (
            "valid_loss_fn"
            if validation and trainer.valid_loss_fn is not None
            else "loss_fn (the loss training_step returns)",
            loss,
        )
    ]
    if not validation and trainer.valid_loss_fn is not None:
        named.append(("valid_loss_fn", trainer.valid_loss_fn(outputs.detach(), targets)))
    named += [(f"metric {name!r}", metric(outputs.detach(), targets)) for name, metric in trainer.metrics.items()]
    for name, value in named:
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            got = (
                f"a tensor of shape {tuple(value.shape)}"
                if isinstance(value, torch.Tensor)
                else f"a {type(value).__name__}"
            )
            raise ValueError(
                f"{name} must return one number as a tensor (the batch's mean, such as "
                f"(outputs.argmax(1) == targets).float().mean()), got {got}"
            )


def _length(loader) -> int | None:
    try:
        return len(loader)
    except TypeError:  # no length: a generator, a DataLoader over an iterable dataset
        return None
