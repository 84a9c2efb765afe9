"""Capacity explorer: width, weight decay, dropout, training-set size and label noise against the curves.

An MLP (two hidden layers) trains on scikit-learn's digits with AdamW for a fixed number of epochs;
the figure shows its training and validation loss and accuracy per epoch. Every control snaps to a grid
and each run is cached, so a value seen before answers at once and a new one costs one short run
(a few tenths of a second on a laptop CPU).
"""
from __future__ import annotations

import math
from functools import lru_cache

from ..device import thread_policy

WIDTHS = (2, 4, 8, 16, 32, 64, 128, 256)
TRAIN_SIZES = (50, 100, 200, 300, 500, 800, 1079)
NOISE_LEVELS = (0.0, 0.2, 0.4)


def _nearest(value, grid, name):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}; the grid is {grid}")
    return min(grid, key=lambda g: abs(math.log(g) - math.log(value)))


def snap(width, weight_decay, dropout, train_size, label_noise) -> tuple:
    """The grid point a set of control values stands for: what is trained and cached."""
    if not (isinstance(weight_decay, (int, float)) and 0 <= weight_decay <= 10):
        raise ValueError(f"weight_decay must be in [0, 10], got {weight_decay!r}")
    if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if label_noise not in NOISE_LEVELS:
        raise ValueError(f"label_noise must be one of {NOISE_LEVELS}, got {label_noise!r}")
    decay = 0.0 if weight_decay < 1e-6 else float(f"{weight_decay:.2g}")  # 8 steps per decade stay distinct
    return (_nearest(width, WIDTHS, "width"), decay, round(dropout * 20) / 20,
            _nearest(train_size, TRAIN_SIZES, "train_size"), float(label_noise))


@lru_cache(maxsize=4)
def _data(label_noise: float, seed: int):
    """Digits with ``label_noise`` of the training labels moved to another class (validation stays clean)."""
    import torch

    from .. import datasets

    split = datasets.load_digits_split(seed=seed)
    g = torch.Generator().manual_seed(seed)
    y = split.y_train.clone()
    flipped = torch.randperm(len(y), generator=g)[: round(label_noise * len(y))]
    y[flipped] = (y[flipped] + torch.randint(1, 10, (len(flipped),), generator=g)) % 10  # never the true class
    return split.X_train, y, split.X_valid, split.y_valid



@lru_cache(maxsize=256)
def _train(width, weight_decay, dropout, train_size, label_noise, num_epochs, seed) -> dict:
    import time

    import torch

    from .. import Trainer, loaders, metrics, models
    from ..device import seed_everything

    X, y, X_valid, y_valid = _data(label_noise, seed)
    start = time.perf_counter()
    with thread_policy():
        seed_everything(seed)
        model = models.MLP(64, 10, width=width, depth=2, dropout=dropout)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=weight_decay)
        trainer = Trainer(model, optimizer, metrics={"accuracy": metrics.accuracy}, device="cpu", progress=False,
                          train_metrics=True)
        train = loaders.DeviceLoader(X[:train_size], y[:train_size], batch_size=128, seed=seed)
        valid = loaders.DeviceLoader(X_valid, y_valid, batch_size=1024, shuffle=False)
        history = trainer.fit(train, valid, num_epochs=num_epochs)
    keys = ("epoch", "train_loss", "valid_loss", "train_accuracy", "valid_accuracy")
    return {**{k: list(history.epoch[k]) for k in keys}, "seconds": time.perf_counter() - start}


def compute(width: int = 64, weight_decay: float = 0.0, dropout: float = 0.0, train_size: int = 300,
            label_noise: float = 0.2, num_epochs: int = 30, seed: int = 0) -> dict:
    """Train (or recall) the run at the grid point nearest the arguments: per-epoch curves and settings."""
    if not isinstance(num_epochs, int) or isinstance(num_epochs, bool) or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive int, got {num_epochs!r}")
    point = snap(width, weight_decay, dropout, train_size, label_noise)
    result = dict(_train(*point, num_epochs, seed))
    result.update(zip(("width", "weight_decay", "dropout", "train_size", "label_noise"), point))
    return result


def draw(result: dict, fig) -> list:
    """Loss and accuracy, training (solid) and validation (dashed), against the epoch."""
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.plot(result["epoch"], result[f"train_{metric}"], "-", label="training")
        ax.plot(result["epoch"], result[f"valid_{metric}"], "--", label="validation")
        ax.set(xlabel="epoch", ylabel=metric, title=f"{metric}: training vs validation")
        ax.legend()
    axes[1].set_ylim(0, 1.02)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.9, wspace=0.25)  # tight_layout costs 50 ms
    return list(axes)


def describe(result: dict) -> str:
    """The settings of the run shown and its final numbers."""
    gap = result["train_accuracy"][-1] - result["valid_accuracy"][-1]
    return (f"width {result['width']}, weight decay {result['weight_decay']:g}, dropout {result['dropout']:g}, "
            f"{result['train_size']} samples, {result['label_noise']:.0%} noisy labels: after {len(result['epoch'])} epochs "
            f"training accuracy {result['train_accuracy'][-1]:.1%}, validation {result['valid_accuracy'][-1]:.1%} "
            f"(gap {gap:+.1%}); validation loss {result['valid_loss'][-1]:.3f}, lowest {min(result['valid_loss']):.3f}.")


def explorer(width: int = 64, weight_decay: float = 1e-4, dropout: float = 0.0, train_size: int = 300,
             label_noise: float = 0.2, num_epochs: int = 30, seed: int = 0):
    """Sliders for width, weight decay, dropout, training-set size and a label-noise menu over the curves."""
    import ipywidgets as w

    from .base import LiveFigure, connect, log_slider

    snap(width, weight_decay, dropout, train_size, label_noise)  # bad values fail here, with their names
    style = {"description_width": "initial"}
    controls = {
        "width": w.SelectionSlider(options=WIDTHS, value=_nearest(width, WIDTHS, "width"), description="width",
                                   continuous_update=False, style=style),
        "weight_decay": log_slider("weight decay", max(weight_decay, 1e-5), 1e-5, 3.0, steps_per_decade=4),
        "dropout": w.FloatSlider(value=dropout, min=0.0, max=0.8, step=0.1, description="dropout",
                                 continuous_update=False, style=style),
        "train_size": w.SelectionSlider(options=TRAIN_SIZES, value=_nearest(train_size, TRAIN_SIZES, "train_size"),
                                        description="training samples", continuous_update=False, style=style),
        "label_noise": w.Dropdown(options=[(f"{p:.0%} noisy labels", p) for p in NOISE_LEVELS], value=label_noise,
                                  description="labels", style=style),
    }

    def render(fig, **values):
        result = compute(**values, num_epochs=num_epochs, seed=seed)
        draw(result, fig)
        return describe(result)

    figure = LiveFigure(render, figsize=(10, 3.8))
    rows = [w.HBox(list(controls.values())[:3]), w.HBox(list(controls.values())[3:]), figure.widget()]
    return connect(controls, figure, layout=w.VBox(rows))
