"""Capacity explorer: width, weight decay, dropout, training-set size and label noise against the curves.

The default view is notebook 05's baseline, run for run: the first 300 training digits of the course's
split with 20% of their labels moved to another class (:func:`course_lib.data.datasets.flip_labels`, seeded
with ``1000 + seed``), two hidden layers of 256 units, Adam at lr 3e-3 on batches of 32 for 400 updates,
from the same seed. Weight decay is AdamW's, on the weight matrices only
(:func:`course_lib.regularization.decay_groups`); at 0 it is Adam itself. Every run takes 400 updates,
whatever the training-set size, so that a drag costs the same everywhere (at 1079 samples that is 12
epochs instead of 40). Training and validation loss and accuracy are measured every 10 updates, in eval
mode, on the whole training subset (against the labels it was given) and on the validation split.

The loop is written out here instead of calling ``Trainer``, whose history counts whole epochs and
logs a running training mean in train mode: the budget here is 400 updates, and the training curve is
measured like the notebook's training accuracy. Each update is the same forward, backward and step,
so the default view's weights are the baseline's (the notebook and the tests compare the curves with
the baseline's ``Trainer`` run); the per-update bookkeeping a widget does not show is left out. Every control
snaps to a grid and every run is kept, so a value seen before answers at once; the explorer trains the
runs one more drag reaches while the learner reads (:mod:`course_lib.widgets.ahead`).
"""

from __future__ import annotations

import math
from functools import lru_cache

from ..device import thread_policy
from ..validate import check_choice, check_int, check_number, is_number
from . import base
from .ahead import Ahead

WIDTHS = (2, 4, 8, 16, 32, 64, 128, 256)
WEIGHT_DECAYS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
DROPOUTS = tuple(round(0.1 * i, 1) for i in range(9))  # the slider's positions, 0 to 0.8
TRAIN_SIZES = (50, 100, 200, 300, 500, 800, 1079)
NOISE_LEVELS = (0.0, 0.2, 0.4)
LR, BATCH_SIZE, NUM_UPDATES, EVAL_EVERY = 3e-3, 32, 400, 10  # notebook 05's baseline: 40 epochs of 300 samples
FEATURED = ("width", "train_size")  # what the lesson asks a reader to drag first: the static site varies these
LATENCY_CASES = (  # control changes benchmarks/widget_latency.py times, one after another
    {"width": 32},
    {"weight_decay": 1.0},
    {"dropout": 0.5},
    {"train_size": 1079},
    {"label_noise": 0.0},
    {"width": 256},
    {"train_size": 300},
    {"weight_decay": 0.0},
    {"width": 32},
)


def _nearest(value, grid):
    """The grid point nearest ``value`` on a log scale (the grids grow by factors)."""
    return min(grid, key=lambda g: abs(math.log(g) - math.log(value)))


def snap(width, weight_decay, dropout, train_size, label_noise) -> tuple:
    """The grid point a set of control values stands for: what is trained and kept.

    Each value must lie within its grid's range; inside it, it moves to the nearest grid point (a
    weight decay below half the smallest nonzero one is no decay, a dropout goes to a multiple of 0.05).
    """
    check_number("width", width, WIDTHS[0], WIDTHS[-1])
    check_number("weight_decay", weight_decay, 0, WEIGHT_DECAYS[-1])
    check_number("dropout", dropout, 0, 1, include_high=False)
    check_number("train_size", train_size, TRAIN_SIZES[0], TRAIN_SIZES[-1])
    label_noise = float(label_noise) if is_number(label_noise) else label_noise
    check_choice("label_noise", label_noise, NOISE_LEVELS)
    decay = 0.0 if weight_decay < WEIGHT_DECAYS[1] / 2 else _nearest(weight_decay, WEIGHT_DECAYS[1:])
    return (_nearest(width, WIDTHS), decay, round(dropout * 20) / 20, _nearest(train_size, TRAIN_SIZES), label_noise)


@lru_cache(maxsize=16)
def _data(train_size: int, label_noise: float, seed: int):
    """The first ``train_size`` training digits, ``label_noise`` of their labels moved to another class."""
    from ..data import datasets
    from ..problems.digits import digits_split

    split = digits_split()
    # 1000 + seed, as notebook 05 does: with `seed` itself the loader's first epoch (a permutation drawn with `seed`)
    # would start with exactly the flipped samples
    y = datasets.flip_labels(split.y_train[:train_size], label_noise, seed=1000 + seed)
    return split.X_train[:train_size], y, split.X_valid, split.y_valid


def _train(width, weight_decay, dropout, train_size, label_noise, seed) -> dict:
    """One run at a grid point (call :func:`compute`: it keeps every run, and an explorer's runs trained ahead)."""
    import time

    import torch
    import torch.nn.functional as F

    from .. import models
    from ..data import loaders
    from ..device import seed_everything
    from ..regularization import decay_groups

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


RUNS = Ahead(_train)  # every run trained, keyed by its grid point and seed; an explorer's runs are trained ahead


def settle(timeout: float | None = None) -> float:
    """Wait until the runs an explorer asked for ahead are trained; the seconds waited (a learner reads meanwhile)."""
    return RUNS.settle(timeout)


def reachable(point: tuple, seed: int) -> list[tuple]:
    """Every run one drag away from ``point`` (each control moved to each of its other values), nearest first."""
    grids = (WIDTHS, WEIGHT_DECAYS, DROPOUTS, TRAIN_SIZES, NOISE_LEVELS)
    found = []
    for distance in range(1, max(map(len, grids))):
        for k, grid in enumerate(grids):
            here = min(range(len(grid)), key=lambda i: abs(grid[i] - point[k]))
            for index in (here - distance, here + distance):
                if 0 <= index < len(grid):
                    found.append((*point[:k], grid[index], *point[k + 1 :], seed))
    return found


def compute(
    width: int = 256,
    weight_decay: float = 0.0,
    dropout: float = 0.0,
    train_size: int = 300,
    label_noise: float = 0.2,
    seed: int = 0,
) -> dict:
    """Train (or recall) the run at the grid point nearest the arguments: its curves and settings.

    The curves are measured every 10 updates (``result["update"]``); ``result["epochs"]`` is how many
    passes over the training subset the 400 updates make.
    """
    check_int("seed", seed, 0)
    point = snap(width, weight_decay, dropout, train_size, label_noise)
    result = dict(RUNS.get((*point, seed)))
    result.update(zip(("width", "weight_decay", "dropout", "train_size", "label_noise"), point))
    return result


class Picture(base.Picture):
    """Loss and accuracy, training (solid) and validation (dashed), against the update."""

    def __init__(self, fig):
        super().__init__(fig)
        self.axes = fig.subplots(1, 2)
        self.lines = {}
        for ax, metric in zip(self.axes, ("loss", "accuracy")):
            self.lines[f"train_{metric}"] = ax.plot([], [], "-", label="training (given labels)")[0]
            self.lines[f"valid_{metric}"] = ax.plot([], [], "--", label="validation")[0]
            self.lines[f"best_{metric}"] = ax.axvline(0, color="gray", ls=":", lw=1, label="lowest validation loss")
            ax.set(
                xlabel=f"update (batches of {BATCH_SIZE})",
                ylabel="cross-entropy" if metric == "loss" else metric,
                title=f"{metric}: training vs validation",
                xlim=(EVAL_EVERY - 19.5, NUM_UPDATES + 19.5),
            )
        self.axes[1].set_ylim(0, 1.02)
        self.on_top = [self.axes[0].legend(loc="upper right", fontsize=8, framealpha=1)]  # over the curves
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.9, wspace=0.25)  # tight_layout costs 50 ms
        self.moving = list(self.lines.values())

    def show(self, result: dict) -> None:
        best = result["update"][min(range(len(result["valid_loss"])), key=result["valid_loss"].__getitem__)]
        for metric in ("loss", "accuracy"):
            for split in ("train", "valid"):
                self.lines[f"{split}_{metric}"].set_data(result["update"], result[f"{split}_{metric}"])
            self.lines[f"best_{metric}"].set_xdata([best, best])
        top = max(2.5, math.ceil(1.05 * max(result["valid_loss"]) / 0.5) * 0.5)  # in steps of 0.5: few redraws
        if self.changed("loss top", top):
            self.axes[0].set_ylim(0, top)


def draw(result: dict, fig) -> list:
    """The explorer's picture of ``result`` on ``fig``: its two axes."""
    picture = Picture(fig)
    picture.show(result)
    return list(picture.axes)


def describe(result: dict) -> str:
    """The settings of the run shown, its final numbers and the sign of overfitting it shows or not."""
    gap = result["train_accuracy"][-1] - result["valid_accuracy"][-1]
    lowest, last = min(result["valid_loss"]), result["valid_loss"][-1]
    return (
        f"width {result['width']}, weight decay {result['weight_decay']:g}, dropout {result['dropout']:g}, "
        f"{result['train_size']} samples, {result['label_noise']:.0%} wrong labels; {NUM_UPDATES} updates "
        f"({result['epochs']:.0f} epochs): training accuracy {result['train_accuracy'][-1]:.1%}, validation "
        f"{result['valid_accuracy'][-1]:.1%} (gap {gap:+.1%}); validation loss {last:.3f}, "
        f"{(last / lowest - 1):.0%} above its lowest ({lowest:.3f})."
    )


def explorer(
    width: int = 256,
    weight_decay: float = 0.0,
    dropout: float = 0.0,
    train_size: int = 300,
    label_noise: float = 0.2,
    seed: int = 0,
    ahead: bool = True,
):
    """Sliders for width, weight decay, dropout, training-set size and a label-noise menu over the curves.

    ``ahead``: while the picture is read, a worker process trains every run one more drag reaches
    (:mod:`course_lib.widgets.ahead`), so a drag usually finds its run done.
    """
    import ipywidgets as w

    check_int("seed", seed, 0)
    check_choice("ahead", ahead, (True, False))
    width, weight_decay, dropout, train_size, label_noise = snap(width, weight_decay, dropout, train_size, label_noise)
    style = {"description_width": "initial"}
    controls = {
        "width": w.SelectionSlider(
            options=WIDTHS, value=width, description="width", continuous_update=False, style=style
        ),
        "weight_decay": w.SelectionSlider(
            options=WEIGHT_DECAYS,
            value=weight_decay,
            description="weight decay (AdamW)",
            continuous_update=False,
            style=style,
        ),
        "dropout": w.FloatSlider(
            value=dropout,
            min=DROPOUTS[0],
            max=DROPOUTS[-1],
            step=0.1,
            description="dropout",
            continuous_update=False,
            style=style,
        ),
        "train_size": w.SelectionSlider(
            options=TRAIN_SIZES, value=train_size, description="training samples", continuous_update=False, style=style
        ),
        "label_noise": w.Dropdown(
            options=[(f"{p:.0%} wrong labels", p) for p in NOISE_LEVELS],
            value=label_noise,
            description="labels",
            style=style,
        ),
    }

    def render(picture, **values):
        result = compute(**values, seed=seed)
        picture.show(result)
        if ahead:
            RUNS.want(reachable(snap(**values), seed))
        return describe(result)

    figure = base.LiveFigure(render, figsize=(10, 3.4), picture=Picture)
    rows = [w.HBox(list(controls.values())[:3]), w.HBox(list(controls.values())[3:]), figure.widget()]
    return base.connect(controls, figure, layout=w.VBox(rows), featured=FEATURED)
