"""The Trainer's arguments, checked before any work: when it is built and when ``fit`` starts.

A wrong argument would otherwise fail late and far away: a string ``grad_clip`` at the first update,
a validation loader that is not iterable after a whole epoch of training, a generator that runs dry
in the second epoch. Each check names the argument, says what it accepts and shows what it got.
"""
from __future__ import annotations

import collections.abc

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from .callbacks import Callback
from ..validate import check_callable, check_choice, check_int, check_number

AMP_DTYPES = {None: None, "fp16": torch.float16, "bf16": torch.bfloat16}
INTERVALS = ("step", "epoch")


def check_arguments(model, optimizer, loss_fn, metrics, schedule, schedule_interval, amp, grad_clip, callbacks,
                    divergence_factor, valid_loss_fn, accumulation_steps) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    check_callable("loss_fn", loss_fn, "a callable (outputs, targets) -> loss tensor, such as nn.functional.cross_entropy")
    check_callable("valid_loss_fn", valid_loss_fn, "a callable (outputs, targets) -> loss tensor", allow_none=True)
    if metrics is not None and not isinstance(metrics, dict):
        raise ValueError(f"metrics must be None or a dict name -> metric, such as {{'accuracy': metrics.accuracy}}, got {metrics!r}")
    for name, metric in (metrics or {}).items():
        check_callable(f"metric {name!r}", metric, "a callable (outputs, targets) -> tensor")
    check_choice("schedule_interval", schedule_interval, INTERVALS)
    check_choice("amp", amp, tuple(AMP_DTYPES))
    check_number("grad_clip", grad_clip, 0, include_low=False, allow_none=True)
    check_number("divergence_factor", divergence_factor, 1, include_low=False, allow_none=True)
    check_int("accumulation_steps", accumulation_steps, 1)
    if isinstance(schedule, (LRScheduler, ReduceLROnPlateau)) and schedule.optimizer is not optimizer:
        raise ValueError("schedule must be built on the same optimizer that is passed to the Trainer")
    if schedule is not None and not isinstance(schedule, (LRScheduler, ReduceLROnPlateau)) and not callable(schedule):
        raise ValueError(f"schedule must be None, a step -> lr callable or a torch lr scheduler, got {schedule!r}")
    if isinstance(schedule, ReduceLROnPlateau) and schedule_interval != "epoch":
        raise ValueError("ReduceLROnPlateau needs schedule_interval='epoch' (it reads an epoch's metric)")
    if not isinstance(callbacks, (list, tuple)) or not all(isinstance(c, Callback) for c in callbacks):
        raise ValueError(f"callbacks must be a list of Callback instances, such as [EarlyStopping()], got {callbacks!r}")


def check_fit(trainer, train_loader, valid_loader, num_epochs) -> None:
    check_int("num_epochs", num_epochs, 1)
    remaining = num_epochs - trainer.epoch
    for name, loader in (("train_loader", train_loader), ("valid_loader", valid_loader)):
        if loader is None and name == "valid_loader":
            continue
        if isinstance(loader, (str, bytes)) or not hasattr(loader, "__iter__"):
            raise ValueError(f"{name} must be an iterable of batches (a DeviceLoader, a DataLoader, a list), got {loader!r}")
        if _length(loader) == 0:
            raise ValueError(f"{name} is empty: it holds no batches")
        if isinstance(loader, collections.abc.Iterator) and remaining > 1:
            raise ValueError(f"{name} is an iterator (a generator?), which can be read only once, but fit has {remaining} "
                             "epochs to train; pass a list, a DeviceLoader or a DataLoader")
    warmup = getattr(trainer.schedule, "warmup_steps", 0)
    length = _length(train_loader)
    if warmup and (trainer.schedule_interval == "epoch" or length is not None):
        per_epoch = -(-length // trainer.accumulation_steps) if trainer.schedule_interval == "step" else 1
        if warmup >= num_epochs * per_epoch:
            raise ValueError(f"the schedule's warmup_steps ({warmup}) must be shorter than the run "
                             f"({num_epochs * per_epoch} {trainer.schedule_interval}s)")


def _length(loader) -> int | None:
    try:
        return len(loader)
    except TypeError:  # no length: a generator, a DataLoader over an iterable dataset
        return None
