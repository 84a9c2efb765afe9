"""Precision explorer: one number stored in fp32, bf16 and fp16, and what a loss scale does for fp16.

Drag the value's exponent: see where each format rounds it, where fp16 runs out of range (above
65504 it is ``inf``, below about 6e-8 it is 0, and between 6e-8 and 6e-5 it keeps fewer digits), and
why bf16, with fp32's exponent range, needs no scaler. Drag the loss scale ``2**k``: a gradient of
that size times the scale is what fp16 has to hold during backward, and a whole spread of gradients
around the value shows how many would be lost without and with the scale.

>>> result = compute(exponent=-9.0, loss_scale_log2=16)
>>> result["formats"]["float16"]["status"], result["scaled"]["status"]
('underflow: 0', 'normal')
"""

from __future__ import annotations

import math
from functools import lru_cache

from ..validate import check_int, check_number
from . import base

FORMATS = ("float32", "bfloat16", "float16")
COLORS = {"float32": "tab:blue", "bfloat16": "tab:green", "float16": "tab:orange"}
SPREAD, NUM_GRADIENTS = 1.0, 4000  # the gradients: 10 ** (exponent + SPREAD * z), z standard normal
EXPONENTS, SCALES_LOG2 = (-40, 38), (0, 40)  # what compute accepts: 1e-40 to 1e38, loss scales 2**0 to 2**40
WINDOW = (-14, 16)  # the log10 axis drawn
FEATURED = ("exponent", "loss_scale_log2")  # what the lesson asks a reader to drag first: the static site varies these
LATENCY_CASES = (  # control changes benchmarks/widget_latency.py times, one after another
    {"exponent": -6.0},
    {"exponent": -8.5},
    {"loss_scale_log2": 8},
    {"loss_scale_log2": 24},
    {"exponent": 4.9},
    {"exponent": -3.0},
    {"loss_scale_log2": 16},
    {"exponent": -6.0},
)


def limits(name: str) -> dict:
    """Largest finite value, smallest normal, smallest subnormal and eps of a torch float format."""
    import torch

    info = torch.finfo(getattr(torch, name))
    return {
        "max": info.max,
        "smallest_normal": info.smallest_normal,
        "smallest_subnormal": info.smallest_normal * info.eps,
        "eps": info.eps,
        "bits": info.bits,
    }


def status(stored: float, name: str) -> str:
    if math.isinf(stored):
        return "overflow: inf"
    if stored == 0:
        return "underflow: 0"
    return "subnormal: fewer digits" if abs(stored) < limits(name)["smallest_normal"] else "normal"


def store(value: float, name: str) -> float:
    """``value`` rounded to the format ``name`` (round to nearest even), as a Python float."""
    import torch

    return torch.tensor(value, dtype=torch.float64).to(getattr(torch, name)).double().item()


def compute(exponent: float = -6.0, loss_scale_log2: int = 16) -> dict:
    """The value ``10 ** exponent`` in each format, and in fp16 after scaling by ``2 ** loss_scale_log2``."""
    check_number("exponent", exponent, *EXPONENTS)
    check_int("loss_scale_log2", loss_scale_log2, SCALES_LOG2[0])
    if loss_scale_log2 > SCALES_LOG2[1]:
        raise ValueError(f"loss_scale_log2 must be an int in [0, 40], got {loss_scale_log2!r}")
    return _compute(round(float(exponent), 6), loss_scale_log2)


@lru_cache(maxsize=1024)
def _compute(exponent: float, loss_scale_log2: int) -> dict:
    import torch

    value, scale = 10.0**exponent, 2.0**loss_scale_log2
    formats = {}
    for name in FORMATS:
        stored = store(value, name)
        formats[name] = {
            "stored": stored,
            "status": status(stored, name),
            "relative_error": abs(stored - value) / value if math.isfinite(stored) else math.inf,
        }
    scaled = store(value * scale, "float16")
    recovered = scaled / scale  # unscaling happens in fp32, on the fp32 master gradients
    z = torch.randn(NUM_GRADIENTS, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gradients = 10.0 ** (exponent + SPREAD * z)
    plain, with_scale = gradients.half(), (gradients * scale).half()
    fp16 = limits("float16")
    return {
        "exponent": exponent,
        "value": value,
        "loss_scale": scale,
        "formats": formats,
        "scaled": {
            "stored": scaled,
            "status": status(scaled, "float16"),
            "recovered": recovered,
            "relative_error": abs(recovered - value) / value if math.isfinite(recovered) else math.inf,
        },
        "log10_gradients": gradients.log10().tolist(),
        "lost_without_scale": float((plain == 0).double().mean()),
        "overflow_without_scale": float(plain.isinf().double().mean()),
        "subnormal_without_scale": float(((plain != 0) & (plain.abs() < fp16["smallest_normal"])).double().mean()),
        "lost_with_scale": float((with_scale == 0).double().mean()),
        "overflow_with_scale": float(with_scale.isinf().double().mean()),
    }


class Picture(base.Picture):
    """Left: each format's range on a log axis with the value (and the scaled value); right: the gradients."""

    def __init__(self, fig):
        import numpy as np

        super().__init__(fig)
        self.left, self.right = left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
        low, high = WINDOW
        self.texts = {}
        for row, name in enumerate(FORMATS):
            lim = limits(name)
            sub, normal, top = (math.log10(lim[k]) for k in ("smallest_subnormal", "smallest_normal", "max"))
            left.barh(
                row, min(normal, high) - max(sub, low), left=max(sub, low), color=COLORS[name], alpha=0.3, height=0.5
            )
            left.barh(row, min(top, high) - max(normal, low), left=max(normal, low), color=COLORS[name], height=0.5)
            self.texts[name] = left.text(
                low + 0.2,
                row + 0.33,
                "",
                fontsize=8,
                va="bottom",
                bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0, "pad": 1},
            )
        self.value = left.axvline(0, color="black", lw=1.5, label="the value")
        self.scaled = left.axvline(0, color="tab:red", lw=1.2, ls="--", label="the value x the loss scale")
        left.set(
            xlim=WINDOW,
            ylim=(-0.5, 3.5),
            yticks=range(3),
            yticklabels=FORMATS,
            xlabel="log10 |value| (fp32 and bf16 go on to 1e-38 .. 3e38)",
        )
        left.set_title("each format's range: solid normal, pale subnormal", fontsize=10)
        # above the three rows, so it hides no bar and no label; the other in the headroom above the histograms
        self.on_top = [left.legend(fontsize=8, loc="upper center", ncol=2, framealpha=1)]
        self.bins = np.arange(low, high + 0.125, 0.25)
        self.hists = {
            key: right.stairs(np.zeros(len(self.bins) - 1), self.bins, color=color, lw=1.5, label=label)
            for key, color, label in (("plain", "0.4", "gradients"), ("scaled", "tab:red", "gradients x scale"))
        }
        fp16 = limits("float16")
        for key, style, label in (
            ("smallest_subnormal", ":", "smallest subnormal"),
            ("smallest_normal", "--", "smallest normal"),
            ("max", "-", "largest"),
        ):
            right.axvline(math.log10(fp16[key]), color="tab:orange", ls=style, lw=1, label=f"fp16 {label}")
        # 0.25-wide bins of a normal spread of 1 hold at most ~10% of the gradients: headroom for the legend above them
        right.set(xlim=WINDOW, ylim=(0, 0.18 * NUM_GRADIENTS), xlabel="log10 |gradient|", ylabel="count")
        right.title.set_fontsize(10)
        self.on_top.append(right.legend(fontsize=7, loc="upper center", ncol=2, framealpha=1))
        fig.subplots_adjust(left=0.09, right=0.98, bottom=0.13, top=0.87, wspace=0.2)  # fixed: tight_layout is slow
        self.moving = [*self.hists.values(), self.value, self.scaled, *self.texts.values(), right.title]

    def show(self, result: dict) -> None:
        import numpy as np

        for name, text in self.texts.items():
            info = result["formats"][name]
            text.set_text(f"{name}: {info['stored']:.6g} ({info['status']}, rel. error {info['relative_error']:.1e})")
        x, shift = result["exponent"], math.log10(result["loss_scale"])
        self.value.set_xdata([x, x])
        self.scaled.set_xdata([x + shift, x + shift])
        gradients = np.asarray(result["log10_gradients"])
        counts = {
            "plain": np.histogram(gradients, self.bins)[0],
            "scaled": np.histogram(gradients + shift, self.bins)[0],
        }
        for key, stairs in self.hists.items():
            stairs.set_data(counts[key])
        self.right.title.set_text(
            f"gradients in fp16, lost to 0 / to inf:\n{result['lost_without_scale']:.1%} / "
            f"{result['overflow_without_scale']:.1%} unscaled, {result['lost_with_scale']:.1%} / "
            f"{result['overflow_with_scale']:.1%} scaled"
        )


def draw(result: dict, fig):
    """The explorer's picture of ``result`` on ``fig``: its two axes."""
    picture = Picture(fig)
    picture.show(result)
    return [picture.left, picture.right]


def describe(result: dict) -> str:
    """The value, what fp16 keeps of it with the loss scale, and the share of gradients lost."""
    x = result["exponent"]
    return (
        f"10^{x:+.1f} = {result['value']:.4g}; with loss scale 2^{int(math.log2(result['loss_scale']))} fp16 stores "
        f"{result['scaled']['stored']:.4g} ({result['scaled']['status']}), unscaled back: "
        f"{result['scaled']['recovered']:.4g}. "
        f"Gradients lost to 0 in fp16: {result['lost_without_scale']:.1%} unscaled, {result['lost_with_scale']:.1%} scaled; "
        f"overflowing to inf: {result['overflow_without_scale']:.1%} unscaled, {result['overflow_with_scale']:.1%} scaled."
    )


def explorer(exponent: float = -6.0, loss_scale_log2: int = 16):
    """Drag the value's exponent and the loss scale; the formats and the gradient spread are redrawn."""
    import ipywidgets as w

    compute(exponent, loss_scale_log2)  # bad values fail here, with their names
    controls = {
        "exponent": w.FloatSlider(
            value=exponent,
            min=-12,
            max=6,
            step=0.1,
            description="log10 value",
            continuous_update=False,
            style={"description_width": "initial"},
        ),
        "loss_scale_log2": w.IntSlider(
            value=loss_scale_log2,
            min=0,
            max=32,
            description="loss scale 2^k",
            continuous_update=False,
            style={"description_width": "initial"},
        ),
    }

    def render(picture, exponent, loss_scale_log2):
        result = compute(exponent, loss_scale_log2)
        picture.show(result)
        return describe(result)

    return base.connect(
        controls, base.LiveFigure(render, figsize=(12, 4.2), height="450px", picture=Picture), featured=FEATURED
    )
