"""Early stopping: stop when the monitored number has not improved for ``patience`` epochs.

The decision is a pure method, :meth:`EarlyStopping.update`, so a notebook can feed it a list of
numbers without training anything; the callback hooks below only read the trainer's history, call
it, and keep a copy of the best weights.
"""

from __future__ import annotations

import math

from ..validate import check_choice, check_instance, check_int, check_number
from .callbacks import Callback
from .statuses import ENDED_NORMALLY


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without an improvement larger than ``min_delta``.

    Counting follows Keras and Lightning: with ``patience=2`` the run stops at the second epoch in a
    row that fails to improve.

    ``restore_best_weights`` (default ``True``) puts the best epoch's weights back whenever the run
    ends normally: when it stops early, and also when it reaches ``num_epochs`` first (as Keras 3
    does). Why by default: a learner who asks for early stopping wants the model of the best epoch,
    and a run that hits its cap a few epochs after its best is no reason to hand back a worse one
    (the hand-written tracker of notebook 07 restores in both cases too). A run that diverges, is
    interrupted or fails keeps its weights, as its message says. The last epoch's weights are kept
    (also in a checkpoint), and the next ``fit`` of the same trainer starts from them, so a run
    fitted in parts or resumed is still the run it would have been in one go.

    >>> stopper = EarlyStopping(patience=1)
    >>> [stopper.update(v)[0] for v in [1.0, 0.8, 0.9]]
    [False, False, True]
    """

    def __init__(
        self,
        monitor: str = "valid_loss",
        mode: str = "min",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best_weights: bool = True,
    ):
        check_instance("monitor", monitor, str, "the name of a logged metric, such as 'valid_loss'")
        check_choice("mode", mode, ("min", "max"))  # min for a loss, max for an accuracy
        check_int("patience", patience, 0)
        check_number("min_delta", min_delta, 0)
        check_choice("restore_best_weights", restore_best_weights, (True, False))
        self.monitor, self.mode, self.patience, self.min_delta = monitor, mode, patience, min_delta
        self.restore_best_weights = restore_best_weights
        self.reset()

    def reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0  # 1-based number of the best epoch so far; 0 before any
        self.epochs_seen = 0  # values given to update(), one per epoch
        self.wait = 0  # epochs in a row without improvement
        self.stopped = False
        self.best_state = None  # copy of the model's state_dict at best_epoch (callback use only)
        self.last_state = None  # the last epoch's weights while the best ones are restored in the model

    def is_improvement(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, value: float) -> tuple[bool, str]:
        """Take the next epoch's number; return (stop?, a sentence saying why)."""
        self.epochs_seen += 1
        if not math.isfinite(value):  # nan or inf: the run has diverged, waiting cannot help
            self.stopped = True
            return True, f"{self.monitor} is {value} at epoch {self.epochs_seen}"
        if self.is_improvement(value):
            self.best, self.best_epoch, self.wait = value, self.epochs_seen, 0
            return False, f"{self.monitor} improved to {value:.4g}"
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped = True
            return True, (
                f"{self.monitor} did not improve for {self.wait} epochs; "
                f"best {self.best:.4g} at epoch {self.best_epoch}"
            )
        return False, f"no improvement for {self.wait} of {self.patience} epochs"

    # --- callback: a thin wrapper over update() ---
    def on_fit_start(self, trainer) -> None:
        trainer.check_metric_name(self.monitor, "monitor")
        if self.last_state is not None:  # the run goes on from where it was, not from the restored best epoch
            trainer.model.load_state_dict(self.last_state)
            self.last_state = None

    def on_epoch_end(self, trainer) -> None:
        stop, reason = self.update(trainer.history.epoch[self.monitor][-1])
        if self.best_epoch == self.epochs_seen and self.restore_best_weights:
            self.best_state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
        if stop:
            trainer.request_stop(reason)

    def on_fit_end(self, trainer) -> None:
        if not (trainer.history.status in ENDED_NORMALLY and self.restore_best_weights and self.best_state is not None):
            return
        if self.best_epoch != self.epochs_seen:  # the last epoch was not the best: swap the best weights in
            self.last_state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
            trainer.model.load_state_dict(self.best_state)

    def config(self) -> dict:
        return {
            "monitor": self.monitor,
            "mode": self.mode,
            "patience": self.patience,
            "min_delta": self.min_delta,
            "restore_best_weights": self.restore_best_weights,
        }

    def state_dict(self) -> dict:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "epochs_seen": self.epochs_seen,
            "wait": self.wait,
            "stopped": self.stopped,
            "best_state": self.best_state,
            "last_state": self.last_state,
        }

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
