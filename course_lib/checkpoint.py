"""Checkpoints that resume exactly and load with ``torch.load(weights_only=True)``.

Exact resumption needs more than the weights: the optimizer's moments, the scheduler's position, the
fp16 loss scale, the callbacks' counters (early stopping's patience), the step counters, and every
random generator (dropout, shuffling). Everything is stored as tensors, numbers, strings, lists and
dicts, so loading never has to run pickled code.
"""
from __future__ import annotations

import torch

from . import random_state

FORMAT = 1


def save(trainer, path) -> None:
    schedule = trainer.schedule
    torch.save({
        "format": FORMAT,
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": schedule.state_dict() if hasattr(schedule, "state_dict") else None,
        "scaler": trainer.scaler.state_dict(),
        "callbacks": [callback.state_dict() for callback in trainer.callbacks],
        "counters": {"epoch": trainer.epoch, "global_step": trainer.global_step,
                     "elapsed": trainer.elapsed, "first_loss": trainer.first_loss},
        "history": trainer.history.to_dict(),
        "rng": random_state.capture(trainer.train_loader),
    }, path)


def load(trainer, path) -> None:
    """Restore ``trainer`` (built like the one that saved) to the moment of the save."""
    from .history import History

    state = torch.load(path, map_location="cpu", weights_only=True)  # load_state_dict copies onto the device
    if state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a course_lib checkpoint of format {FORMAT}")
    if len(state["callbacks"]) != len(trainer.callbacks):
        raise ValueError(f"the checkpoint has {len(state['callbacks'])} callbacks' state, the trainer has {len(trainer.callbacks)} callbacks")
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    if state["scheduler"] is not None:
        trainer.schedule.load_state_dict(state["scheduler"])
    if state["scaler"]:
        trainer.scaler.load_state_dict(state["scaler"])
    for callback, callback_state in zip(trainer.callbacks, state["callbacks"]):
        callback.load_state_dict(callback_state)
    counters = state["counters"]
    trainer.epoch, trainer.global_step = counters["epoch"], counters["global_step"]
    trainer.elapsed, trainer.first_loss = counters["elapsed"], counters["first_loss"]
    trainer.history = History.from_dict(state["history"])
    random_state.restore(state["rng"])
    trainer._pending_loader_state = state["rng"].get("loader")  # applied to the loader passed to the next fit
