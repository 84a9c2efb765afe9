"""Small complete runs shared by the trainer and checkpoint tests."""

from __future__ import annotations

import torch

from course_lib import EarlyStopping, Trainer, models
from course_lib.data import datasets, loaders
from course_lib.device import seed_everything
from course_lib.metrics import accuracy


def make_run(
    seed=0, lr=0.05, dropout=0.2, schedule="cosine", amp=None, callbacks=None, t_max=60, metrics=None, **trainer_args
):
    """A small but complete run: dropout, shuffling, Adam, a scheduler and early stopping."""
    seed_everything(seed)
    split = datasets.load_digits_split()
    model = models.MLP(64, 10, width=32, depth=2, dropout=dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    if schedule == "cosine":
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t_max)
    callbacks = [EarlyStopping(patience=50)] if callbacks is None else callbacks
    trainer = Trainer(
        model,
        optimizer,
        metrics=metrics or {"accuracy": accuracy},
        schedule=schedule,
        amp=amp,
        callbacks=callbacks,
        progress=False,
        device="cpu",
        train_metrics=True,
        **trainer_args,
    )
    train = loaders.DeviceLoader(split.X_train[:320], split.y_train[:320], batch_size=64, seed=seed)
    valid = loaders.DeviceLoader(split.X_valid, split.y_valid, batch_size=256, shuffle=False)
    return trainer, train, valid


def same_weights(a, b) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values()))
