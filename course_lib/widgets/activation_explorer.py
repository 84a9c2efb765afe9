"""Activation explorer: which output range each activation gives, and where its gradient dies.

Inputs ``x`` span ``[-x_range, x_range]`` and are divided by a temperature ``T`` before the
activation (``f(x / T)``: a small ``T`` makes every curve steeper, a large one flatter). Drawn: sigmoid
(0, 1), tanh (-1, 1), ReLU [0, inf), softplus (0, inf) and the scaled sigmoid ``a + (b - a) sigmoid``
for (a, b), with their gradients ``d f(x / T) / dx``; and the softmax of five logits spread over the
same range, which are each in (0, 1) and sum to 1.

>>> result = compute(x_range=6.0, temperature=1.0, a=-1.0, b=3.0)
>>> round(result["ranges"]["scaled sigmoid"][0], 2), round(result["ranges"]["scaled sigmoid"][1], 2)
(-0.99, 2.99)
"""

from __future__ import annotations

import math
from functools import lru_cache

from ..validate import check_number
from . import base

NAMES = ("sigmoid", "tanh", "relu", "softplus", "scaled sigmoid")
RANGES = {
    "sigmoid": "(0, 1)",
    "tanh": "(-1, 1)",
    "relu": "[0, inf)",
    "softplus": "(0, inf)",
    "scaled sigmoid": "(a, b)",
}
COLORS = {
    "sigmoid": "tab:blue",
    "tanh": "tab:orange",
    "relu": "tab:green",
    "softplus": "tab:red",
    "scaled sigmoid": "tab:purple",
}
NUM_POINTS, NUM_LOGITS = 201, 5
FEATURED = ("temperature", "x_range")  # what the lesson asks a reader to drag first: the static site varies these
LATENCY_CASES = (  # control changes benchmarks/widget_latency.py times, one after another
    {"x_range": 12.0},
    {"temperature": 0.3},
    {"a": -3.0},
    {"b": 5.0},
    {"temperature": 3.0},
    {"x_range": 3.0},
    {"temperature": 1.0},
    {"a": -1.0},
)


def activations(a: float, b: float) -> dict:
    """The functions themselves, as torch callables."""
    import torch
    from torch.nn import functional as F

    return {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "softplus": F.softplus,
        "scaled sigmoid": lambda z: a + (b - a) * torch.sigmoid(z),
    }


def compute(x_range: float = 6.0, temperature: float = 1.0, a: float = -1.0, b: float = 3.0) -> dict:
    """Curves, gradients and measured ranges on the window, and the softmax of the spread logits (float64)."""
    check_number("x_range", x_range, 0, include_low=False)
    check_number("temperature", temperature, 0, include_low=False)
    check_number("a", a)
    check_number("b", b)
    if not a < b:
        raise ValueError(f"the scaled sigmoid needs a < b, got a = {a:g}, b = {b:g}")
    return _compute(float(x_range), float(temperature), float(a), float(b))


@lru_cache(maxsize=1024)
def _compute(x_range: float, temperature: float, a: float, b: float) -> dict:
    import torch

    x = torch.linspace(-x_range, x_range, NUM_POINTS, dtype=torch.float64, requires_grad=True)
    curves, gradients, ranges = {}, {}, {}
    for name, function in activations(a, b).items():
        y = function(x / temperature)
        (grad,) = torch.autograd.grad(y.sum(), x)  # elementwise, so the sum's gradient is each dy/dx
        y = y.detach()
        curves[name], gradients[name] = y.tolist(), grad.tolist()
        ranges[name] = (float(y.min()), float(y.max()))
    logits = torch.linspace(-x_range, x_range, NUM_LOGITS, dtype=torch.float64)
    probabilities = torch.softmax(logits / temperature, dim=0)
    flat = sum(abs(g) < 1e-2 * max(map(abs, gradients["sigmoid"])) for g in gradients["sigmoid"]) / NUM_POINTS
    return {
        "x": x.detach().tolist(),
        "curves": curves,
        "gradients": gradients,
        "ranges": ranges,
        "logits": logits.tolist(),
        "softmax": probabilities.tolist(),
        "softmax_sum": float(probabilities.sum()),
        "sigmoid_saturated_fraction": flat,
        "settings": dict(x_range=x_range, temperature=temperature, a=a, b=b),
    }


class Picture(base.Picture):
    """Left: the activations with their bounds; middle: their gradients; right: softmax of the logits."""

    def __init__(self, fig):
        from matplotlib.ticker import MaxNLocator

        super().__init__(fig)
        self.left, self.middle, self.right = fig.subplots(1, 3, gridspec_kw={"width_ratios": [3, 3, 2]})
        self.curves = {
            name: self.left.plot([], [], color=COLORS[name], label=f"{name} {RANGES[name]}")[0] for name in NAMES
        }
        self.gradients = {name: self.middle.plot([], [], color=COLORS[name], label=name)[0] for name in NAMES}
        self.bounds = [self.left.axhline(v, color=COLORS["scaled sigmoid"], ls=":", lw=1) for v in (0.0, 1.0)]
        self.left.set(xlabel="x", ylabel="f(x / T)")
        self.middle.set(xlabel="x", ylabel="d f(x / T) / dx")
        self.on_top = [
            self.left.legend(fontsize=7, loc="upper left", framealpha=1),  # drawn once, over the curves
            self.middle.legend(fontsize=7, loc="upper center", ncol=3, framealpha=1),
        ]  # above the gradients
        self.bars = self.right.bar(range(NUM_LOGITS), [0.0] * NUM_LOGITS, color="tab:gray")
        self.right.set(ylim=(0, 1.05), xlabel="logit", ylabel="softmax probability")
        for axis in (self.left, self.middle, self.right):
            axis.title.set_fontsize(9)
            axis.yaxis.set_major_locator(MaxNLocator(6))  # each tick label costs a millisecond at every redraw
        fig.subplots_adjust(left=0.06, right=0.99, bottom=0.14, top=0.9, wspace=0.28)  # fixed: tight_layout is slow
        self.moving = [
            *self.curves.values(),
            *self.bounds,
            self.left.title,
            *self.gradients.values(),
            self.middle.title,
            *self.bars,
            self.right.title,
        ]

    def show(self, result: dict) -> None:
        x, s = result["x"], result["settings"]
        for name, curve in self.curves.items():
            curve.set_data(x, result["curves"][name])
            self.gradients[name].set_data(x, result["gradients"][name])
        low, high = result["ranges"]["sigmoid"]
        self.left.title.set_text(f"outputs; on this window the sigmoid spans [{low:.4g}, {high:.4g}]")
        for line, bound in zip(self.bounds, (s["a"], s["b"])):
            line.set_ydata([bound, bound])
        window = (-1.05 * s["x_range"], 1.05 * s["x_range"])
        if self.changed("window", window):
            self.left.set_xlim(window)
            self.middle.set_xlim(window)
        if self.changed("outputs", (min(s["a"], -1.0) - 0.5, max(s["b"], 1.0) + 0.5)):
            self.left.set_ylim(self._last["outputs"])
        peak = max(max(g) for g in result["gradients"].values())  # every curve rises, so every gradient is >= 0
        top = _nice(1.45 * peak)  # on a 1-2-5 scale, with the legend's headroom: most drags keep the axis
        if self.changed("gradient axis", top):
            self.middle.set_ylim(-0.02 * top, top)
        self.middle.title.set_text(
            f"gradients: sigmoid flat (< 1% of its peak) on {result['sigmoid_saturated_fraction']:.0%} of the window"
        )
        for bar, p in zip(self.bars, result["softmax"]):
            bar.set_height(p)
        if self.changed("logits", [f"{z:.3g}" for z in result["logits"]]):
            self.right.set_xticks(range(NUM_LOGITS), self._last["logits"])
        self.right.title.set_text(f"softmax(logits / T): each in (0, 1), sum {result['softmax_sum']:.6f}")


def _nice(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value``."""
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value * (1 - 1e-12))


def draw(result: dict, fig):
    """The explorer's picture of ``result`` on ``fig``: its three axes."""
    picture = Picture(fig)
    picture.show(result)
    return [picture.left, picture.middle, picture.right]


def describe(result: dict) -> str:
    """The window, the temperature, each output's measured range and what the sigmoid's gradient does there."""
    s = result["settings"]
    ranges = "; ".join(f"{name} [{low:.6g}, {high:.6g}]" for name, (low, high) in result["ranges"].items())
    return (
        f"x in [-{s['x_range']:g}, {s['x_range']:g}], temperature T = {s['temperature']:.3g}, scaled sigmoid to "
        f"(a, b) = ({s['a']:g}, {s['b']:g}). Measured on this window: {ranges}. The sigmoid's gradient is below "
        f"1% of its peak on {result['sigmoid_saturated_fraction']:.0%} of it; the softmax outputs sum to "
        f"{result['softmax_sum']:.6f}."
    )


def explorer(x_range: float = 6.0, temperature: float = 1.0, a: float = -1.0, b: float = 3.0):
    """Drag the input range, the temperature and the bounds (a, b) of the scaled sigmoid.

    Bounds with a >= b are a slider position, not a mistake: the figure says so instead of drawing.
    """
    import ipywidgets as w

    compute(x_range, temperature, a, b)  # bad values fail here, with their names

    def slider(description, value, low, high, step):
        return base.slider(w.FloatSlider, description, value, low, high, step)

    controls = {
        "x_range": slider("input range +-", x_range, 1.0, 20.0, 0.5),
        "temperature": base.log_slider("temperature T", temperature, 0.1, 10.0),
        "a": slider("a", a, -5.0, 5.0, 0.5),
        "b": slider("b", b, -5.0, 5.0, 0.5),
    }

    def render(picture, x_range, temperature, a, b):
        result = compute(x_range, temperature, a, b)  # a >= b: its ValueError is shown in place of the figure
        picture.show(result)
        return describe(result)

    return base.connect(
        controls, base.LiveFigure(render, figsize=(13, 4.2), height="450px", picture=Picture), featured=FEATURED
    )
