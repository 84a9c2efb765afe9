"""Checkpoints that resume exactly, or are refused, and load with ``torch.load(weights_only=True)``.

Exact resumption needs more than the weights: the optimizer's moments, the scheduler's position, the
fp16 loss scale, the callbacks' counters (early stopping's patience), and the run's state
(:mod:`.run_state`: counters, history, place in the epoch, every random generator). Everything is
stored as tensors, numbers, strings, lists and dicts, so loading never runs pickled code: a file
holding anything else is refused.

A checkpoint also records the configuration of every part: the trainer's own settings (amp,
accumulation, clipping, the schedule, the losses), the optimizer's hyperparameters, the scheduler's
settings and each callback's (``Callback.config``: early stopping's monitor, mode, patience...). A load
compares them with the trainer's, and the model's weight names and shapes, and refuses a checkpoint
that differs in any, listing every difference, before it changes anything: an ``EarlyStopping`` that
monitors accuracy must not take over a "best" that is a loss. To go on differently on purpose, load
only the weights: ``model.load_state_dict(checkpoint.read(path)["model"])``.

A save writes a temporary file next to the target and renames it into place, so a save that fails
(a state that cannot be written, Ctrl-C, a full disk) leaves the previous checkpoint whole.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import torch
from torch import nn

from . import random_state

FORMAT = 3
IMPLEMENTATION = {"foreach", "fused", "capturable", "differentiable"}  # how an optimizer computes, not what
PROGRESS = {
    "last_epoch",
    "_step_count",
    "_last_lr",
    "_get_lr_called_within_step",
    "_is_initial",
    "verbose",
    "best",
    "num_bad_epochs",
    "cooldown_counter",
}  # a scheduler's position, not its settings


def save(trainer, path) -> None:
    path = Path(path)
    state = {"format": FORMAT, **state_dict(trainer), "rng": random_state.capture(trainer.train_loader)}
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        torch.save(state, temporary)
        os.replace(temporary, path)  # atomic: the old file stays whole until the new one is complete
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def load(trainer, path) -> None:
    """Restore ``trainer`` (built like the one that saved) to the moment of the save."""
    state = read(path)
    try:
        load_state_dict(trainer, state)
    except ValueError as error:
        raise ValueError(f"{path} does not fit this trainer: {error}") from None
    random_state.restore(state["rng"])  # the loader's own generator: at the next fit (run_state.EpochPosition)


def read(path) -> dict:
    """The checkpoint's contents; a ValueError naming the file if it is not a readable course_lib checkpoint."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # load_state_dict copies onto the device
    except FileNotFoundError:
        raise
    except Exception as error:  # truncated, corrupted, not a checkpoint, or holding more than plain data
        raise ValueError(
            f"{path} is not a readable course_lib checkpoint ({type(error).__name__}: it is truncated, "
            "corrupted, not a checkpoint, or holds objects other than tensors and plain data, which are "
            "never unpickled)"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path} is not a course_lib checkpoint of format {FORMAT} (found format {found!r})")
    return state


def state_dict(trainer) -> dict:
    return {
        "configuration": configuration(trainer),
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict() if trainer.scheduler is not None else None,
        "scaler": trainer.scaler.state_dict(),
        "callbacks": [callback.state_dict() for callback in trainer.callbacks],
        **trainer.state.state_dict(trainer.train_loader),
    }


def load_state_dict(trainer, state: dict) -> None:
    check_fits(trainer, state)
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.scheduler is not None:
        trainer.scheduler.load_state_dict(state["scheduler"])
    if state["scaler"]:
        trainer.scaler.load_state_dict(state["scaler"])
    for callback, callback_state in zip(trainer.callbacks, state["callbacks"]):
        callback.load_state_dict(callback_state)
    trainer.state.load_state_dict(state)


def configuration(trainer) -> dict:
    """Every part's settings, as plain data: what a checkpoint must share with the trainer that loads it."""
    optimizer, scheduler = trainer.optimizer, trainer.scheduler
    return {
        "trainer": {
            "class": type(trainer).__qualname__,
            "loss_fn": describe(trainer.loss_fn),
            "valid_loss_fn": describe(trainer.valid_loss_fn),
            "metrics": sorted(trainer.metrics),
            "train_metrics": trainer.train_metrics,
            "amp": trainer.amp,
            "grad_clip": trainer.grad_clip,
            "accumulation_steps": trainer.accumulation_steps,
            "divergence_factor": trainer.divergence_factor,
            "schedule": None if trainer.schedule is scheduler else describe(trainer.schedule),
            "schedule_interval": trainer.schedule_interval,
            "schedule_metric": trainer.schedule_metric,
        },
        "optimizer": {
            "class": type(optimizer).__name__,
            "parameters per group": [len(g["params"]) for g in optimizer.param_groups],
            **{k: plain(v) for k, v in optimizer.defaults.items() if k not in IMPLEMENTATION},
            "groups": [
                {k: plain(v) for k, v in group.items() if k not in IMPLEMENTATION | {"params", "lr"}}
                for group in optimizer.param_groups
            ],
        },
        "scheduler": None
        if scheduler is None
        else {"class": type(scheduler).__name__, **_settings(scheduler.state_dict())},
        "callbacks": [{"class": type(callback).__name__, **callback.config()} for callback in trainer.callbacks],
    }


def check_fits(trainer, state: dict) -> None:
    """Raise one ValueError listing every way ``state`` does not fit ``trainer``; change nothing."""
    problems = []
    mine, theirs = trainer.model.state_dict(), state["model"]
    missing, extra = sorted(set(mine) - set(theirs)), sorted(set(theirs) - set(mine))
    if missing or extra:
        problems.append(f"model weights missing from it: {missing[:5]}, weights the model lacks: {extra[:5]}")
    shapes = [
        f"{k} {tuple(theirs[k].shape)} vs {tuple(v.shape)}"
        for k, v in mine.items()
        if k in theirs and theirs[k].shape != v.shape
    ]
    if shapes:
        problems.append(f"weight shapes differ (checkpoint vs model): {', '.join(shapes[:5])}")
    problems += differences(state["configuration"], configuration(trainer))
    if problems:
        raise ValueError("; ".join(problems))


def differences(saved, now, path: str = "") -> list[str]:
    """Where two configurations differ, as ``"part.setting: X in the checkpoint, Y in this trainer"``.

    A setting only one side has is skipped (another torch version may add one); a part present on one side
    only, or lists of another length (callbacks), are one difference."""
    if isinstance(saved, dict) and isinstance(now, dict):
        return [d for key in saved if key in now for d in differences(saved[key], now[key], f"{path}.{key}".strip("."))]
    if isinstance(saved, list) and isinstance(now, list) and len(saved) == len(now):
        names = _names(now)
        if _names(saved) != names:
            return [f"{path}: {_short(saved)} in the checkpoint, {_short(now)} in this trainer"]
        return [d for name, a, b in zip(names, saved, now) for d in differences(a, b, f"{path}[{name}]")]
    if saved == now:
        return []
    return [f"{path}: {_short(saved)} in the checkpoint, {_short(now)} in this trainer"]


def describe(thing) -> str | None:
    """A function or setting as a string that two runs of the same code agree on (no memory addresses)."""
    if thing is None:
        return None
    if dataclasses.is_dataclass(thing) or isinstance(thing, nn.Module):
        text = repr(thing)
    else:
        text = f"{getattr(thing, '__module__', '')}.{getattr(thing, '__qualname__', type(thing).__qualname__)}"
    return re.sub(r" at 0x[0-9a-fA-F]+", "", text)


def plain(value):
    """Settings as numbers, strings and lists, comparable with ``==`` after a round trip through a file."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return describe(value)


def _settings(scheduler_state: dict) -> dict:
    """A torch scheduler's settings: its state without its position (nested schedulers too)."""
    return {
        k: [_settings(s) for s in v] if k == "_schedulers" else plain(v)
        for k, v in scheduler_state.items()
        if k not in PROGRESS
    }


def _names(values: list) -> list:
    """A list's items by their class where they have one (callbacks), else by their index."""
    return [v["class"] if isinstance(v, dict) and "class" in v else i for i, v in enumerate(values)]


def _short(value) -> str:
    if isinstance(value, dict) and "class" in value:
        return value["class"]
    if isinstance(value, list) and value and all(isinstance(v, dict) and "class" in v for v in value):
        return repr([v["class"] for v in value])
    return repr(value)
