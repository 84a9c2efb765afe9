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

from functools import lru_cache

NAMES = ("sigmoid", "tanh", "relu", "softplus", "scaled sigmoid")
RANGES = {"sigmoid": "(0, 1)", "tanh": "(-1, 1)", "relu": "[0, inf)", "softplus": "(0, inf)", "scaled sigmoid": "(a, b)"}
COLORS = {"sigmoid": "tab:blue", "tanh": "tab:orange", "relu": "tab:green", "softplus": "tab:red", "scaled sigmoid": "tab:purple"}
NUM_POINTS, NUM_LOGITS = 201, 5


def activations(a: float, b: float) -> dict:
    """The functions themselves, as torch callables."""
    import torch
    from torch.nn import functional as F

    return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "softplus": F.softplus,
            "scaled sigmoid": lambda z: a + (b - a) * torch.sigmoid(z)}


def compute(x_range: float = 6.0, temperature: float = 1.0, a: float = -1.0, b: float = 3.0) -> dict:
    """Curves, gradients and measured ranges on the window, and the softmax of the spread logits (float64)."""
    for name, value in (("x_range", x_range), ("temperature", temperature)):
        if not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a number > 0, got {value!r}")
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or not a < b:
        raise ValueError(f"a and b must be numbers with a < b, got a={a!r}, b={b!r}")
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
    return {"x": x.detach().tolist(), "curves": curves, "gradients": gradients, "ranges": ranges,
            "logits": logits.tolist(), "softmax": probabilities.tolist(), "softmax_sum": float(probabilities.sum()),
            "sigmoid_saturated_fraction": flat, "settings": dict(x_range=x_range, temperature=temperature, a=a, b=b)}


def draw(result: dict, fig):
    """Left: the activations with their bounds; middle: their gradients; right: softmax of the logits."""
    left, middle, right = fig.subplots(1, 3, gridspec_kw={"width_ratios": [3, 3, 2]})
    x, s = result["x"], result["settings"]
    for name in NAMES:
        low, high = result["ranges"][name]
        label = f"{name} {RANGES[name]}: here [{low:.6g}, {high:.6g}]"
        left.plot(x, result["curves"][name], color=COLORS[name], label=label)
        middle.plot(x, result["gradients"][name], color=COLORS[name], label=name)
    for bound in (s["a"], s["b"]):
        left.axhline(bound, color=COLORS["scaled sigmoid"], ls=":", lw=1)
    top = max(s["b"], 1.0) + 0.5
    left.set(xlabel="x", ylabel="f(x / T)", ylim=(min(s["a"], -1.0) - 0.5, top), title="outputs (range measured on this window)")
    left.legend(fontsize=7, loc="upper left")
    peak = max(max(g) for g in result["gradients"].values())  # every curve rises, so every gradient is >= 0
    middle.set(xlabel="x", ylabel="d f(x / T) / dx", ylim=(-0.03 * peak, 1.45 * peak),
               title=f"gradients: sigmoid flat (< 1% of its peak) on {result['sigmoid_saturated_fraction']:.0%} of the window")
    middle.legend(fontsize=7, loc="upper center", ncol=3)  # in the headroom above the highest gradient
    labels = [f"{z:.3g}" for z in result["logits"]]
    right.bar(labels, result["softmax"], color="tab:gray")
    right.set(ylim=(0, 1.05), xlabel="logit", ylabel="softmax probability",
              title=f"softmax(logits / T): each in (0, 1), sum {result['softmax_sum']:.6f}")
    for axis in (left, middle, right):
        axis.title.set_fontsize(9)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.14, top=0.9, wspace=0.28)  # fixed: tight_layout is slow
    return [left, middle, right]


def describe(result: dict) -> str:
    """The window, the temperature and what the sigmoid's gradient does on it."""
    s = result["settings"]
    return (f"x in [-{s['x_range']:g}, {s['x_range']:g}], temperature T = {s['temperature']:.3g}, scaled sigmoid to "
            f"(a, b) = ({s['a']:g}, {s['b']:g}): the sigmoid's gradient is below 1% of its peak on "
            f"{result['sigmoid_saturated_fraction']:.0%} of this window; the softmax outputs sum to {result['softmax_sum']:.6f}.")


def explorer(x_range: float = 6.0, temperature: float = 1.0, a: float = -1.0, b: float = 3.0):
    """Drag the input range, the temperature and the bounds (a, b) of the scaled sigmoid."""
    import ipywidgets as w

    from .base import LiveFigure, connect, log_slider

    def slider(description, value, low, high, step):
        return w.FloatSlider(value=value, min=low, max=high, step=step, description=description, continuous_update=False,
                             style={"description_width": "initial"})

    controls = {"x_range": slider("input range +-", x_range, 1.0, 20.0, 0.5),
                "temperature": log_slider("temperature T", temperature, 0.1, 10.0),
                "a": slider("a", a, -5.0, 5.0, 0.5), "b": slider("b", b, -5.0, 5.0, 0.5)}

    def render(fig, x_range, temperature, a, b):
        if not a < b:  # a slider position, not a programming error: say so in the figure
            message = f"the scaled sigmoid needs a < b (now a = {a:g}, b = {b:g})"
            fig.text(0.5, 0.5, message, ha="center", fontsize=12)
            return message
        result = compute(x_range, temperature, a, b)
        draw(result, fig)
        return describe(result)

    return connect(controls, LiveFigure(render, figsize=(13, 4.2), height="450px"))
