"""The training loop of the course: ``Trainer.fit`` reads top to bottom on one screen.

Everything else (early stopping, logging, plots) hangs off named hooks (see ``callbacks.HOOKS``).
One code path serves CPU, CUDA and MPS, in fp32 or mixed precision.
"""
from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Callable

import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

from ..lr import schedules
from . import statuses
from .accumulation import Accumulator
from .callbacks import Callback
from ..device import pick_device
from .history import History
from ..metrics import add_batch, means
from .run_state import RunState
from .trainer_checks import AMP_DTYPES, check_arguments


class Trainer(RunState):
    """Train ``model`` with ``optimizer`` on ``loss_fn``; ``fit`` returns a :class:`History`.

    - ``schedule``: a ``step -> lr`` callable (driven through ``LambdaLR``), a ``torch.optim.lr_scheduler``
      built on ``optimizer``, or a ``ReduceLROnPlateau`` stepped after validation with the epoch's
      ``schedule_metric``; stepped after every update (``schedule_interval="step"``) or every epoch.
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

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable = nn.functional.cross_entropy,
                 metrics: dict[str, Callable] | None = None, schedule=None, schedule_interval: str = "step",
                 schedule_metric: str = "valid_loss", amp: str | None = None, grad_clip: float | None = None,
                 callbacks: list[Callback] = (), device: torch.device | str | None = None, progress: bool = True,
                 divergence_factor: float | None = 1e3, train_metrics: bool = False, valid_loss_fn: Callable | None = None,
                 accumulation_steps: int = 1):
        check_arguments(model, optimizer, loss_fn, metrics, schedule, schedule_interval, amp, grad_clip, callbacks,
                         divergence_factor, valid_loss_fn, accumulation_steps)
        self.device = torch.device(device) if device is not None else pick_device()
        self.model = model.to(self.device)
        self.optimizer, self.loss_fn, self.valid_loss_fn, self.metrics = optimizer, loss_fn, valid_loss_fn, dict(metrics or {})
        self.schedule, self.schedule_interval, self.schedule_metric = schedule, schedule_interval, schedule_metric
        self.scheduler = schedules.as_scheduler(optimizer, schedule)  # the one thing stepped: None or a torch scheduler
        self.amp_dtype, self.scaler = AMP_DTYPES[amp], torch.amp.GradScaler(self.device.type, enabled=amp == "fp16")
        self.grad_clip, self.divergence_factor, self.progress = grad_clip, divergence_factor, progress
        self.train_metrics, self.accumulation_steps = train_metrics, accumulation_steps
        super().__init__(callbacks, Accumulator(accumulation_steps))

    def fit(self, train_loader, valid_loader=None, num_epochs: int = 1) -> History:
        """Train until ``num_epochs`` epochs are done in all: a resumed trainer, or one whose last fit was
        cut short (Ctrl-C, divergence, an error), goes on with the batch where it stopped.

        With ``accumulation_steps=k`` an update over ``k`` micro-batches is the update of one big batch
        (:mod:`course_lib.training.accumulation`), and an update is what counts: a ``"step"`` schedule,
        ``global_step`` and ``history.step`` advance once per update (its loss: the mean over its
        samples); clipping, the GradScaler and ``on_after_backward`` see the group's whole gradient;
        ``on_batch_end`` runs after each update, ``on_batch_start`` before every micro-batch. A divergence
        in any micro-batch discards the group. An epoch's last group may be short; groups never span epochs.
        """
        self._start_fit(train_loader, valid_loader, num_epochs)
        error = None
        try:
            for _ in self._epochs(num_epochs):
                if not self.position.started:
                    self._call("on_epoch_start")
                self.model.train()
                for self.batch in self.position.batches(train_loader):
                    self._call("on_batch_start")
                    if not self._train_step():  # False: the run diverged, the update was not taken
                        break
                if self.group.micro_batches:  # the epoch's last group was short: update with what it has
                    self._update()
                if self.history.status == statuses.DIVERGED:
                    break
                self._end_epoch(valid_loader)
                if self.should_stop:
                    break
        except KeyboardInterrupt:
            self._set_status(statuses.INTERRUPTED, f"interrupted during epoch {self.epoch + 1}")
        except Exception as caught:  # recorded in the history; on_fit_end still runs, then it is raised again
            error = caught
            self._set_status(statuses.FAILED, f"{type(caught).__name__}: {caught} (during epoch {self.epoch + 1})")
        return self._end_fit(error)

    def training_step(self, batch):
        """Forward pass of one batch: returns ``(loss, outputs)``. Override for other batch shapes.

        Validation calls it too (under ``torch.no_grad``), so one override changes both.
        """
        inputs, targets = batch
        outputs = self.model(inputs)
        return self.loss_fn(outputs, targets), outputs

    def _train_step(self) -> bool:
        """Forward and backward of one micro-batch; then the update, once the group is full."""
        batch = self._to_device(self.batch)
        with self._autocast():
            loss, outputs = self.training_step(batch)
        self.last_loss, samples = loss.item(), len(batch[-1])
        self.first_loss = self.last_loss if self.first_loss is None else self.first_loss
        if statuses.diverged(self.last_loss, self.first_loss, self.divergence_factor):
            return self._diverge(statuses.describe_loss(self.last_loss, self.first_loss, self.divergence_factor))
        if self.group.micro_batches == 0:
            self.optimizer.zero_grad(set_to_none=True)
        weight = self.group.weight(samples)
        self.scaler.scale(loss * weight if self.accumulation_steps > 1 else loss).backward()
        self.group.add(self.last_loss, outputs.detach(), batch[-1], self.metrics if self.train_metrics else {})
        return not self.group.full or self._update()

    def _update(self) -> bool:
        """One optimizer update from the group's gradient, logged as one step; False if the gradient is not finite."""
        if self.scaler.is_enabled():
            self.scaler.unscale_(self.optimizer)  # true gradients for the hooks and for clipping
        self.group.rescale_short_group(self._parameters)
        self._call("on_after_backward")
        norm = nn.utils.clip_grad_norm_(self._parameters, self.grad_clip) if self.grad_clip is not None else None
        if not self.scaler.is_enabled() and not statuses.gradient_is_finite(self._parameters, norm):
            return self._diverge(f"the gradient became NaN or infinite (the loss was {self.last_loss:.4g})")
        self.scaler.step(self.optimizer)  # under fp16 the scaler skips a step with an infinite gradient itself
        self.scaler.update()
        self.last_loss = self.group.mean_loss() if self.accumulation_steps > 1 else self.last_loss
        for name, value in self.group.sums.items():
            self._totals[name] = self._totals.get(name, 0) + value
        self.group.clear()
        self.position.update_done()
        self._log_step()
        self.global_step += 1
        self.schedule_due = True  # stepped after on_batch_end, which sees the lr this update used
        self._call("on_batch_end")
        self._step_schedule("step")
        return True

    def _end_epoch(self, valid_loader) -> None:
        if not self._totals:
            raise ValueError(f"train_loader yielded no batches in epoch {self.epoch + 1} (empty, or an iterator used up before)")
        self.epoch += 1
        numbers = {f"train_{k}": v for k, v in means(self._totals).items()}
        if valid_loader is not None:
            numbers.update({f"valid_{k}": v for k, v in self.evaluate(valid_loader).items()})
        self.last_metrics, self._totals = numbers, {}
        self.position.reset()
        self._call("on_validation_end")
        self._step_schedule("epoch")
        self.history.log_epoch(epoch=self.epoch, **numbers, lr=self.history.step["lr"][-1], time=time.perf_counter() - self._start)
        self._call("on_epoch_end")
        self._bar.set_postfix({k: f"{v:.4g}" for k, v in numbers.items()}, refresh=False)

    @torch.no_grad()
    def evaluate(self, loader) -> dict[str, float]:
        """Mean loss (``valid_loss_fn`` when given) and metrics over ``loader`` in eval mode (dropout off, batch-norm frozen)."""
        was_training = self.model.training
        self.model.eval()
        totals = {}
        for batch in loader:
            batch = self._to_device(batch)
            with self._autocast():
                loss, outputs = self.training_step(batch)
                if self.valid_loss_fn is not None:
                    loss = self.valid_loss_fn(outputs, batch[-1])
            add_batch(totals, loss.float(), outputs, batch[-1], self.metrics)
        self.model.train(was_training)
        if not totals:
            raise ValueError(f"the validation loader yielded no batches: {loader!r}")
        return means(totals)

    def _step_schedule(self, interval: str) -> None:
        if interval == "step":
            self.schedule_due = False
        if self.scheduler is None or interval != self.schedule_interval:
            return
        if isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step(self.last_metrics[self.schedule_metric])
        else:
            self.scheduler.step()

    def _autocast(self):
        return nullcontext() if self.amp_dtype is None else torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _to_device(self, batch):
        return [t.to(self.device, non_blocking=True) for t in batch]
