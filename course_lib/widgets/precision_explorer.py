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

FORMATS = ("float32", "bfloat16", "float16")
COLORS = {"float32": "tab:blue", "bfloat16": "tab:green", "float16": "tab:orange"}
SPREAD, NUM_GRADIENTS = 1.0, 4000  # the gradients: 10 ** (exponent + SPREAD * z), z standard normal


def limits(name: str) -> dict:
    """Largest finite value, smallest normal, smallest subnormal and eps of a torch float format."""
    import torch

    info = torch.finfo(getattr(torch, name))
    return {"max": info.max, "smallest_normal": info.smallest_normal, "smallest_subnormal": info.smallest_normal * info.eps,
            "eps": info.eps, "bits": info.bits}


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
    if not isinstance(exponent, (int, float)) or not -40 <= exponent <= 38:
        raise ValueError(f"exponent must be a number in [-40, 38], got {exponent!r}")
    if not isinstance(loss_scale_log2, int) or isinstance(loss_scale_log2, bool) or not 0 <= loss_scale_log2 <= 40:
        raise ValueError(f"loss_scale_log2 must be an int in [0, 40], got {loss_scale_log2!r}")
    return _compute(round(float(exponent), 6), loss_scale_log2)


@lru_cache(maxsize=1024)
def _compute(exponent: float, loss_scale_log2: int) -> dict:
    import torch

    value, scale = 10.0**exponent, 2.0**loss_scale_log2
    formats = {}
    for name in FORMATS:
        stored = store(value, name)
        formats[name] = {"stored": stored, "status": status(stored, name),
                         "relative_error": abs(stored - value) / value if math.isfinite(stored) else math.inf}
    scaled = store(value * scale, "float16")
    recovered = scaled / scale  # unscaling happens in fp32, on the fp32 master gradients
    z = torch.randn(NUM_GRADIENTS, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gradients = 10.0 ** (exponent + SPREAD * z)
    plain, with_scale = gradients.half(), (gradients * scale).half()
    fp16 = limits("float16")
    return {
        "exponent": exponent, "value": value, "loss_scale": scale, "formats": formats,
        "scaled": {"stored": scaled, "status": status(scaled, "float16"), "recovered": recovered,
                   "relative_error": abs(recovered - value) / value if math.isfinite(recovered) else math.inf},
        "log10_gradients": gradients.log10().tolist(),
        "lost_without_scale": float((plain == 0).double().mean()),
        "overflow_without_scale": float(plain.isinf().double().mean()),
        "subnormal_without_scale": float(((plain != 0) & (plain.abs() < fp16["smallest_normal"])).double().mean()),
        "lost_with_scale": float((with_scale == 0).double().mean()),
        "overflow_with_scale": float(with_scale.isinf().double().mean()),
    }


def draw(result: dict, fig):
    """Left: each format's range on a log axis with the value (and the scaled value); right: the gradients."""
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    low, high = -14, 16
    for row, name in enumerate(FORMATS):
        lim = limits(name)
        sub, normal, top = (math.log10(lim[k]) for k in ("smallest_subnormal", "smallest_normal", "max"))
        left.barh(row, min(normal, high) - max(sub, low), left=max(sub, low), color=COLORS[name], alpha=0.3, height=0.5)
        left.barh(row, min(top, high) - max(normal, low), left=max(normal, low), color=COLORS[name], height=0.5)
        info = result["formats"][name]
        left.text(low + 0.2, row + 0.33, f"{name}: {info['stored']:.6g} ({info['status']}, rel. error {info['relative_error']:.1e})",
                  fontsize=8, va="bottom", bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0, "pad": 1})
    x, xs = result["exponent"], result["exponent"] + math.log10(result["loss_scale"])
    left.axvline(x, color="black", lw=1.5, label=f"value 1e{x:+.1f}")
    left.axvline(xs, color="tab:red", lw=1.2, ls="--", label=f"value x 2^{int(math.log2(result['loss_scale']))} (in fp16: {result['scaled']['status']})")
    left.set(xlim=(low, high), ylim=(-0.5, 3.5), yticks=range(3), yticklabels=FORMATS,
             xlabel="log10 |value| (fp32 and bf16 go on to 1e-38 .. 3e38)")
    left.set_title("each format's range: solid normal, pale subnormal", fontsize=10)
    left.legend(fontsize=8, loc="upper center", ncol=2)  # above the three rows, so it hides no bar and no label
    fp16 = limits("float16")
    bins = [low + 0.25 * i for i in range(4 * (high - low) + 1)]
    counts = right.hist(result["log10_gradients"], bins=bins, color="0.4", histtype="step", lw=1.5, label="gradients")[0]
    right.hist([g + math.log10(result["loss_scale"]) for g in result["log10_gradients"]], bins=bins, color="tab:red",
               histtype="step", lw=1.5, label="gradients x scale")
    for key, style, label in (("smallest_subnormal", ":", "smallest subnormal"), ("smallest_normal", "--", "smallest normal"),
                              ("max", "-", "largest")):
        right.axvline(math.log10(fp16[key]), color="tab:orange", ls=style, lw=1, label=f"fp16 {label}")
    right.set(xlim=(low, high), ylim=(0, 1.6 * max(counts)), xlabel="log10 |gradient|", ylabel="count")
    right.set_title(f"gradients in fp16, lost to 0 / to inf:\n{result['lost_without_scale']:.1%} / "
                    f"{result['overflow_without_scale']:.1%} unscaled, {result['lost_with_scale']:.1%} / "
                    f"{result['overflow_with_scale']:.1%} scaled", fontsize=10)
    right.legend(fontsize=7, loc="upper center", ncol=2)  # in the headroom above the histograms
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.13, top=0.87, wspace=0.2)  # fixed: tight_layout is slow
    return [left, right]


def describe(result: dict) -> str:
    """The value, what fp16 keeps of it with the loss scale, and the share of gradients lost."""
    x = result["exponent"]
    return (f"10^{x:+.1f} = {result['value']:.4g}; with loss scale 2^{int(math.log2(result['loss_scale']))} fp16 stores "
            f"{result['scaled']['stored']:.4g}, unscaled back: {result['scaled']['recovered']:.4g}. "
            f"Gradients lost to 0 in fp16: {result['lost_without_scale']:.1%} unscaled, {result['lost_with_scale']:.1%} scaled; "
            f"overflowing to inf: {result['overflow_without_scale']:.1%} unscaled, {result['overflow_with_scale']:.1%} scaled.")


def explorer(exponent: float = -6.0, loss_scale_log2: int = 16):
    """Drag the value's exponent and the loss scale; the formats and the gradient spread are redrawn."""
    import ipywidgets as w

    from .base import LiveFigure, connect

    controls = {
        "exponent": w.FloatSlider(value=exponent, min=-12, max=6, step=0.1, description="log10 value",
                                  continuous_update=False, style={"description_width": "initial"}),
        "loss_scale_log2": w.IntSlider(value=loss_scale_log2, min=0, max=32, description="loss scale 2^k",
                                       continuous_update=False, style={"description_width": "initial"}),
    }

    def render(fig, exponent, loss_scale_log2):
        result = compute(exponent, loss_scale_log2)
        draw(result, fig)
        return describe(result)

    return connect(controls, LiveFigure(render, figsize=(12, 4.2), height="450px"))
