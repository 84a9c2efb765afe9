"""The training loop of the course: ``Trainer.fit`` reads top to bottom on one screen.

Everything else (early stopping, logging, plots) hangs off named hooks (see ``callbacks.HOOKS``).
One code path serves CPU, CUDA and MPS, in fp32 or mixed precision.
"""
from __future__ import annotations

import math
import time
from contextlib import nullcontext
from typing import Callable

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from . import checkpoint, statuses
from .callbacks import HOOKS, Callback
from .device import pick_device
from .history import History

AMP_DTYPES = {None: None, "fp16": torch.float16, "bf16": torch.bfloat16}
INTERVALS = ("step", "epoch")


class Trainer:
    """Train ``model`` with ``optimizer`` on ``loss_fn``; ``fit`` returns a :class:`History`.

    - ``schedule``: a ``step -> lr`` callable, a ``torch.optim.lr_scheduler`` built on ``optimizer``,
      or a ``ReduceLROnPlateau`` stepped with the epoch's ``schedule_metric``; stepped every update
      (``schedule_interval="step"``) or every epoch.
    - ``amp``: ``None`` (fp32), ``"fp16"`` (autocast + GradScaler) or ``"bf16"`` (autocast, no scaler).
    - ``metrics``: ``{"accuracy": metrics.accuracy}`` is logged on the validation set each epoch; with
      ``train_metrics=True`` also as a running mean over the training batches (costs a little per step).
    - ``divergence_factor``: a loss above this multiple of the first loss (or NaN) ends the run as diverged.
    - ``valid_loss_fn``: the loss validation reports, ``(outputs, targets) -> tensor``. ``None`` (the
      default) reports the loss ``training_step`` returns, i.e. ``loss_fn``. Give the plain loss when the
      training loss is shaped for the optimizer (``regularization.Flooding``, a penalty term), so that
      ``valid_loss`` stays comparable between runs.
    - ``accumulation_steps=k``: gradient accumulation, one optimizer update per ``k`` micro-batches (see
      :meth:`fit`), so a batch ``k`` times larger than memory allows trains as one update.

    >>> from course_lib import datasets, loaders, models
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
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if schedule_interval not in INTERVALS:
            raise ValueError(f"schedule_interval must be one of {INTERVALS}, got {schedule_interval!r}")
        if amp not in AMP_DTYPES:
            raise ValueError(f"amp must be one of {tuple(AMP_DTYPES)}, got {amp!r}")
        if grad_clip is not None and not grad_clip > 0:
            raise ValueError(f"grad_clip must be None or a number > 0, got {grad_clip!r}")
        if divergence_factor is not None and not divergence_factor > 1:
            raise ValueError(f"divergence_factor must be None or a number > 1, got {divergence_factor!r}")
        if isinstance(schedule, (LRScheduler, ReduceLROnPlateau)) and schedule.optimizer is not optimizer:
            raise ValueError("schedule must be built on the same optimizer that is passed to the Trainer")
        if schedule is not None and not isinstance(schedule, (LRScheduler, ReduceLROnPlateau)) and not callable(schedule):
            raise ValueError(f"schedule must be None, a step -> lr callable or a torch lr scheduler, got {schedule!r}")
        if isinstance(schedule, ReduceLROnPlateau) and schedule_interval != "epoch":
            raise ValueError("ReduceLROnPlateau needs schedule_interval='epoch' (it reads an epoch's metric)")
        if not isinstance(accumulation_steps, int) or isinstance(accumulation_steps, bool) or accumulation_steps < 1:
            raise ValueError(f"accumulation_steps must be an int >= 1, got {accumulation_steps!r}")
        if valid_loss_fn is not None and not callable(valid_loss_fn):
            raise ValueError(f"valid_loss_fn must be None or a callable (outputs, targets) -> tensor, got {valid_loss_fn!r}")
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise ValueError(f"callbacks must be Callback instances, got {type(callback).__name__}")
        for name, metric in (metrics or {}).items():
            if not callable(metric):
                raise ValueError(f"metric {name!r} must be a callable (outputs, targets) -> tensor")
        self.device = torch.device(device) if device is not None else pick_device()
        self.model = model.to(self.device)
        self.optimizer, self.loss_fn, self.metrics = optimizer, loss_fn, dict(metrics or {})
        self.valid_loss_fn = valid_loss_fn
        self.schedule, self.schedule_interval, self.schedule_metric = schedule, schedule_interval, schedule_metric
        self.amp_dtype = AMP_DTYPES[amp]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=amp == "fp16")
        self.grad_clip, self.divergence_factor, self.progress = grad_clip, divergence_factor, progress
        self.train_metrics, self.accumulation_steps = train_metrics, accumulation_steps
        self.callbacks = list(callbacks)
        for group in optimizer.param_groups:  # remember each group's lr, so a schedule keeps their ratios
            group.setdefault("initial_lr", group["lr"])
        self.history = History()
        self.epoch = 0          # epochs finished; fit(num_epochs=N) trains until epoch == N
        self.global_step = 0    # updates finished
        self.elapsed = 0.0      # seconds spent in fit, over every call and resume
        self.first_loss = None  # reference for the divergence check
        self.should_stop, self.stop_reason = False, ""
        self.batch, self.last_loss, self.last_metrics = None, None, {}
        self._pending_loader_state = None
        self._micro_batches, self._group_samples, self._group_loss = 0, 0, 0.0  # the update being accumulated
        self.train_loader = self.valid_loader = self._bar = None

    # ------------------------------------------------------------------ the loop
    def fit(self, train_loader, valid_loader=None, num_epochs: int = 1) -> History:
        """Train until ``num_epochs`` epochs are done in all (a resumed trainer finishes the same run).

        With ``accumulation_steps=k`` each micro-batch's loss is scaled by its share of the group's
        samples before ``backward``, so an update over ``k`` micro-batches of ``b`` samples follows the
        gradient of the mean loss over all ``k*b`` samples: one update over the big batch (for a loss
        that is a mean over samples; a flooded loss is not). An update is what counts everywhere: a
        ``"step"`` schedule and ``global_step`` advance once per update, ``history.step`` logs one entry
        per update (the mean loss over its samples), ``grad_clip``, GradScaler (one loss scale per
        group) and ``on_after_backward`` see the group's whole gradient, and ``on_batch_end`` runs after
        each update, while ``on_batch_start`` runs before every micro-batch. A loss that diverges in
        any micro-batch discards the group's update. An epoch whose batches do not fill the last group
        ends with an update over the micro-batches it has (the mean over their samples, as a short last
        batch is); groups never span epochs.
        """
        self.train_loader, self.valid_loader = train_loader, valid_loader
        self._check_fit(num_epochs)
        self.should_stop, self.history.status = False, statuses.RUNNING
        # only the hooks a callback really overrides are called: no-op calls would cost time every batch
        self._hooks = {name: [getattr(c, name) for c in self.callbacks if _overrides(c, name)] for name in HOOKS}
        self._start = start = time.perf_counter() - self.elapsed
        self._call("on_fit_start")
        try:
            for _ in self._epochs(num_epochs):
                self._call("on_epoch_start")
                self.model.train()
                self._set_scheduled_lr(self.epoch, "epoch")
                totals = self._new_totals()
                for self.batch in train_loader:
                    self._call("on_batch_start")
                    self._set_scheduled_lr(self.global_step, "step")
                    if not self._backward(totals):  # False: the loss diverged, the update is skipped
                        break
                    if self._micro_batches == self.accumulation_steps:
                        self._update(start)
                if self.history.status == statuses.DIVERGED:
                    break
                if self._micro_batches:  # the epoch's last group was short: update with what it has
                    self._update(start)
                self._end_epoch(totals, valid_loader, time.perf_counter() - start)
                if self.should_stop:
                    break
        except KeyboardInterrupt:
            self.history.status, self.history.message = statuses.INTERRUPTED, f"interrupted during epoch {self.epoch + 1}"
        self.elapsed = time.perf_counter() - start
        if self.history.status == statuses.RUNNING:
            self.history.status = statuses.STOPPED_EARLY if self.should_stop else statuses.COMPLETED
            self.history.message = self.stop_reason
        self._call("on_fit_end")
        return self.history

    def training_step(self, batch):
        """Forward pass of one batch: returns ``(loss, outputs)``. Override for other batch shapes.

        Validation calls it too (under ``torch.no_grad``), so one override changes both.
        """
        inputs, targets = batch
        outputs = self.model(inputs)
        return self.loss_fn(outputs, targets), outputs

    def _backward(self, totals) -> bool:
        """Forward and backward of one micro-batch, its gradient added to the group's."""
        batch = self._to_device(self.batch)
        with self._autocast():
            loss, outputs = self.training_step(batch)
        value, samples = loss.item(), len(batch[-1])
        if self._is_diverged(value):
            self.last_loss = value
            self._micro_batches, self._group_samples, self._group_loss = 0, 0, 0.0
            self.optimizer.zero_grad(set_to_none=True)  # the group's partial gradient is discarded
            return False
        if self._micro_batches == 0:
            self.optimizer.zero_grad(set_to_none=True)
            self._group_size = samples * self.accumulation_steps  # the samples a full group of such batches holds
        if self.accumulation_steps > 1:  # each micro-batch weighs by its share of the group's samples
            loss = loss * (samples / self._group_size)
        self.scaler.scale(loss).backward()
        self._micro_batches, self._group_samples = self._micro_batches + 1, self._group_samples + samples
        self._group_loss = self._group_loss + value * samples if self.accumulation_steps > 1 else value
        self._accumulate(totals, value, outputs.detach(), batch[-1], self.train_metrics)
        return True

    def _update(self, start: float) -> None:
        """One optimizer update from the accumulated gradient, logged as one step."""
        if self.scaler.is_enabled():
            self.scaler.unscale_(self.optimizer)  # true gradients for the hooks and for clipping
        if self._group_samples != self._group_size:  # a short group: make it the mean over the samples it has
            for parameter in self.model.parameters():
                if parameter.grad is not None:
                    parameter.grad.mul_(self._group_size / self._group_samples)
        self._call("on_after_backward")
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.last_loss = self._group_loss / self._group_samples if self.accumulation_steps > 1 else self._group_loss
        self._micro_batches, self._group_samples, self._group_loss = 0, 0, 0.0
        self.history.log_step(step=self.global_step, loss=self.last_loss, lr=self.optimizer.param_groups[0]["lr"],
                              time=time.perf_counter() - start)
        self.global_step += 1
        self._step_torch_scheduler("step")
        self._call("on_batch_end")

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self, loader) -> dict[str, float]:
        """Mean loss (``valid_loss_fn`` when given) and metrics over ``loader`` in eval mode (dropout off, batch-norm frozen)."""
        was_training = self.model.training
        self.model.eval()
        totals = self._new_totals()
        for batch in loader:
            batch = self._to_device(batch)
            with self._autocast():
                loss, outputs = self.training_step(batch)
                if self.valid_loss_fn is not None:
                    loss = self.valid_loss_fn(outputs, batch[-1])
            self._accumulate(totals, loss.float(), outputs, batch[-1], True)
        self.model.train(was_training)
        return self._means(totals)

    def _new_totals(self) -> dict:
        return {"count": 0, "loss": 0.0}

    def _accumulate(self, totals, loss, outputs, targets, with_metrics: bool) -> None:
        n = len(targets)
        totals["count"] += n
        totals["loss"] += loss * n
        if with_metrics:
            for name, metric in self.metrics.items():  # sums stay on the device until _means
                totals[name] = totals.get(name, 0.0) + metric(outputs, targets).float() * n

    @staticmethod
    def _means(totals) -> dict[str, float]:
        count = totals["count"]
        return {name: float(value) / count for name, value in totals.items() if name != "count"}

    def _end_epoch(self, totals, valid_loader, elapsed) -> None:
        self.epoch += 1
        numbers = {f"train_{k}": v for k, v in self._means(totals).items()}
        if valid_loader is not None:
            numbers.update({f"valid_{k}": v for k, v in self.evaluate(valid_loader).items()})
        self.last_metrics = numbers
        self._call("on_validation_end")
        self.history.log_epoch(epoch=self.epoch, **numbers, lr=self.history.step["lr"][-1], time=elapsed)
        self._step_torch_scheduler("epoch")
        self._call("on_epoch_end")
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in numbers.items()}, refresh=False)

    # ------------------------------------------------------------------ schedules and divergence
    def _set_scheduled_lr(self, counter: int, interval: str) -> None:
        if interval != self.schedule_interval or self.schedule is None or isinstance(self.schedule, (LRScheduler, ReduceLROnPlateau)):
            return
        lr = self.schedule(counter)
        first = self.optimizer.param_groups[0]["initial_lr"]
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group["initial_lr"] / first

    def _step_torch_scheduler(self, interval: str) -> None:
        if interval != self.schedule_interval:
            return
        if isinstance(self.schedule, ReduceLROnPlateau):
            self.schedule.step(self.last_metrics[self.schedule_metric])
        elif isinstance(self.schedule, LRScheduler):
            self.schedule.step()

    def _is_diverged(self, loss: float) -> bool:
        if self.first_loss is None:
            self.first_loss = loss
        if not statuses.diverged(loss, self.first_loss, self.divergence_factor):
            return False
        self.history.log_step(step=self.global_step, loss=loss, lr=self.optimizer.param_groups[0]["lr"],
                              time=time.perf_counter() - self._start)
        what = f"loss became {loss}" if not math.isfinite(loss) else f"loss {loss:.4g} exceeded {self.divergence_factor:g}x the first loss {self.first_loss:.4g}"
        self.history.status, self.history.diverged_at_step = statuses.DIVERGED, self.global_step
        self.history.message = f"{what} at step {self.global_step}; the weights are those before that step"
        return True

    # ------------------------------------------------------------------ helpers
    def request_stop(self, reason: str) -> None:
        """Ask the loop to stop after this epoch (what early stopping does)."""
        self.should_stop, self.stop_reason = True, reason

    def known_metrics(self) -> list[str]:
        split = ["train", "valid"] if self.valid_loader is not None else ["train"]
        metrics = {"train": ["loss", *self.metrics] if self.train_metrics else ["loss"], "valid": ["loss", *self.metrics]}
        return [f"{s}_{m}" for s in split for m in metrics[s]]

    def check_metric_name(self, name: str, argument: str) -> None:
        if name not in self.known_metrics():
            raise ValueError(f"{argument}={name!r} is not logged by this run; known metrics: {self.known_metrics()}")

    def _check_fit(self, num_epochs) -> None:
        train_loader = self.train_loader
        if not isinstance(num_epochs, int) or isinstance(num_epochs, bool) or num_epochs < 1:
            raise ValueError(f"num_epochs must be an int >= 1, got {num_epochs!r}")
        if train_loader is None or not hasattr(train_loader, "__iter__"):
            raise ValueError(f"train_loader must be an iterable of batches, got {train_loader!r}")
        if isinstance(self.schedule, ReduceLROnPlateau):
            self.check_metric_name(self.schedule_metric, "schedule_metric")
        warmup = getattr(self.schedule, "warmup_steps", 0)
        if warmup and (self.schedule_interval == "epoch" or hasattr(train_loader, "__len__")):
            updates_per_epoch = -(-len(train_loader) // self.accumulation_steps)
            planned = num_epochs * (updates_per_epoch if self.schedule_interval == "step" else 1)
            if warmup >= planned:
                raise ValueError(f"the schedule's warmup_steps ({warmup}) must be shorter than the run ({planned} {self.schedule_interval}s)")
        if self._pending_loader_state is not None:
            train_loader.generator.set_state(self._pending_loader_state)
            self._pending_loader_state = None

    def _epochs(self, num_epochs: int):
        epochs = range(self.epoch, num_epochs)
        if self.progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(epochs, desc="epochs", initial=self.epoch, total=num_epochs)
            return self._bar
        return epochs

    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _to_device(self, batch):
        return [t.to(self.device, non_blocking=True) for t in batch]

    def _call(self, hook: str) -> None:
        for function in self._hooks[hook]:
            function(self)

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path) -> None:
        """Save everything needed to resume exactly: see :mod:`course_lib.checkpoint`."""
        checkpoint.save(self, path)

    def load_checkpoint(self, path) -> None:
        checkpoint.load(self, path)


def _overrides(callback: Callback, hook: str) -> bool:
    """True when ``callback`` does something at ``hook``: skipping no-ops keeps the loop fast."""
    return hook in vars(callback) or getattr(type(callback), hook) is not getattr(Callback, hook)
