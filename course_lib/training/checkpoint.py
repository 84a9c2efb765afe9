"""Checkpoints that resume exactly and load with ``torch.load(weights_only=True)``.

Exact resumption needs more than the weights: the optimizer's moments, the scheduler's position, the
fp16 loss scale, the callbacks' counters (early stopping's patience), the step counters, the place in
the epoch, and every random generator (dropout, shuffling). ``Trainer.state_dict`` gives all but the
generators, which :mod:`random_state` adds. Everything is stored as tensors, numbers, strings, lists
and dicts, so loading never runs pickled code: a file holding anything else is refused.

A save writes a temporary file next to the target and renames it into place, so a save that fails
(a state that cannot be written, Ctrl-C, a full disk) leaves the previous checkpoint whole. A load
checks that the checkpoint fits the trainer (model keys and shapes, optimizer class and parameter
groups, schedule, loss scaler, callbacks) before it changes anything.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from . import random_state

FORMAT = 2


def save(trainer, path) -> None:
    path = Path(path)
    state = {"format": FORMAT, **trainer.state_dict(), "rng": random_state.capture(trainer.train_loader)}
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
        trainer.load_state_dict(state)
    except ValueError as error:
        raise ValueError(f"{path} does not fit this trainer: {error}") from None
    random_state.restore(state["rng"])  # the loader's own generator: at the next fit (Trainer.position)


def read(path) -> dict:
    """The checkpoint's contents; a ValueError naming the file if it is not a readable course_lib checkpoint."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # load_state_dict copies onto the device
    except FileNotFoundError:
        raise
    except Exception as error:  # truncated, corrupted, not a checkpoint, or holding more than plain data
        raise ValueError(f"{path} is not a readable course_lib checkpoint ({type(error).__name__}: it is truncated, "
                         "corrupted, not a checkpoint, or holds objects other than tensors and plain data, which are "
                         "never unpickled)") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path} is not a course_lib checkpoint of format {FORMAT} (found format {found!r})")
    return state


def classes(trainer) -> dict:
    """The kinds of the trainer's parts, stored so that a load can tell a checkpoint of another setup."""
    return {"optimizer": type(trainer.optimizer).__name__,
            "scheduler": type(trainer.scheduler).__name__ if trainer.scheduler is not None else None,
            "callbacks": [type(callback).__name__ for callback in trainer.callbacks]}


def check_fits(trainer, state: dict) -> None:
    """Raise one ValueError listing every way ``state`` does not fit ``trainer``; change nothing."""
    problems = []
    mine, theirs = trainer.model.state_dict(), state["model"]
    missing, extra = sorted(set(mine) - set(theirs)), sorted(set(theirs) - set(mine))
    if missing or extra:
        problems.append(f"model weights missing from it: {missing[:5]}, weights the model lacks: {extra[:5]}")
    shapes = [f"{k} {tuple(theirs[k].shape)} vs {tuple(v.shape)}" for k, v in mine.items() if k in theirs and theirs[k].shape != v.shape]
    if shapes:
        problems.append(f"weight shapes differ (checkpoint vs model): {', '.join(shapes[:5])}")
    saved, now = state["classes"], classes(trainer)
    for part in ("optimizer", "scheduler", "callbacks"):
        if saved[part] != now[part]:
            problems.append(f"{part}: the checkpoint has {saved[part]!r}, the trainer {now[part]!r}")
    groups = [len(group["params"]) for group in state["optimizer"]["param_groups"]]
    if groups != [len(group["params"]) for group in trainer.optimizer.param_groups]:
        problems.append(f"optimizer parameter groups of sizes {groups}, the trainer's are "
                        f"{[len(group['params']) for group in trainer.optimizer.param_groups]}")
    if bool(state["scaler"]) != trainer.scaler.is_enabled():
        problems.append(f"the checkpoint was saved {'with' if state['scaler'] else 'without'} amp='fp16' (a loss scaler), "
                        f"the trainer runs {'with' if trainer.scaler.is_enabled() else 'without'} one")
    if problems:
        raise ValueError("; ".join(problems))
