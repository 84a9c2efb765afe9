"""Everything about a training run but the loop that advances it: counters, status, hooks and saved state.

``Trainer`` (in ``trainer.py``) is the loop; it inherits this bookkeeping, so that the loop reads on
one screen. Here: where the run is (epoch, update, place in the epoch, the update being accumulated),
how its last fit ended (``history.status``, see :mod:`course_lib.training.statuses`), which callback hooks to
call, and ``state_dict`` / ``load_state_dict`` for checkpoints.
"""
from __future__ import annotations

import time

from torch.optim.lr_scheduler import ReduceLROnPlateau

from . import checkpoint, statuses
from .callbacks import active_hooks
from .epoch_position import EpochPosition
from .history import History
from .trainer_checks import check_fit

COUNTERS = ("epoch", "global_step", "elapsed", "first_loss")


class RunState:
    """The bookkeeping ``Trainer`` inherits."""

    def __init__(self, callbacks, group):
        self.callbacks, self.group = list(callbacks), group  # group: the update being accumulated
        self.history, self.position = History(), EpochPosition()
        self.epoch = 0          # epochs finished; fit(num_epochs=N) trains until epoch == N
        self.global_step = 0    # updates finished
        self.elapsed = 0.0      # seconds spent in fit, over every call and resume
        self.first_loss = None  # reference for the divergence rule
        self.should_stop, self.stop_reason = False, ""
        self.batch, self.last_loss, self.last_metrics = None, None, {}
        self.train_loader = self.valid_loader = self._bar = None
        self._totals = {}       # this epoch's sums of the loss and metrics, over its completed updates
        self.schedule_due = False  # an update's schedule step not taken yet (a checkpoint saved in on_batch_end)

    def request_stop(self, reason: str) -> None:
        """Ask the loop to stop after this epoch (what early stopping does)."""
        self.should_stop, self.stop_reason = True, reason

    def known_metrics(self) -> list[str]:
        train = ["loss", *self.metrics] if self.train_metrics else ["loss"]
        valid = ["loss", *self.metrics] if self.valid_loader is not None else []
        return [f"train_{m}" for m in train] + [f"valid_{m}" for m in valid]

    def check_metric_name(self, name: str, argument: str) -> None:
        if name not in self.known_metrics():
            raise ValueError(f"{argument}={name!r} is not logged by this run; known metrics: {self.known_metrics()}")

    def _start_fit(self, train_loader, valid_loader, num_epochs) -> None:
        check_fit(self, train_loader, valid_loader, num_epochs)
        self.train_loader, self.valid_loader = train_loader, valid_loader
        if isinstance(self.scheduler, ReduceLROnPlateau):
            self.check_metric_name(self.schedule_metric, "schedule_metric")
        if self.history.status == statuses.DIVERGED:  # the refused update is tried again now: forget its record
            for values in self.history.step.values():
                values.pop()
        self._set_status(statuses.RUNNING, "")
        self.history.diverged_at_step, self.should_stop, self.stop_reason = None, False, ""
        if self.schedule_due:  # the last fit ended (or its checkpoint was saved) before the schedule stepped
            self._step_schedule("step")
        self._hooks = active_hooks(self.callbacks)
        self._parameters = [p for p in self.model.parameters() if p.requires_grad]  # walked once per fit, not per update
        self._start = time.perf_counter() - self.elapsed
        self._call("on_fit_start")

    def _epochs(self, num_epochs: int):
        from tqdm.auto import tqdm  # imported when asked: tqdm.auto looks for a notebook

        self._bar = tqdm(range(self.epoch, num_epochs), desc="epochs", initial=self.epoch, total=num_epochs, disable=not self.progress)
        return self._bar

    def _end_fit(self, error: Exception | None) -> History:
        self.elapsed = time.perf_counter() - self._start
        if self.history.status == statuses.RUNNING:
            self._set_status(statuses.STOPPED_EARLY if self.should_stop else statuses.COMPLETED, self.stop_reason)
        if self.group.micro_batches:  # cut short in the middle of a group: its batches are dealt again next time
            self._discard_group()
        self._call("on_fit_end")
        if error is not None:
            raise error
        return self.history

    def _log_step(self) -> None:
        self.history.log_step(step=self.global_step, loss=self.last_loss, lr=self.optimizer.param_groups[0]["lr"],
                              time=time.perf_counter() - self._start)

    def _diverge(self, what: str) -> bool:
        """Log the refused update, end the run as diverged, forget the group; False for the loop."""
        self._log_step()
        self._set_status(statuses.DIVERGED, f"{what} at step {self.global_step}; the weights are those before that step")
        self.history.diverged_at_step = self.global_step
        self._discard_group()
        return False

    def _discard_group(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.group.clear()

    def _set_status(self, status: str, message: str) -> None:
        self.history.status, self.history.message = status, message

    def _call(self, hook: str) -> None:
        for function in self._hooks[hook]:
            function(self)

    def state_dict(self) -> dict:
        """Everything this trainer needs to go on exactly, as tensors and plain data (:mod:`course_lib.training.checkpoint`)."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "scaler": self.scaler.state_dict(), "callbacks": [callback.state_dict() for callback in self.callbacks],
                "classes": checkpoint.classes(self), "history": self.history.to_dict(),
                "counters": {name: getattr(self, name) for name in COUNTERS}, "schedule_due": self.schedule_due,
                "epoch_position": self.position.state_dict(self.train_loader), "epoch_totals": dict(self._totals)}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`; every part is checked against this trainer before anything changes."""
        checkpoint.check_fits(self, state)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        for callback, callback_state in zip(self.callbacks, state["callbacks"]):
            callback.load_state_dict(callback_state)
        self.history = History.from_dict(state["history"])
        for name in COUNTERS:
            setattr(self, name, state["counters"][name])
        self.schedule_due = state["schedule_due"]
        self.position.load_state_dict(state["epoch_position"])
        self._totals = dict(state["epoch_totals"])
        self.group.clear()

    def save_checkpoint(self, path) -> None:
        """Save everything needed to resume exactly, also part-way through an epoch: see :mod:`course_lib.training.checkpoint`."""
        checkpoint.save(self, path)

    def load_checkpoint(self, path) -> None:
        checkpoint.load(self, path)
