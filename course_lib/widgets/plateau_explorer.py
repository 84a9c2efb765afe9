"""Plateau explorer: a noisy, seeded validation-loss curve played through a real ``ReduceLROnPlateau``.

The curve is a toy with one honest property of SGD: the loss settles at a level that grows with the
learning rate (the noise floor of the updates), so every lr drop lets it sink to a lower plateau. Each
epoch the metric moves a fraction ``RATE`` of the way towards ``FLOOR + SLOPE * lr``, times
``1 + noise * z`` with a seeded Gaussian ``z``. PyTorch's own scheduler decides when to drop the lr.

>>> result = compute(patience=3, factor=0.5)
>>> result["lr"][0], len(result["drops"]) > 0
(0.1, True)
"""

from __future__ import annotations

import math
import random
from functools import lru_cache

from ..validate import check_choice, check_int, check_number
from . import base

START, FLOOR, SLOPE, RATE, LR = 2.3, 0.1, 3.0, 0.3, 0.1  # the toy: the loss settles at FLOOR + SLOPE * lr
THRESHOLD_MODES = ("rel", "abs")
FEATURED = ("patience", "factor")  # what the lesson asks a reader to drag first: the static site varies these
LATENCY_CASES = (  # control changes benchmarks/widget_latency.py times, one after another
    {"patience": 3},
    {"factor": 0.3},
    {"threshold": 0.03},
    {"threshold_mode": "abs"},
    {"cooldown": 4},
    {"threshold_mode": "rel"},
    {"patience": 8},
    {"cooldown": 0},
    {"factor": 0.5},
    {"patience": 5},
)


def dynamic_threshold(best: float, mode: str, threshold_mode: str, threshold: float) -> float:
    """The value the next metric must beat: ``best * (1 - threshold)`` for min/rel, ``best - threshold`` for min/abs, ..."""
    if threshold_mode == "rel":
        return best * (1 - threshold) if mode == "min" else best * (1 + threshold)
    return best - threshold if mode == "min" else best + threshold


def compute(
    patience: int = 5,
    factor: float = 0.5,
    threshold: float = 0.01,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    num_epochs: int = 120,
    noise: float = 0.05,
    seed: int = 0,
    min_lr: float = 0.0,
) -> dict:
    """Play the toy curve through ``ReduceLROnPlateau(mode="min", ...)``; plain lists per epoch (1-based)."""
    check_choice("threshold_mode", threshold_mode, THRESHOLD_MODES)
    check_int("patience", patience, 0)
    check_int("cooldown", cooldown, 0)
    check_int("num_epochs", num_epochs, 1)
    check_int("seed", seed, 0)
    check_number("factor", factor, 0, 1, include_low=False, include_high=False)
    check_number("threshold", threshold, 0)
    check_number("noise", noise, 0, 1)  # the metric is level * (1 + noise * z): beyond 1 it turns negative
    check_number("min_lr", min_lr, 0)
    return _compute(
        int(patience),
        float(factor),
        float(threshold),
        threshold_mode,
        int(cooldown),
        int(num_epochs),
        float(noise),
        int(seed),
        float(min_lr),
    )


@lru_cache(maxsize=512)
def _compute(patience, factor, threshold, threshold_mode, cooldown, num_epochs, noise, seed, min_lr) -> dict:
    import torch
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR)
    scheduler = ReduceLROnPlateau(
        optimizer,
        mode="min",
        factor=factor,
        patience=patience,
        threshold=threshold,
        threshold_mode=threshold_mode,
        cooldown=cooldown,
        min_lr=min_lr,
    )
    noise_draws = random.Random(seed)
    keys = ("epoch", "value", "lr", "best", "bar", "bad_epochs", "cooldown", "better", "change")
    level, out = START, {key: [] for key in keys}
    drops = []
    for epoch in range(1, num_epochs + 1):
        lr = optimizer.param_groups[0]["lr"]  # the lr this epoch trained with
        cooling = scheduler.cooldown_counter > 0  # this epoch's bad result will not count
        level += RATE * (FLOOR + SLOPE * lr - level)
        value = level * (1 + noise * noise_draws.gauss(0.0, 1.0))
        best_before = scheduler.best
        change = 0.0 if epoch == 1 else (value / best_before - 1 if threshold_mode == "rel" else value - best_before)
        scheduler.step(value)  # the real decision, as after a validation pass
        better = scheduler.best != best_before  # the best moves only when a value beats the bar
        if optimizer.param_groups[0]["lr"] < lr:
            drops.append(epoch)
        for key, item in (
            ("epoch", epoch),
            ("value", value),
            ("lr", lr),
            ("best", scheduler.best),
            ("bar", dynamic_threshold(scheduler.best, "min", threshold_mode, threshold)),
            ("bad_epochs", scheduler.num_bad_epochs),
            ("cooldown", cooling),
            ("better", better),
            ("change", change),
        ):
            out[key].append(item)
    settings = dict(
        patience=patience, factor=factor, threshold=threshold, threshold_mode=threshold_mode, cooldown=cooldown
    )
    return {**out, "drops": drops, "final_lr": optimizer.param_groups[0]["lr"], "settings": settings}


class Picture(base.Picture):
    """Three panels: the metric and its best so far; each epoch's change against the bar; the lr. Drops marked.

    The bar a new value must beat sits ``threshold`` (1% by default) below the best: on the metric's own
    axis it would hide under the best-so-far line, so the middle panel plots each epoch's change against
    the best before it, where the bar is a horizontal line and a point below it is an improvement.
    """

    def __init__(self, fig):
        from matplotlib.collections import PolyCollection

        super().__init__(fig)
        self.top, self.middle, self.bottom = top, middle, bottom = fig.subplots(
            3, 1, gridspec_kw={"height_ratios": [2, 1.4, 1]}
        )  # no sharex: it is slow
        self.cooling = {
            ax: ax.add_collection(PolyCollection([], color="tab:blue", alpha=0.12, lw=0, label="cooldown"))
            for ax in (top, middle)
        }
        (self.values,) = top.plot([], [], "-", color="0.7", lw=0.8, zorder=1)
        self.points, self.changes = {}, {}
        for counted, color, label in ((True, "tab:green", "improved (beat the bar)"), (False, "0.45", "bad epoch")):
            self.points[counted] = top.plot([], [], ".", color=color, ms=4, label=label, zorder=2)[0]
            self.changes[counted] = middle.plot([], [], ".", color=color, ms=4, zorder=2)[0]
        (self.best,) = top.step([], [], where="post", color="black", lw=1.2, label="best so far", zorder=3)
        self.drops = {
            ax: ax.vlines([], 0, 1, transform=ax.get_xaxis_transform(), color="tab:orange", lw=1.2, label="lr drop")
            for ax in (top, middle, bottom)
        }
        top.set(ylabel="valid loss", yscale="log", ylim=(0.07, 3.0))  # the toy's whole range, noise included
        middle.axhline(0, color="0.6", lw=0.8)
        self.bar = middle.axhline(0, color="tab:red", ls="--", lw=1.2)
        (self.lrs,) = bottom.step([], [], where="mid", color="tab:green", lw=1.5)
        bottom.set(xlabel="epoch", ylabel="lr", yscale="log", ylim=(LR * 1e-5, LR * 1.5))  # below 1e-6 nothing trains
        for ax in (top, middle, bottom):
            ax.title.set_fontsize(9)
            ax.minorticks_off()  # a log axis makes dozens of minor ticks, the slowest part of a redraw
        for ax in (top, middle):  # one epoch axis, labelled once at the bottom: fewer labels to draw
            ax.tick_params(labelbottom=False)
        fig.subplots_adjust(left=0.09, right=0.98, bottom=0.08, top=0.95, hspace=0.4)  # fixed: tight_layout is slow
        self.moving = [
            *self.cooling.values(),
            self.values,
            *self.points.values(),
            self.best,
            self.bar,
            *self.changes.values(),
            self.lrs,
            *self.drops.values(),
            top.title,
            bottom.title,
        ]

    def show(self, result: dict) -> None:
        top, middle, bottom = self.top, self.middle, self.bottom
        epochs, s, better = result["epoch"], result["settings"], result["better"]
        if self.changed("epochs", epochs[-1]):
            for ax in (top, middle, bottom):
                ax.set_xlim(0, epochs[-1] + 1)
        spans = [
            [(a - 0.5, -1e9), (b + 0.5, -1e9), (b + 0.5, 1e9), (a - 0.5, 1e9)]
            for a, b in _runs([e for e, cooling in zip(epochs, result["cooldown"]) if cooling])
        ]
        for collection in self.cooling.values():
            collection.set_verts(spans)
        self.values.set_data(epochs, result["value"])
        for counted, line in self.points.items():
            chosen = [(e, v) for e, v, b in zip(epochs, result["value"], better) if b is counted]
            line.set_data([e for e, _ in chosen], [v for _, v in chosen])
        self.best.set_data(epochs, result["best"])
        for collection in self.drops.values():  # a drop is decided after an epoch and used from the next one
            collection.set_segments([[(e + 0.5, 0), (e + 0.5, 1)] for e in result["drops"]])
        entries = [
            (self.points[True], "improved (beat the bar)"),
            (self.points[False], "bad epoch"),
            (self.best, "best so far"),
            (self.drops[top], "lr drop"),
        ]
        self.legend(
            top, entries + ([(self.cooling[top], "cooldown")] if spans else []), fontsize=7, loc="upper right", ncol=2
        )  # drawn again only when the cooldown entry comes or goes
        top.title.set_text(
            f"patience={s['patience']}, factor={s['factor']:g}, threshold={s['threshold']:.2g} "
            f"({s['threshold_mode']}), cooldown={s['cooldown']}: {len(result['drops'])} lr drops"
        )

        relative = s["threshold_mode"] == "rel"  # the change in % of the best (rel) or in the metric's units (abs)
        scale = 100.0 if relative else 1.0
        changes = [scale * c for c in result["change"][1:]]  # the first epoch has no best before it
        bar = -scale * s["threshold"]
        limit = max(2.5 * abs(bar), 2.5 * sorted(abs(c) for c in changes)[len(changes) // 2]) if changes else 1.0
        limit = _nice(limit)  # on a 1-2-5 scale: most drags keep the axis
        shown = [min(max(c, -limit), limit) for c in changes]  # clipped to the axis: big early gains sit on its edge
        self.bar.set_ydata([bar, bar])
        for counted, line in self.changes.items():
            chosen = [(e, c) for e, c, b in zip(epochs[1:], shown, better[1:]) if b is counted]
            line.set_data([e for e, _ in chosen], [c for _, c in chosen])
        if self.changed("change axis", (limit, relative)):
            middle.set(ylabel="change vs best" + (" (%)" if relative else ""), ylim=(-1.1 * limit, 1.1 * limit))
            middle.set_title(
                "each epoch against the best before it: only points below the red bar (the threshold) count as better"
            )
        self.lrs.set_data(epochs, result["lr"])
        bottom.title.set_text(f"lr per epoch (final {result['final_lr']:.1e})")


def draw(result: dict, fig):
    """The explorer's picture of ``result`` on ``fig``: its three axes."""
    picture = Picture(fig)
    picture.show(result)
    return [picture.top, picture.middle, picture.bottom]


def _nice(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value``."""
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value * (1 - 1e-12))


def describe(result: dict) -> str:
    """When the scheduler cut the lr, and where it ended."""
    drops = result["drops"]
    when = ", ".join(str(epoch) for epoch in drops) if drops else "never"
    return (
        f"{len(drops)} lr drop{'s' if len(drops) != 1 else ''} (after epoch {when}); "
        f"the lr ends at {result['final_lr']:.1e}."
    )


def _runs(epochs: list[int]) -> list[tuple[int, int]]:
    """Consecutive epochs as (first, last) runs: one shaded span each instead of one per epoch."""
    runs = []
    for epoch in epochs:
        if runs and runs[-1][1] == epoch - 1:
            runs[-1] = (runs[-1][0], epoch)
        else:
            runs.append((epoch, epoch))
    return runs


def explorer(
    patience: int = 5, factor: float = 0.5, threshold: float = 0.01, threshold_mode: str = "rel", cooldown: int = 0
):
    """Drag patience, factor, threshold, threshold_mode and cooldown; the scheduler is replayed on each change."""
    import ipywidgets as w

    compute(patience, factor, threshold, threshold_mode, cooldown)  # bad values fail here, with their names

    controls = {
        "patience": base.slider(w.IntSlider, "patience", patience, 0, 20),
        "factor": base.slider(w.FloatSlider, "factor", factor, 0.05, 0.95, 0.05),
        "threshold": base.log_slider("threshold", threshold, 1e-4, 0.3),
        "threshold_mode": w.Dropdown(options=THRESHOLD_MODES, value=threshold_mode, description="threshold_mode"),
        "cooldown": base.slider(w.IntSlider, "cooldown", cooldown, 0, 15),
    }

    def render(picture, **values):
        result = compute(**values)
        picture.show(result)
        return describe(result)

    box = w.VBox([w.HBox(list(controls.values())[:3]), w.HBox(list(controls.values())[3:])])
    figure = base.LiveFigure(render, figsize=(9, 5.6), height="600px", picture=Picture)
    box.children = (*box.children, figure.widget())
    return base.connect(controls, figure, layout=box, featured=FEATURED)
