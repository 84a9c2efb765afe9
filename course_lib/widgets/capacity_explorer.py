"""Capacity explorer: width, weight decay, dropout, training-set size and label noise against the curves.

The default view is notebook 05's baseline, run for run: the first 300 training digits of the course's
split with 20% of their labels moved to another class (by the notebook's ``flip_labels``, seeded with
``1000 + seed``), two hidden layers of 256 units, Adam at lr 3e-3 on batches of 32 for 400 updates,
from the same seed. Weight decay is AdamW's, on the weight matrices only (biases and norm parameters
are not decayed); at 0 it is Adam itself. Every run takes 400 updates, whatever the training-set size,
so that a drag costs the same everywhere (at 1079 samples that is 12 epochs instead of 40). Training
and validation loss and accuracy are measured every 10 updates, in eval mode, on the whole training
subset (against the labels it was given) and on the validation split.

The loop is written out here instead of calling ``Trainer``, whose history counts whole epochs and
logs a running training mean in train mode: the budget here is 400 updates, and the training curve is
measured like the notebook's training accuracy. Each update is the same forward, backward and step,
so the default view's weights are the baseline's (the notebook and the tests compare the curves with
the baseline's ``Trainer`` run); the per-update bookkeeping a widget does not show is left out. Every control
snaps to a grid and each run is cached, so a value seen before answers at once.
"""
from __future__ import annotations

import math
from functools import lru_cache

from ..device import thread_policy

WIDTHS = (2, 4, 8, 16, 32, 64, 128, 256)
WEIGHT_DECAYS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
TRAIN_SIZES = (50, 100, 200, 300, 500, 800, 1079)
NOISE_LEVELS = (0.0, 0.2, 0.4)
LR, BATCH_SIZE, NUM_UPDATES, EVAL_EVERY = 3e-3, 32, 400, 10  # notebook 05's baseline: 40 epochs of 300 samples


def _nearest(value, grid, name):
    """The grid point nearest ``value`` on a log scale (the grids grow by factors)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}; the grid is {grid}")
    return min(grid, key=lambda g: abs(math.log(g) - math.log(value)))


def snap(width, weight_decay, dropout, train_size, label_noise) -> tuple:
    """The grid point a set of control values stands for: what is trained and cached."""
    if not (isinstance(weight_decay, (int, float)) and not isinstance(weight_decay, bool)
            and 0 <= weight_decay <= WEIGHT_DECAYS[-1]):
        raise ValueError(f"weight_decay must be in [0, {WEIGHT_DECAYS[-1]}], got {weight_decay!r}; the grid is {WEIGHT_DECAYS}")
    if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if label_noise not in NOISE_LEVELS:
        raise ValueError(f"label_noise must be one of {NOISE_LEVELS}, got {label_noise!r}")
    smallest = WEIGHT_DECAYS[1]  # below half of it: no decay
    decay = 0.0 if weight_decay < smallest / 2 else _nearest(weight_decay, WEIGHT_DECAYS[1:], "weight_decay")
    return (_nearest(width, WIDTHS, "width"), decay, round(dropout * 20) / 20,
            _nearest(train_size, TRAIN_SIZES, "train_size"), float(label_noise))


@lru_cache(maxsize=16)
def _data(train_size: int, label_noise: float, seed: int):
    """The first ``train_size`` training digits, ``label_noise`` of their labels moved to another class."""
    import torch

    from ..problems.digits import digits_split

    split = digits_split()
    y = split.y_train[:train_size].clone()
    # the notebook's flip_labels, step for step; not `seed` itself, or the loader's first epoch (a permutation drawn
    # with `seed`) would start with exactly the flipped samples
    generator = torch.Generator().manual_seed(1000 + seed)
    chosen = torch.randperm(train_size, generator=generator)[: round(label_noise * train_size)]
    y[chosen] = (y[chosen] + torch.randint(1, 10, (len(chosen),), generator=generator)) % 10  # never the true class
    return split.X_train[:train_size], y, split.X_valid, split.y_valid


def decay_groups(model, weight_decay: float) -> list[dict]:
    """Parameter groups that decay the weight matrices only: biases and norm scales (1-d) are left alone."""
    matrices = [p for p in model.parameters() if p.dim() > 1]
    others = [p for p in model.parameters() if p.dim() <= 1]
    return [{"params": matrices, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]


@lru_cache(maxsize=256)
def _train(width, weight_decay, dropout, train_size, label_noise, seed) -> dict:
    import time

    import torch
    import torch.nn.functional as F

    from ..data import loaders
    from .. import models
    from ..device import seed_everything

    X, y, X_valid, y_valid = _data(train_size, label_noise, seed)
    curves = {key: [] for key in ("update", "train_loss", "valid_loss", "train_accuracy", "valid_accuracy")}
    start = time.perf_counter()
    with thread_policy():
        seed_everything(seed)  # the same initial weights as the notebook's run with this seed
        model = models.MLP(64, 10, width=width, depth=2, dropout=dropout)
        # torch's default AdamW, as the notebook's runs use: a fused one rounds differently, and over 400
        # updates on noisy labels such differences grow to 1e-2 in the loss (seen with seeds 1 and 2)
        optimizer = torch.optim.AdamW(decay_groups(model, weight_decay), lr=LR)
        loader = loaders.DeviceLoader(X, y, batch_size=BATCH_SIZE, seed=seed)
        update = 0
        while update < NUM_UPDATES:
            for inputs, targets in loader:  # one epoch: the loader reshuffles on each pass
                model.train()
                loss = F.cross_entropy(model(inputs), targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                update += 1
                if update % EVAL_EVERY == 0:
                    model.eval()
                    with torch.no_grad():
                        for split, (inputs_, targets_) in (("train", (X, y)), ("valid", (X_valid, y_valid))):
                            outputs = model(inputs_)
                            curves[f"{split}_loss"].append(float(F.cross_entropy(outputs, targets_)))
                            curves[f"{split}_accuracy"].append(float((outputs.argmax(1) == targets_).float().mean()))
                    curves["update"].append(update)
                if update == NUM_UPDATES:
                    break
    return {**curves, "epochs": NUM_UPDATES / len(loader), "seconds": time.perf_counter() - start}


def compute(width: int = 256, weight_decay: float = 0.0, dropout: float = 0.0, train_size: int = 300,
            label_noise: float = 0.2, seed: int = 0) -> dict:
    """Train (or recall) the run at the grid point nearest the arguments: its curves and settings.

    The curves are measured every 10 updates (``result["update"]``); ``result["epochs"]`` is how many
    passes over the training subset the 400 updates make.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    point = snap(width, weight_decay, dropout, train_size, label_noise)
    result = dict(_train(*point, seed))
    result.update(zip(("width", "weight_decay", "dropout", "train_size", "label_noise"), point))
    return result


def draw(result: dict, fig) -> list:
    """Loss and accuracy, training (solid) and validation (dashed), against the update."""
    axes = fig.subplots(1, 2)
    best = min(range(len(result["valid_loss"])), key=result["valid_loss"].__getitem__)
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.plot(result["update"], result[f"train_{metric}"], "-", label="training (given labels)")
        ax.plot(result["update"], result[f"valid_{metric}"], "--", label="validation")
        ax.axvline(result["update"][best], color="gray", ls=":", lw=1, label="lowest validation loss")
        ax.set(xlabel=f"update (batches of {BATCH_SIZE})", ylabel="cross-entropy" if metric == "loss" else metric,
               title=f"{metric}: training vs validation")
    axes[0].set_ylim(0, max(2.5, 1.05 * max(result["valid_loss"])))
    axes[0].legend(loc="upper right", fontsize=8)
    axes[1].set_ylim(0, 1.02)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.9, wspace=0.25)  # tight_layout costs 50 ms
    return list(axes)


def describe(result: dict) -> str:
    """The settings of the run shown, its final numbers and the sign of overfitting it shows or not."""
    gap = result["train_accuracy"][-1] - result["valid_accuracy"][-1]
    lowest, last = min(result["valid_loss"]), result["valid_loss"][-1]
    return (f"width {result['width']}, weight decay {result['weight_decay']:g}, dropout {result['dropout']:g}, "
            f"{result['train_size']} samples, {result['label_noise']:.0%} wrong labels; {NUM_UPDATES} updates "
            f"({result['epochs']:.0f} epochs): training accuracy {result['train_accuracy'][-1]:.1%}, validation "
            f"{result['valid_accuracy'][-1]:.1%} (gap {gap:+.1%}); validation loss {last:.3f}, "
            f"{(last / lowest - 1):.0%} above its lowest ({lowest:.3f}).")


def explorer(width: int = 256, weight_decay: float = 0.0, dropout: float = 0.0, train_size: int = 300,
             label_noise: float = 0.2, seed: int = 0):
    """Sliders for width, weight decay, dropout, training-set size and a label-noise menu over the curves."""
    import ipywidgets as w

    from .base import LiveFigure, connect

    width, weight_decay, dropout, train_size, label_noise = snap(width, weight_decay, dropout, train_size, label_noise)
    style = {"description_width": "initial"}
    controls = {
        "width": w.SelectionSlider(options=WIDTHS, value=width, description="width", continuous_update=False, style=style),
        "weight_decay": w.SelectionSlider(options=WEIGHT_DECAYS, value=weight_decay, description="weight decay (AdamW)",
                                          continuous_update=False, style=style),
        "dropout": w.FloatSlider(value=dropout, min=0.0, max=0.8, step=0.1, description="dropout",
                                 continuous_update=False, style=style),
        "train_size": w.SelectionSlider(options=TRAIN_SIZES, value=train_size, description="training samples",
                                        continuous_update=False, style=style),
        "label_noise": w.Dropdown(options=[(f"{p:.0%} wrong labels", p) for p in NOISE_LEVELS], value=label_noise,
                                  description="labels", style=style),
    }

    def render(fig, **values):
        result = compute(**values, seed=seed)
        draw(result, fig)
        return describe(result)

    figure = LiveFigure(render, figsize=(10, 3.4))
    rows = [w.HBox(list(controls.values())[:3]), w.HBox(list(controls.values())[3:]), figure.widget()]
    return connect(controls, figure, layout=w.VBox(rows))
