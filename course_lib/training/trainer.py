"""The training loop of the course, in one file: ``Trainer.fit`` and what one update does.

Read it top to bottom: ``fit`` runs epochs until ``num_epochs`` are complete; an epoch deals its
batches (``_train_epoch``), each batch is a forward and a backward pass (``_forward_backward``), every
``accumulation_steps`` of them make one optimizer update (``_update``), and the epoch ends validated
and logged (``_end_epoch``). Where the run is lives in ``self.state`` (:mod:`.run_state`), which is
what a checkpoint saves (:mod:`.checkpoint`). Early stopping, the lr finder and a learner's own
plots hang off the hooks in :data:`.callbacks.HOOKS`, called only for callbacks that define them.
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from typing import Callable

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, ReduceLROnPlateau

from ..device import pick_device
from ..metrics import add_batch, means
from . import checkpoint, statuses
from .callbacks import Callback, active_hooks
from .history import History
from .run_state import RunState, loader_shape
from .trainer_checks import AMP_DTYPES, check_arguments, check_fit, check_numbers, metric_names


class Diverged(Exception):
    """Raised inside the loop when a loss or a gradient is not usable: the update is not taken, the fit ends."""


class Trainer:
    """Train ``model`` with ``optimizer`` on ``loss_fn``; ``fit`` returns a :class:`History`.

    - ``schedule``: a ``step -> lr`` callable (driven through ``LambdaLR``), a ``torch.optim.lr_scheduler``
      built on ``optimizer``, or a ``ReduceLROnPlateau`` stepped after validation with the epoch's
      ``schedule_metric``; stepped after every update (``schedule_interval="step"``) or every epoch.
      ``self.scheduler`` is the torch scheduler that steps (``None`` without a schedule).
    - ``amp``: ``None`` (fp32), ``"fp16"`` (autocast + GradScaler) or ``"bf16"`` (autocast, no scaler).
    - ``metrics``: ``{"accuracy": metrics.accuracy}`` is logged on the validation set each epoch; with
      ``train_metrics=True`` also as a running mean over the training batches (costs a little per step).
    - ``divergence_factor``: a loss above this multiple of the first loss, a NaN loss or a NaN gradient
      ends the run as diverged, before the update (``statuses.diverged``).
    - ``valid_loss_fn``: the loss validation reports, ``(outputs, targets) -> tensor``. ``None`` reports the
      loss ``training_step`` returns (``loss_fn``). Give the plain loss when the training loss is shaped for
      the optimizer (``regularization.Flooding``, a penalty), so that ``valid_loss`` stays comparable.
    - ``accumulation_steps=k``: one optimizer update per ``k`` micro-batches (see :meth:`fit`).

    >>> from course_lib import models
    >>> from course_lib.data import datasets, loaders
    >>> X, y = datasets.make_moons(64)
    >>> model = models.MLP(2, 2)
    >>> trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), progress=False, device="cpu")
    >>> trainer.fit(loaders.DeviceLoader(X, y, batch_size=16), num_epochs=2).status
    'completed'
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable = nn.functional.cross_entropy,
        metrics: dict[str, Callable] | None = None,
        schedule=None,
        schedule_interval: str = "step",
        schedule_metric: str = "valid_loss",
        amp: str | None = None,
        grad_clip: float | None = None,
        callbacks: list[Callback] = (),
        device: torch.device | str | None = None,
        progress: bool = True,
        divergence_factor: float | None = 1e3,
        train_metrics: bool = False,
        valid_loss_fn: Callable | None = None,
        accumulation_steps: int = 1,
    ):
        check_arguments(
            model=model,
            optimizer=optimizer,
            loss_fn=loss_fn,
            metrics=metrics,
            schedule=schedule,
            schedule_interval=schedule_interval,
            schedule_metric=schedule_metric,
            amp=amp,
            grad_clip=grad_clip,
            callbacks=callbacks,
            device=device,
            progress=progress,
            divergence_factor=divergence_factor,
            train_metrics=train_metrics,
            valid_loss_fn=valid_loss_fn,
            accumulation_steps=accumulation_steps,
        )
        self.device = torch.device(device) if device is not None else pick_device()
        self._on_cpu = self.device.type == "cpu"
        self.model = model.to(self.device)
        self.optimizer, self.loss_fn, self.valid_loss_fn, self.metrics = (
            optimizer,
            loss_fn,
            valid_loss_fn,
            dict(metrics or {}),
        )
        self.schedule, self.schedule_interval, self.schedule_metric = schedule, schedule_interval, schedule_metric
        self.scheduler = as_scheduler(optimizer, schedule)
        self.amp, self.amp_dtype = amp, AMP_DTYPES[amp]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=amp == "fp16")
        self._scaling = self.scaler.is_enabled()  # asked once: the loop asks at every update
        self.grad_clip, self.divergence_factor, self.progress = grad_clip, divergence_factor, progress
        self.train_metrics, self.accumulation_steps = train_metrics, accumulation_steps
        self.callbacks = list(callbacks)
        self.state = RunState()
        self.batch = self.last_loss = self.train_loader = self.valid_loader = None
        self.last_metrics = {}
        self._valid_checked = False

    # The run's state, read as the trainer's own: callbacks and notebooks use these.
    @property
    def history(self) -> History:
        return self.state.history

    @property
    def epoch(self) -> int:
        """Epochs complete: trained, validated and logged."""
        return self.state.epoch

    @property
    def global_step(self) -> int:
        """Optimizer updates taken."""
        return self.state.global_step

    @property
    def elapsed(self) -> float:
        """Seconds spent in ``fit``, over every call and resume."""
        return self.state.elapsed

    def request_stop(self, reason: str) -> None:
        """End the fit after this epoch (what early stopping does); ``reason`` becomes the history's message."""
        self.state.stop_reason = reason

    def fit(self, train_loader, valid_loader=None, num_epochs: int = 1) -> History:
        """Train until ``num_epochs`` epochs are complete in all: a resumed trainer, or one whose last fit was
        cut short (Ctrl-C, divergence, an error), goes on with the batch where it stopped.

        Any exception ends the fit with ``history.status`` "failed" (Ctrl-C: "interrupted"), runs every
        ``on_fit_end``, keeps the history and is raised again. With ``accumulation_steps=k`` an update over ``k``
        micro-batches is the update of one big batch (each micro-batch's loss weighted by its share of the
        group's samples), and an update is what counts: a ``"step"`` schedule, ``global_step`` and
        ``history.step`` advance once per update (its loss: the mean over its samples); clipping, the
        GradScaler and ``on_after_backward`` see the group's whole gradient; ``on_batch_start`` runs before
        every micro-batch, ``on_batch_end`` after each update. A divergence in any micro-batch discards the
        group. An epoch's last group may be short; groups never span epochs.
        """
        check_fit(self, train_loader=train_loader, valid_loader=valid_loader, num_epochs=num_epochs)
        self._start_fit(train_loader, valid_loader, num_epochs)
        error = None
        try:
            self._call("on_fit_start")
            while self.state.epoch < num_epochs and not self.state.stop_reason:
                self._train_epoch(train_loader)
                self._end_epoch(valid_loader)
        except Diverged as diverged:
            self._set_status(
                statuses.DIVERGED,
                f"{diverged} at step {self.state.global_step}; the weights are those before that step",
            )
        except KeyboardInterrupt:
            self._set_status(statuses.INTERRUPTED, f"interrupted during epoch {self.state.epoch + 1}")
        except Exception as caught:  # recorded in the history; on_fit_end still runs, then it is raised again
            error = caught
            self._set_status(
                statuses.FAILED, f"{type(caught).__name__}: {caught} (during epoch {self.state.epoch + 1})"
            )
        return self._end_fit(error)

    def training_step(self, batch):
        """Forward pass of one batch: returns ``(loss, outputs)``. Override for other batch shapes.

        Validation calls it too (under ``torch.no_grad``), so one override changes both.
        """
        inputs, targets = batch
        outputs = self.model(inputs)
        return self.loss_fn(outputs, targets), outputs

    def _start_fit(self, train_loader, valid_loader, num_epochs) -> None:
        state = self.state
        self.train_loader, self.valid_loader = train_loader, valid_loader
        state.position.loader_shape = loader_shape(train_loader)
        if state.history.status == statuses.DIVERGED:  # the refused update is tried again now: forget its record
            for values in state.history.step.values():
                values.pop()
        self._set_status(statuses.RUNNING, "")
        state.history.diverged_at_step, state.stop_reason = None, ""
        position = state.position  # which generators a step draws from: asked again at this fit's first update
        position.keep_torch, position.keep_all = position.keep_torch or None, position.keep_all or None
        self._step_per_update = self.scheduler is not None and self.schedule_interval == "step"
        if state.updates_scheduled < state.global_step:  # a fit cut in on_batch_end, or a checkpoint saved there
            if self._step_per_update:
                self.scheduler.step()
            state.updates_scheduled = state.global_step
        self._hooks = active_hooks(self.callbacks)
        self._parameters = [p for p in self.model.parameters() if p.requires_grad]  # walked once per fit
        self._gradients = statuses.FiniteGradients(self._parameters)
        self._own_zero_grad = type(self.optimizer).zero_grad is not torch.optim.Optimizer.zero_grad
        self._log_update = state.history.step_logger("step", "loss", "lr", "time")
        self._numbers_checked = self._valid_checked = False  # each fit checks its first batches' numbers
        first = state.first_loss
        self._loss_limits = None if first is None else statuses.loss_limits(first, self.divergence_factor)
        self._start = time.perf_counter() - state.elapsed
        from tqdm.auto import tqdm  # imported when asked: tqdm.auto looks for a notebook

        self._bar = tqdm(desc="epochs", initial=state.epoch, total=num_epochs, disable=not self.progress)

    def _train_epoch(self, loader) -> None:
        """Train on the batches of this epoch not trained yet (all of them, unless a fit was cut short in it)."""
        state = self.state
        if not state.position.started:
            self._call("on_epoch_start")
        self.model.train()
        for self.batch in state.position.deal(loader):
            self._call("on_batch_start")
            self._forward_backward()
            if state.group.micro_batches == self.accumulation_steps:
                self._update()
        if state.group.micro_batches:  # the epoch's last group was short: update with what it has
            self._update()

    def _forward_backward(self) -> None:
        """One micro-batch: its loss, checked, and its share of the update's gradient."""
        group = self.state.group
        batch = self._to_device(self.batch)
        if self.amp_dtype is None:
            loss, outputs = self.training_step(batch)
        else:
            with self._autocast():
                loss, outputs = self.training_step(batch)
        if not self._numbers_checked:  # a metric that returns a vector would fail only after a whole epoch
            check_numbers(self, loss, outputs, batch[-1])
            self._numbers_checked = True
        self.last_loss = loss.item()
        if self._loss_limits is None:  # the run's first loss: the divergence rule's reference
            self.state.first_loss = self.last_loss
            self._loss_limits = statuses.loss_limits(self.last_loss, self.divergence_factor)
        low, high = self._loss_limits
        if not low <= self.last_loss <= high:  # statuses.diverged, with its limits computed once
            raise Diverged(statuses.describe_loss(self.last_loss, self.state.first_loss, self.divergence_factor))
        size = batch[-1].shape[0]
        if group.micro_batches == 0:
            self._clear_gradients()
            group.full_size = size * self.accumulation_steps
        if self.accumulation_steps > 1:  # weighted by its share of the group's samples (see fit)
            loss = loss * (size / group.full_size)
        (self.scaler.scale(loss) if self._scaling else loss).backward()
        group.micro_batches += 1
        group.samples += size
        group.loss += self.last_loss * size
        if self.train_metrics:  # a running mean over the training batches: one more pass of each metric
            for name, metric in self.metrics.items():
                group.metrics[name] = group.metrics.get(name, 0.0) + metric(outputs.detach(), batch[-1]).float() * size

    def _update(self) -> None:
        """One optimizer update from the group's gradient; then it counts, is logged and the schedule steps."""
        state, group = self.state, self.state.group
        if self._scaling:
            self.scaler.unscale_(self.optimizer)  # true gradients for the hooks and for clipping
        if group.samples != group.full_size:  # a short group: the mean over its samples
            torch._foreach_mul_(
                [p.grad for p in self._parameters if p.grad is not None], group.full_size / group.samples
            )
        self._call("on_after_backward")
        self._check_gradient()
        if self._scaling:
            self.scaler.step(self.optimizer)  # skips a step whose gradient is not finite, and lowers the scale
            self.scaler.update()
        else:
            self.optimizer.step()
        # the update is taken: count it
        if self.accumulation_steps > 1:
            self.last_loss = group.loss / group.samples
        state.count_update(group)
        state.position.update_done()
        self._log_update(
            state.global_step, self.last_loss, self.optimizer.param_groups[0]["lr"], time.perf_counter() - self._start
        )
        state.global_step += 1
        self._call("on_batch_end")  # sees the lr this update used: the schedule steps next
        if self._step_per_update:
            self.scheduler.step()
        state.updates_scheduled = state.global_step

    def _check_gradient(self) -> None:
        """Raise :class:`Diverged` if a gradient holds a NaN or an infinity, which a finite loss can hide (a
        square root at 0). Clipping computes the norm anyway; without it, one fused pass checks (under fp16 the
        scaler's own check does)."""
        if self.grad_clip is not None:
            finite = math.isfinite(nn.utils.clip_grad_norm_(self._parameters, self.grad_clip))
        else:
            finite = self._scaling or self._gradients.check()
        if not (finite or self._scaling):
            raise Diverged(f"the gradient became NaN or infinite (the loss was {self.last_loss:.4g})")

    def _end_epoch(self, valid_loader) -> None:
        """Validate, then count and log the epoch: only a complete epoch counts."""
        state = self.state
        if not state.epoch_sums:
            raise ValueError(
                f"train_loader yielded no batches in epoch {state.epoch + 1} (empty, or an iterator used up before)"
            )
        numbers = {f"train_{k}": v for k, v in means(state.epoch_sums).items()}
        if valid_loader is not None:
            numbers.update({f"valid_{k}": v for k, v in self.evaluate(valid_loader).items()})
        self.last_metrics = numbers
        self._call("on_validation_end")
        state.epoch += 1  # complete: nothing from here to the hooks can be cut halfway
        state.history.log_epoch(
            epoch=state.epoch, **numbers, lr=state.history.step["lr"][-1], time=time.perf_counter() - self._start
        )
        state.epoch_sums = {}
        state.position.reset()
        if self.scheduler is not None and self.schedule_interval == "epoch":
            plateau = isinstance(self.scheduler, ReduceLROnPlateau)
            self.scheduler.step(numbers[self.schedule_metric]) if plateau else self.scheduler.step()
        if self.progress:
            self._bar.update(1)
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in numbers.items()}, refresh=False)
        self._call("on_epoch_end")

    def _end_fit(self, error: Exception | None) -> History:
        state = self.state
        state.elapsed = time.perf_counter() - self._start
        self._bar.close()
        if state.history.status == statuses.RUNNING:
            self._set_status(statuses.STOPPED_EARLY if state.stop_reason else statuses.COMPLETED, state.stop_reason)
        if state.group.micro_batches or state.position.pending:  # cut inside an update: the next fit replays it
            self._clear_gradients()
            state.group.clear()
            state.position.hold()
        if state.history.status == statuses.DIVERGED:
            state.history.diverged_at_step = state.global_step
            state.history.log_step(
                step=state.global_step, loss=self.last_loss, lr=self.optimizer.param_groups[0]["lr"], time=state.elapsed
            )
        for hook in self._hooks["on_fit_end"]:  # every one runs; the first error is raised after them
            try:
                hook(self)
            except Exception as caught:
                if error is None:
                    error = caught
                    self._set_status(
                        statuses.FAILED,
                        f"{type(caught).__name__}: {caught} (during epoch {state.epoch + 1}, in on_fit_end)",
                    )
        if error is not None:
            raise error
        return state.history

    @torch.no_grad()
    def evaluate(self, loader) -> dict[str, float]:
        """Mean loss (``valid_loss_fn`` when given) and metrics over ``loader`` in eval mode (dropout off,
        batch-norm frozen); the model's mode is put back after, also after an error."""
        was_training, totals = self.model.training, {}
        self.model.eval()
        try:
            for batch in loader:
                batch = self._to_device(batch)
                with self._autocast():
                    loss, outputs = self.training_step(batch)
                    if self.valid_loss_fn is not None:
                        loss = self.valid_loss_fn(outputs, batch[-1])
                if not (totals or self._valid_checked):  # once per fit: a metric's call costs as much as the rest
                    check_numbers(self, loss, outputs, batch[-1], validation=True)
                    self._valid_checked = True
                add_batch(totals, loss.float(), outputs, batch[-1], self.metrics)
        finally:
            self.model.train(was_training)
        if not totals:
            raise ValueError(f"the validation loader yielded no batches: {loader!r}")
        return means(totals)

    def known_metrics(self) -> list[str]:
        """The names the history logs per epoch in this fit (``monitor`` and ``schedule_metric`` pick one)."""
        return metric_names(self, self.valid_loader)

    def check_metric_name(self, name: str, argument: str) -> None:
        if name not in self.known_metrics():
            raise ValueError(f"{argument}={name!r} is not logged by this run; known metrics: {self.known_metrics()}")

    def state_dict(self) -> dict:
        """Everything this trainer needs to go on exactly, as tensors and plain data (:mod:`.checkpoint`)."""
        return checkpoint.state_dict(self)

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`; its configuration is compared with this trainer's before anything changes."""
        checkpoint.load_state_dict(self, state)

    def save_checkpoint(self, path) -> None:
        """Save everything needed to resume exactly, also part-way through an epoch: see :mod:`.checkpoint`."""
        checkpoint.save(self, path)

    def load_checkpoint(self, path) -> None:
        checkpoint.load(self, path)

    def _set_status(self, status: str, message: str) -> None:
        self.state.history.status, self.state.history.message = status, message

    def _call(self, hook: str) -> None:
        for function in self._hooks[hook]:
            function(self)

    def _clear_gradients(self) -> None:
        """``optimizer.zero_grad(set_to_none=True)``: what it does, without the profiler label it wraps around the
        loop (7 us of a busy update's time, several times the loop's own). An optimizer class with its own
        ``zero_grad`` is asked instead."""
        if self._own_zero_grad:
            self.optimizer.zero_grad(set_to_none=True)
            return
        for group in self.optimizer.param_groups:  # walked each time: a callback may add a group
            for p in group["params"]:
                p.grad = None

    def _autocast(self):
        return nullcontext() if self.amp_dtype is None else torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _to_device(self, batch):
        if self._on_cpu and all([t.is_cpu for t in batch]):  # the usual case, asked cheaply
            return batch
        device = self.device
        return [t if t.device == device else t.to(device, non_blocking=True) for t in batch]


def as_scheduler(optimizer: torch.optim.Optimizer, schedule) -> LRScheduler | ReduceLROnPlateau | None:
    """What the Trainer steps: nothing, the torch scheduler it was given, or a ``step -> lr`` callable
    through :func:`as_lambda_lr`. One kind of thing to step, whatever the learner passed."""
    if schedule is None or isinstance(schedule, (LRScheduler, ReduceLROnPlateau)):
        return schedule
    return as_lambda_lr(optimizer, schedule)


def as_lambda_lr(optimizer: torch.optim.Optimizer, schedule: Callable[[int], float]) -> LambdaLR:
    """Drive ``optimizer`` with a ``step -> lr`` schedule through PyTorch's ``LambdaLR``.

    ``LambdaLR`` multiplies each group's initial lr by a factor; the factor here is
    ``schedule(step) / initial lr of the first group``, so the first group follows the schedule and every
    other group keeps its ratio to it (a head at 10x the body's lr stays at 10x).
    """
    if not callable(schedule):
        raise ValueError(f"schedule must be a step -> lr callable, got {schedule!r}")
    base = optimizer.param_groups[0].get("initial_lr", optimizer.param_groups[0]["lr"])
    return LambdaLR(optimizer, lambda step: schedule(step) / base)
