"""What a run did, as plain data: dicts of lists of floats, per step and per epoch.

A history is kept apart from any plot, so plots, the curve diagnosis and a saved run all read the
same thing, and ``History.from_dict(h.to_dict())`` gives it back after a round trip through JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .statuses import NOT_STARTED, STATUSES  # noqa: F401  (STATUSES: also reached as history.STATUSES)


@dataclass
class History:
    """``step["loss"][i]`` is the loss of the i-th update; ``epoch["valid_loss"][e]`` that of epoch e.

    ``status`` says how the run ended; ``diverged_at_step`` is the update where the loss turned NaN
    or exploded, else ``None``.
    """

    step: dict[str, list[float]] = field(default_factory=dict)
    epoch: dict[str, list[float]] = field(default_factory=dict)
    status: str = NOT_STARTED
    diverged_at_step: int | None = None
    message: str = ""

    def log_step(self, **values: float) -> None:
        for key, value in values.items():
            self.step.setdefault(key, []).append(value)

    def step_logger(self, *keys: str):
        """A function that appends its arguments to the step lists of ``keys``, in order: what a training loop
        calls at every update (the lists are found once here, not at each call).

        >>> history = History()
        >>> log = history.step_logger("step", "loss")
        >>> log(0, 2.3); log(1, 1.9)
        >>> history.step
        {'step': [0, 1], 'loss': [2.3, 1.9]}
        """
        appends = [self.step.setdefault(key, []).append for key in keys]

        def log(*values: float) -> None:
            for append, value in zip(appends, values):
                append(value)

        return log

    def log_epoch(self, **values: float) -> None:
        for key, value in values.items():
            self.epoch.setdefault(key, []).append(value)

    @property
    def num_epochs(self) -> int:
        return len(self.epoch.get("epoch", []))

    @property
    def num_steps(self) -> int:
        return len(self.step.get("loss", []))

    def best(self, key: str, mode: str = "min") -> tuple[int, float]:
        """(epoch number, value) of the best epoch by ``key``; ``mode`` is "min" for losses, "max" for accuracies."""
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        values = self.epoch_values(key)
        if not values:
            raise ValueError(f"no epoch has been logged for {key!r} yet")
        index = (min if mode == "min" else max)(range(len(values)), key=values.__getitem__)
        return int(self.epoch["epoch"][index]), values[index]

    def epoch_values(self, key: str) -> list[float]:
        if key not in self.epoch:
            raise ValueError(f"unknown epoch key {key!r}; known keys: {sorted(self.epoch)}")
        return self.epoch[key]

    def to_dict(self) -> dict:
        return {
            "step": {k: list(v) for k, v in self.step.items()},
            "epoch": {k: list(v) for k, v in self.epoch.items()},
            "status": self.status,
            "diverged_at_step": self.diverged_at_step,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: dict) -> History:
        return cls(
            step={k: list(v) for k, v in data["step"].items()},
            epoch={k: list(v) for k, v in data["epoch"].items()},
            status=data["status"],
            diverged_at_step=data["diverged_at_step"],
            message=data.get("message", ""),
        )

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.epoch.items() if v and k != "epoch"}
        return f"History(status={self.status!r}, epochs={self.num_epochs}, steps={self.num_steps}, last={last})"
