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

from torch import nn

from .. import metrics, models, optimizers
from ..data import datasets, loaders
from ..device import seed_everything
from ..training.trainer import Trainer
from ..validate import check_callable, check_instance


@lru_cache(maxsize=1)
def digits_split() -> datasets.DataSplit:
    """The course's split of the digits, loaded once per process."""
    return datasets.load_digits_split()


def train_digits(
    lr: float = 0.1,
    num_epochs: int = 10,
    *,
    optimizer: str | Callable = "momentum",
    seed: int = 0,
    width: int = 64,
    depth: int = 2,
    batch_size: int = 64,
    weight_decay: float = 0.0,
    schedule=None,
    make_scheduler: Callable | None = None,
    model: Callable[[], nn.Module] | None = None,
    data: datasets.DataSplit | None = None,
    device=None,
    **trainer_options,
) -> Trainer:
    """Train an MLP (64 -> ``width`` x ``depth`` -> 10) on the digits; return the trainer (its ``history`` too).

    - ``optimizer``: a name from :data:`course_lib.optimizers.NAMES` ("momentum" is SGD with momentum 0.9), or
      a function ``model -> torch.optim.Optimizer`` for anything else (parameter groups, other betas; ``lr``
      and ``weight_decay`` are then ignored).
    - ``schedule``: a ``step -> lr`` callable (``course_lib.lr.schedules``), as ``Trainer`` takes it. A torch
      scheduler must be built on this run's optimizer, which does not exist yet: pass ``make_scheduler``, a
      function ``optimizer -> torch scheduler``, instead. At most one of the two.
    - ``model``: a function returning the model to train instead of the MLP (``width`` and ``depth`` unused).
    - ``data``: another :class:`~course_lib.data.datasets.DataSplit` (a subset, noisy labels); validation uses its
      ``X_valid, y_valid``.
    - ``trainer_options`` go to :class:`~course_lib.Trainer` (``callbacks``, ``amp``, ``schedule_interval``,
      ``divergence_factor``, ``loss_fn``...). The accuracy is logged on both splits.
    """
    if not (callable(optimizer) or isinstance(optimizer, str) and optimizer in optimizers.NAMES):
        raise ValueError(
            f"optimizer must be one of {optimizers.NAMES} or a function model -> optimizer, got {optimizer!r}"
        )
    check_callable("make_scheduler", make_scheduler, "a function optimizer -> torch scheduler", allow_none=True)
    check_callable("model", model, "a function returning the model to train", allow_none=True)
    check_instance("data", data, datasets.DataSplit, "a datasets.DataSplit", allow_none=True)
    if schedule is not None and make_scheduler is not None:
        raise ValueError(
            "pass schedule (a step -> lr callable) or make_scheduler (optimizer -> torch scheduler), not both"
        )
    data = data if data is not None else digits_split()
    seed_everything(seed)  # the same initial weights for the same seed
    net = model() if model is not None else models.MLP(data.num_features, 10, width=width, depth=depth)
    opt = (
        optimizers.build(optimizer, net.parameters(), lr, weight_decay)
        if isinstance(optimizer, str)
        else optimizer(net)
    )
    options = {"metrics": {"accuracy": metrics.accuracy}, "train_metrics": True, "progress": False, **trainer_options}
    trainer = Trainer(
        net, opt, schedule=make_scheduler(opt) if make_scheduler is not None else schedule, device=device, **options
    )
    train = loaders.DeviceLoader(data.X_train, data.y_train, batch_size=batch_size, seed=seed, device=trainer.device)
    valid = loaders.DeviceLoader(data.X_valid, data.y_valid, batch_size=1024, shuffle=False, device=trainer.device)
    trainer.fit(train, valid, num_epochs=num_epochs)
    return trainer
