"""Early-stopping explorer: a validation-loss trace played through course_lib's ``EarlyStopping``.

Drag ``patience`` and ``min_delta`` and see where the run stops, which epoch was best (the weights
``restore_best_weights`` puts back) and how the wait counter climbs towards the patience. The trace
is a real run's (``explorer(trace=history.epoch["valid_loss"])``) or generated: a curve that falls,
bottoms out at a known epoch and rises again, times random noise.

>>> result = compute(noisy_trace(60, noise=0.08, seed=0), patience=5, min_delta=0.0)
>>> result["stop_epoch"] - result["best_epoch"] <= 5
True
"""

from __future__ import annotations

import math
from functools import lru_cache

from ..training.early_stopping import EarlyStopping
from ..validate import check_choice, check_int, check_number, is_number
from . import base

SOURCES = ("generated", "real run")
MODES = ("min", "max")  # a loss, an accuracy
FEATURED = ("patience", "min_delta")  # what the lesson asks a reader to drag first: the static site varies these
LATENCY_CASES = (  # control changes benchmarks/widget_latency.py times, one after another
    {"patience": 2},
    {"patience": 12},
    {"min_delta": 0.01},
    {"noise": 0.15},
    {"seed": 3},
    {"patience": 2},
)
WAIT_TOPS = (7, 12, 22, 32)  # the wait counter's axis ends at the first of these above patience + 1: few redraws


def truth_curve(num_epochs: int = 60) -> tuple[float, ...]:
    """The noise-free validation loss of the generated traces: ``1.6 exp(-t/4) + 0.1 + 0.004 t``.

    It falls fast, bottoms out at epoch ``TRUE_BEST_EPOCH`` (18) and then rises slowly, as a validation
    loss does once a model starts to overfit.
    """
    check_int("num_epochs", num_epochs, 2)
    return tuple(1.6 * math.exp(-t / 4) + 0.1 + 0.004 * t for t in range(1, num_epochs + 1))


TRUE_BEST_EPOCH = 18  # the slope 0.004 - 0.4 exp(-t/4) is zero at t = 4 ln 100 = 18.4; epoch 18 is lower than 19


@lru_cache(maxsize=256)
def noisy_trace(num_epochs: int = 60, noise: float = 0.08, seed: int = 0) -> tuple[float, ...]:
    """``truth_curve`` times ``exp(noise * z)`` with z standard normal: a noisy validation loss, always > 0.

    ``noise`` is the relative size of the epoch-to-epoch wobble (0.08: about 8%).
    """
    import numpy as np

    check_int("num_epochs", num_epochs, 2)
    check_int("seed", seed, 0)
    check_number("noise", noise, 0, 1)
    z = np.random.default_rng(seed).standard_normal(num_epochs)
    return tuple(float(v * math.exp(noise * e)) for v, e in zip(truth_curve(num_epochs), z))


def compute(
    values, patience: int, min_delta: float, mode: str = "min", truth=None, label: str = "validation loss"
) -> dict:
    """Feed ``values`` one epoch at a time to ``EarlyStopping.update``; return what happened, as plain data.

    ``stop_epoch`` is the 1-based epoch after which training stops (``None``: it never stops within the
    trace), ``best_epoch``/``best_value`` the point restored, ``waits`` the wait counter after each epoch.
    ``truth`` (optional) is a noise-free curve and ``label`` the trace's name, both kept for drawing.
    """
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) == 0:
        raise ValueError("values must be a non-empty sequence of numbers (one per epoch)")
    if not all(is_number(v) or (isinstance(v, float) and math.isnan(v)) for v in values):
        raise ValueError("values must hold plain numbers (use [float(v) for v in ...] for tensors)")
    result = _compute(
        tuple(float(v) for v in values),
        patience,
        min_delta,
        mode,
        None if truth is None else tuple(float(v) for v in truth),
    )
    return {**result, "label": label}


@lru_cache(maxsize=1024)
def _compute(values: tuple, patience, min_delta, mode, truth) -> dict:
    stopper = EarlyStopping(mode=mode, patience=patience, min_delta=min_delta)  # validates the rest
    waits, stop_epoch, reason = [], None, f"never stops within {len(values)} epochs"
    for epoch, value in enumerate(values, start=1):
        stop, why = stopper.update(float(value))
        waits.append(stopper.wait)
        if stop:
            stop_epoch, reason = epoch, why
            break
    return {
        "values": list(values),
        "truth": list(truth) if truth is not None else None,
        "mode": mode,
        "patience": patience,
        "min_delta": min_delta,
        "waits": waits,
        "stop_epoch": stop_epoch,
        "best_epoch": stopper.best_epoch,
        "best_value": stopper.best,
        "reason": reason,
    }


class Picture(base.Picture):
    """Left: the trace, the stop and the restored best epoch. Right: the wait counter against patience."""

    def __init__(self, fig):
        from matplotlib.ticker import MaxNLocator

        super().__init__(fig)
        grid = fig.add_gridspec(1, 3)
        self.ax, self.ax_wait = ax, ax_wait = fig.add_subplot(grid[0, :2]), fig.add_subplot(grid[0, 2])
        (self.truth,) = ax.plot([], [], ":", color="black", alpha=0.6, label="noise-free curve")
        (self.trained,) = ax.plot([], [], "-o", markersize=3, color="C0", label="trained")
        (self.untrained,) = ax.plot([], [], "--", color="0.65", label="never trained (after the stop)")
        self.stop_line = ax.axvline(1, color="C3")  # the title names the epoch: one legend entry less to draw
        self.span = ax.axvspan(1, 2, color="C3", alpha=0.08)
        (self.star,) = ax.plot([], [], "*", color="C2", markersize=16, zorder=5, label="best epoch")
        ax.set_xlabel("epoch")
        (self.waits,) = ax_wait.step([], [], where="mid", color="C1")
        self.patience_line = ax_wait.axhline(0, color="C3", linestyle="--")
        self.patience_text = ax_wait.text(
            0, 0, "", color="C3", fontsize=9, va="bottom", transform=ax_wait.get_yaxis_transform()
        )
        ax_wait.set(xlabel="epoch", ylabel="epochs without improvement", title="wait counter")
        ax_wait.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.9, wspace=0.4)  # tight_layout costs a redraw
        self.moving = [
            self.span,
            self.untrained,
            self.trained,
            self.stop_line,
            self.star,
            ax.title,
            self.waits,
            self.patience_line,
            self.patience_text,
        ]

    def show(self, result: dict) -> None:
        ax, ax_wait = self.ax, self.ax_wait
        values, stop, best, label = result["values"], result["stop_epoch"], result["best_epoch"], result["label"]
        trained = stop or len(values)
        epochs = list(range(1, len(values) + 1))
        self._trace(result, epochs)
        self.trained.set_data(epochs[:trained], values[:trained])
        self.trained.set_label(f"{label} (trained)")
        for artist in (self.untrained, self.stop_line, self.span):
            artist.set_visible(stop is not None)
        if stop is not None:
            self.untrained.set_data(epochs[stop - 1 :], values[stop - 1 :])
            self.stop_line.set_xdata([stop, stop])
            self.span.set_x(max(best, 1))
            self.span.set_width(stop - max(best, 1))
        self.star.set_visible(best > 0)
        if best > 0:
            self.star.set_data([best], [result["best_value"]])
        # constant labels (the epochs are in the title and the text beneath): the legend is drawn again only when
        # an entry comes or goes
        entries = [(self.truth, "noise-free curve")] if result["truth"] is not None else []
        entries.append((self.trained, f"{label} (trained)"))
        if stop is not None:
            entries.append((self.untrained, "never trained (after the stop)"))
        if best > 0:
            entries.append((self.star, "best epoch" + (" (restored)" if stop is not None else "")))
        self.legend(ax, entries, fontsize=8, loc="upper right" if result["mode"] == "min" else "lower right")
        what = f"stops after epoch {stop} (red)" if stop is not None else f"never stops in {len(values)} epochs"
        # short titles: both must fit over their panels at the explorer's 9.5-inch width
        ax.title.set_text(f"patience {result['patience']}, min_delta {result['min_delta']:g}: {what}")
        patience, waits = result["patience"], result["waits"]
        self.waits.set_data(epochs[:trained], waits)
        self.patience_line.set_ydata([patience, patience])
        # named above the line, at the end away from the stop: the counter only reaches the line where the run stops
        right = stop is not None and stop <= len(values) / 2
        self.patience_text.set(
            text=f"patience {patience}", x=0.97 if right else 0.03, y=patience, ha="right" if right else "left"
        )
        top = next((t for t in WAIT_TOPS if t >= max(patience, max(waits)) + 2), max(patience, max(waits)) + 2)
        if self.changed("wait axis", (len(values), top)):
            ax_wait.set(xlim=(0.5, len(values) + 0.5), ylim=(-0.5, top))

    def _trace(self, result: dict, epochs: list) -> None:
        """What changes only with the trace's source: the noise-free curve, the axes' scales and limits, the label."""
        from matplotlib.ticker import FormatStrFormatter, LogLocator, NullLocator

        ax, values, truth = self.ax, result["values"], result["truth"]
        finite = [v for v in values if math.isfinite(v)]
        log = result["mode"] == "min" and bool(finite) and min(finite) > 0  # a loss falls by a factor of ten or more
        if truth is not None:  # a generated trace: limits that hold every noise level and seed (noise * z < 1.2)
            low, high = min(truth) * math.exp(-1.2), max(truth) * math.exp(1.2)
        else:
            low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
            low, high = (
                (low / (high / low) ** 0.05, high * (high / low) ** 0.05)
                if log
                else (low - 0.05 * (high - low + 1e-12), high + 0.05 * (high - low + 1e-12))
            )
        n = len(epochs)
        if not self.changed("trace", (truth is not None, tuple(truth or ()), log, low, high, n, result["label"])):
            return
        self.truth.set_visible(truth is not None)
        self.truth.set_data(epochs if truth is not None else [], truth or [])
        ax.set_yscale("log" if log else "linear")
        if log:
            ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.yaxis.set_minor_locator(NullLocator())  # fewer ticks: a faster redraw
        ax.set(ylim=(low, high), xlim=(1 - 0.05 * (n - 1), n + 0.05 * (n - 1)), ylabel=result["label"])


def draw(result: dict, fig):
    """The explorer's picture of ``result`` on ``fig``: its two axes."""
    picture = Picture(fig)
    picture.show(result)
    return [picture.ax, picture.ax_wait]


def describe(result: dict) -> str:
    """Where the run stops and which epoch's weights it keeps."""
    if result["stop_epoch"] is None:
        return (
            f"No stop in {len(result['values'])} epochs ({result['reason']}); the best epoch is {result['best_epoch']}."
        )
    if result["best_epoch"] == 0:  # not one finite value before the stop (a trace that starts with NaN)
        return f"Stops after epoch {result['stop_epoch']}: {result['reason']}; no epoch to restore."
    lost = result["stop_epoch"] - result["best_epoch"]
    return (
        f"Stops after epoch {result['stop_epoch']} and restores epoch {result['best_epoch']} "
        f"({result['label']} {result['best_value']:.4g}); {lost} epoch{'s' if lost != 1 else ''} trained past the best. "
        f"{result['reason'][0].upper()}{result['reason'][1:]}."
    )


def explorer(
    trace=None,
    mode: str = "min",
    label: str = "validation loss",
    patience: int = 5,
    min_delta: float = 0.0,
    noise: float = 0.08,
    seed: int = 0,
    num_epochs: int = 60,
):
    """Controls for the trace source, patience, min_delta, and the noise and seed of a generated trace."""
    import ipywidgets as w

    real = None
    if trace is not None:
        real = tuple(float(v) for v in trace)
        if len(real) == 0:
            raise ValueError("trace must hold at least one value (one per epoch), or be None for a generated trace")
    check_choice("mode", mode, MODES)
    check_int("patience", patience, 0)
    check_number("min_delta", min_delta, 0)
    noisy_trace(num_epochs, noise, seed)  # checks num_epochs, noise and seed
    slider = {"continuous_update": False, "style": {"description_width": "initial"}}
    controls = {
        "source": w.Dropdown(
            options=list(SOURCES) if real else ["generated"],
            value="real run" if real else "generated",
            description="trace",
        ),
        "patience": w.IntSlider(value=patience, min=0, max=30, description="patience", **slider),
        "min_delta": w.FloatSlider(
            value=min_delta, min=0.0, max=0.05, step=0.001, readout_format=".3f", description="min_delta", **slider
        ),
        "noise": w.FloatSlider(value=noise, min=0.0, max=0.3, step=0.01, description="noise (generated)", **slider),
        "seed": w.IntSlider(value=seed, min=0, max=20, description="seed (generated)", **slider),
    }

    def render(picture, source, patience, min_delta, noise, seed):
        if source == "real run":
            result = compute(real, patience, min_delta, mode, label=label)
        else:
            result = compute(
                noisy_trace(num_epochs, noise, seed),
                patience,
                min_delta,
                "min",
                truth_curve(num_epochs),
                label="generated validation loss",
            )
        picture.show(result)
        return describe(result)

    names = list(controls)
    figure = base.LiveFigure(render, figsize=(9.5, 3.5), picture=Picture)
    layout = w.VBox(
        [w.HBox([controls[n] for n in names[:3]]), w.HBox([controls[n] for n in names[3:]]), figure.widget()]
    )
    return base.connect(controls, figure, layout=layout, featured=FEATURED)
