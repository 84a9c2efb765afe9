"""Callbacks: small objects the trainer calls at named moments of a run.

Every hook is a documented no-op here; a subclass overrides the ones it needs. A method that starts
with ``on_`` but names no hook (``on_epoch_ends``) is a typo that would silently never run, so
defining it raises at class creation.
"""

from __future__ import annotations

HOOKS = (
    "on_fit_start",  # before the first epoch of this fit call
    "on_epoch_start",  # before the first batch of an epoch
    "on_batch_start",  # before the forward pass; sees trainer.batch
    "on_after_backward",  # gradients are ready (and unscaled under fp16): inspect or clip them here
    "on_batch_end",  # after the optimizer step; trainer.last_loss and the lr are this update's (the schedule steps next)
    "on_validation_end",  # trainer.last_metrics holds this epoch's train and validation numbers; not counted yet
    "on_epoch_end",  # after the epoch is counted and logged; trainer.request_stop(reason) ends the fit here
    "on_fit_end",  # always runs, also after divergence, an interrupt or an error (history.status)
)


class Callback:
    """Base class. Override any hook in :data:`HOOKS`; each receives the trainer."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in vars(cls):
            if name.startswith("on_") and name not in HOOKS:
                raise ValueError(f"{cls.__name__}.{name} is not a hook; the hooks are {HOOKS}")

    def on_fit_start(self, trainer) -> None: ...
    def on_epoch_start(self, trainer) -> None: ...
    def on_batch_start(self, trainer) -> None: ...
    def on_after_backward(self, trainer) -> None: ...
    def on_batch_end(self, trainer) -> None: ...
    def on_validation_end(self, trainer) -> None: ...
    def on_epoch_end(self, trainer) -> None: ...
    def on_fit_end(self, trainer) -> None: ...

    def config(self) -> dict:
        """The settings a checkpoint must share with the callback that loads it (numbers, strings): a load
        compares them and refuses another configuration, such as early stopping on another metric."""
        return {}

    def state_dict(self) -> dict:
        """What a checkpoint must keep for this callback to resume exactly (tensors, numbers, strings)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda t: print(t.epoch))``."""

    def __init__(self, **hooks):
        for name, function in hooks.items():
            if name not in HOOKS:
                raise ValueError(f"unknown hook {name!r}; the hooks are {HOOKS}")
            if not callable(function):
                raise ValueError(f"{name} must be callable, got {function!r}")
            setattr(self, name, function)


def active_hooks(callbacks) -> dict[str, list]:
    """For each hook, the bound methods of the callbacks that really override it.

    The loop calls only these: a call to a no-op hook would cost time on every batch.
    """
    return {name: [getattr(c, name) for c in callbacks if _overrides(c, name)] for name in HOOKS}


def _overrides(callback: Callback, hook: str) -> bool:
    return hook in vars(callback) or getattr(type(callback), hook) is not getattr(Callback, hook)
