"""The experiment most lessons repeat: a seeded MLP on scikit-learn's digits, trained by ``Trainer``.

One function with one signature, so that a run in notebook 02 and a run in notebook 07 differ only in
the arguments the lesson is about. Every run with the same ``seed`` starts from the same weights and
sees the same batches; the split is the course's fixed one (``datasets.load_digits_split()``), so the
test set stays unseen in every notebook.

>>> trainer = train_digits(lr=0.1, num_epochs=1, device="cpu")
>>> trainer.history.status, round(trainer.history.epoch["valid_accuracy"][-1], 1) > 0.1
('completed', True)
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import torch
from torch import nn

from ..data import datasets, loaders
from .. import metrics, models
from ..device import seed_everything
from ..training.trainer import Trainer

OPTIMIZERS: dict[str, Callable] = {  # name -> (parameters, lr, weight_decay) -> optimizer
    "sgd": lambda params, lr, wd: torch.optim.SGD(params, lr=lr, weight_decay=wd),
    "momentum": lambda params, lr, wd: torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd),
    "nesterov": lambda params, lr, wd: torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=wd),
    "adam": lambda params, lr, wd: torch.optim.Adam(params, lr=lr, weight_decay=wd),
    "adamw": lambda params, lr, wd: torch.optim.AdamW(params, lr=lr, weight_decay=wd),
}


@lru_cache(maxsize=1)
def digits_split() -> datasets.DataSplit:
    """The course's split of the digits, loaded once per process."""
    return datasets.load_digits_split()


def train_digits(lr: float = 0.1, num_epochs: int = 10, *, optimizer: str | Callable = "momentum", seed: int = 0,
                 width: int = 64, depth: int = 2, batch_size: int = 64, weight_decay: float = 0.0, schedule=None,
                 scheduler: Callable | None = None, model: Callable[[], nn.Module] | None = None,
                 data: datasets.DataSplit | None = None, device=None, **trainer_options) -> Trainer:
    """Train an MLP (64 -> ``width`` x ``depth`` -> 10) on the digits; return the trainer (its ``history`` too).

    - ``optimizer``: a name from :data:`OPTIMIZERS` ("momentum" is SGD with momentum 0.9), or a function
      ``model -> torch.optim.Optimizer`` for anything else (parameter groups, other betas; ``lr`` and
      ``weight_decay`` are then ignored).
    - ``schedule``: a ``step -> lr`` callable (``course_lib.lr.schedules``); ``scheduler``: a function
      ``optimizer -> torch scheduler`` (built on this run's optimizer). At most one of the two.
    - ``model``: a function returning the model to train instead of the MLP (``width`` and ``depth`` unused).
    - ``data``: another :class:`~course_lib.data.datasets.DataSplit` (a subset, noisy labels); validation uses its
      ``X_valid, y_valid``.
    - ``trainer_options`` go to :class:`~course_lib.Trainer` (``callbacks``, ``amp``, ``schedule_interval``,
      ``divergence_factor``, ``loss_fn``...). The accuracy is logged on both splits.
    """
    if isinstance(optimizer, str) and optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)} or a function model -> optimizer, got {optimizer!r}")
    if not isinstance(optimizer, str) and not callable(optimizer):
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)} or a function model -> optimizer, got {optimizer!r}")
    if schedule is not None and scheduler is not None:
        raise ValueError("pass schedule (a step -> lr callable) or scheduler (optimizer -> torch scheduler), not both")
    if scheduler is not None and not callable(scheduler):
        raise ValueError(f"scheduler must be a function optimizer -> torch scheduler, got {scheduler!r}")
    data = data if data is not None else digits_split()
    seed_everything(seed)  # the same initial weights for the same seed
    net = model() if model is not None else models.MLP(data.num_features, 10, width=width, depth=depth)
    opt = OPTIMIZERS[optimizer](net.parameters(), lr, weight_decay) if isinstance(optimizer, str) else optimizer(net)
    options = {"metrics": {"accuracy": metrics.accuracy}, "train_metrics": True, "progress": False, **trainer_options}
    trainer = Trainer(net, opt, schedule=scheduler(opt) if scheduler is not None else schedule, device=device, **options)
    train = loaders.DeviceLoader(data.X_train, data.y_train, batch_size=batch_size, seed=seed, device=trainer.device)
    valid = loaders.DeviceLoader(data.X_valid, data.y_valid, batch_size=1024, shuffle=False, device=trainer.device)
    trainer.fit(train, valid, num_epochs=num_epochs)
    return trainer
