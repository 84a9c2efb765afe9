"""Schedule explorer: pick a learning-rate schedule, drag its parameters, see the lr at every step.

``compute`` builds the ``course_lib.lr.schedules`` callable (inside ``Warmup`` when ``warmup_steps > 0``)
and PyTorch's built-in equivalent (``LinearLR`` + ``SequentialLR`` for the warm-up), traces both and
returns plain tuples; ``draw`` only plots; ``explorer`` shows the controls of the chosen schedule.

>>> result = compute("cosine", lr=0.1, num_steps=100, warmup_steps=10)
>>> result["max_difference"] < 1e-12
True
"""

from __future__ import annotations

import math
from functools import lru_cache

from ..lr import schedules
from ..validate import check_choice, check_int, check_number
from . import base

SCHEDULES = ("constant", "step decay", "exponential", "1/t", "multistep", "cosine", "cosine restarts", "one-cycle")
PARAMETERS = {  # the controls each schedule reads, besides lr, num_steps and warmup_steps
    "constant": (),
    "step decay": ("step_size", "gamma"),
    "exponential": ("exp_gamma",),
    "1/t": ("k",),
    "multistep": ("milestones", "gamma"),
    "cosine": (),
    "cosine restarts": ("period", "period_mult"),
    "one-cycle": ("pct_start",),
}
START_FACTOR = 0.1  # the warm-up starts at 10% of the schedule's first lr
FEATURED = ("schedule", "warmup_steps")  # what the lesson asks a reader to drag first: the static site varies these
LATENCY_CASES = (  # control changes benchmarks/widget_latency.py times, one after another
    {"schedule": "step decay"},
    {"step_size": 60},
    {"gamma": 0.3},
    {"warmup_steps": 50},
    {"schedule": "cosine restarts"},
    {"period": 150},
    {"schedule": "one-cycle"},
    {"pct_start": 0.5},
    {"lr": 0.01},
    {"log_y": True},
    {"schedule": "step decay"},
    {"schedule": "cosine"},
    {"num_steps": 800},
)


def build(name: str, lr: float, num_steps: int, warmup_steps: int = 0, **params):
    """(course_lib schedule, ``optimizer -> torch scheduler``) for one choice of the controls.

    With a warm-up, the schedule proper starts after it: milestones, step sizes and periods count from there.
    """
    import torch.optim.lr_scheduler as torch_schedulers

    check_choice("name", name, SCHEDULES)
    unknown = set(params) - set(PARAMETERS[name])
    if unknown:
        raise ValueError(f"{name!r} takes the parameters {PARAMETERS[name]}, not {sorted(unknown)}")
    check_number("lr", lr, 0, include_low=False)
    check_int("num_steps", num_steps, 1)
    check_int("warmup_steps", warmup_steps, 0)
    if warmup_steps >= num_steps:
        raise ValueError(f"warmup_steps must be an int in [0, num_steps={num_steps}), got {warmup_steps!r}")
    if name == "one-cycle" and warmup_steps:
        raise ValueError("warmup_steps must be 0 for 'one-cycle': its first pct_start of the run is its warm-up")
    length = num_steps - warmup_steps  # the schedule proper starts after the warm-up
    p = params
    if name == "constant":
        ours, theirs = schedules.Constant(lr), lambda o: torch_schedulers.ConstantLR(o, factor=1.0, total_iters=0)
    elif name == "step decay":
        ours = schedules.StepDecay(lr, p["step_size"], p["gamma"])
        theirs = lambda o: torch_schedulers.StepLR(o, p["step_size"], p["gamma"])  # noqa: E731
    elif name == "exponential":
        ours, theirs = (
            schedules.Exponential(lr, p["exp_gamma"]),
            lambda o: torch_schedulers.ExponentialLR(o, p["exp_gamma"]),
        )
    elif name == "1/t":  # PyTorch has no 1/t built-in: LambdaLR with the formula
        ours, theirs = (
            schedules.InverseTime(lr, p["k"]),
            lambda o: torch_schedulers.LambdaLR(o, lambda t: 1 / (1 + p["k"] * t)),
        )
    elif name == "multistep":
        milestones = sorted(set(p["milestones"]))
        ours = schedules.MultiStep(lr, milestones, p["gamma"])
        theirs = lambda o: torch_schedulers.MultiStepLR(o, milestones, p["gamma"])  # noqa: E731
    elif name == "cosine":
        ours, theirs = schedules.Cosine(lr, length), lambda o: torch_schedulers.CosineAnnealingLR(o, T_max=length)
    elif name == "cosine restarts":
        ours = schedules.CosineRestarts(lr, p["period"], p["period_mult"])
        theirs = lambda o: torch_schedulers.CosineAnnealingWarmRestarts(o, T_0=p["period"], T_mult=p["period_mult"])  # noqa: E731
    else:
        ours = schedules.OneCycle(lr, num_steps, p["pct_start"])
        theirs = lambda o: torch_schedulers.OneCycleLR(o, max_lr=lr, total_steps=num_steps, pct_start=p["pct_start"])  # noqa: E731
    if not warmup_steps:
        return ours, theirs
    main = theirs
    return (
        schedules.Warmup(ours, warmup_steps, START_FACTOR),
        lambda o: torch_schedulers.SequentialLR(
            o,
            [torch_schedulers.LinearLR(o, START_FACTOR, total_iters=warmup_steps), main(o)],
            milestones=[warmup_steps],
        ),
    )


def compute(name: str, lr: float = 0.1, num_steps: int = 500, warmup_steps: int = 0, **params) -> dict:
    """The lr at each step from course_lib and from PyTorch's built-in, and how far apart they are."""
    check_choice("name", name, SCHEDULES)
    check_number("lr", lr, 0, include_low=False)
    check_int("num_steps", num_steps, 1)
    if "milestones" in params:
        params["milestones"] = tuple(params["milestones"])
    return _compute(name, float(lr), int(num_steps), warmup_steps, tuple(sorted(params.items())))


@lru_cache(maxsize=512)
def _compute(name, lr, num_steps, warmup_steps, params) -> dict:
    ours, theirs = build(name, lr, num_steps, warmup_steps, **dict(params))
    curve = tuple(schedules.lr_curve(ours, num_steps))
    torch_curve = tuple(schedules.trace(theirs, num_steps, lr=lr))
    return {
        "name": name,
        "params": dict(params),
        "warmup_steps": warmup_steps,
        "steps": tuple(range(num_steps)),
        "lr": curve,
        "torch_lr": torch_curve,
        "max_difference": max(abs(a - b) for a, b in zip(curve, torch_curve)),
        "final_lr": curve[-1],
        "mean_lr": sum(curve) / num_steps,
    }


class Picture(base.Picture):
    """lr per step of the course_lib schedule and of PyTorch's built-in (log axis when ``result["log_y"]``)."""

    def __init__(self, fig):
        super().__init__(fig)
        self.ax = ax = fig.add_subplot(1, 1, 1)
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.14, top=0.86)  # fixed margins: tight_layout is slow
        self.warmup = ax.axvspan(0, 1, color="tab:orange", alpha=0.15)
        (self.ours,) = ax.plot([], [], color="tab:blue", lw=2)
        (self.theirs,) = ax.plot([], [], color="black", ls="--", lw=1)
        ax.set(xlabel="update (step)", ylabel="learning rate")
        ax.title.set_fontsize(10)
        self.moving = [self.warmup, self.ours, self.theirs, ax.title]

    def show(self, result: dict) -> None:
        ax, log_y, steps = self.ax, result.get("log_y", False), result["steps"]
        self.warmup.set_visible(bool(result["warmup_steps"]))
        self.warmup.set_width(result["warmup_steps"])
        self.ours.set_data(steps, result["lr"])
        self.theirs.set_data(steps, result["torch_lr"])
        entries = [(self.warmup, "warm-up")] if result["warmup_steps"] else []
        self.legend(
            ax,
            entries + [(self.ours, "course_lib.lr.schedules"), (self.theirs, "torch.optim.lr_scheduler")],
            loc="upper right",
            fontsize=8,
        )
        high, low = max(result["lr"]), min(result["lr"])
        if log_y:  # whole decades: most drags keep the axis
            limits = (10.0 ** math.floor(math.log10(max(low, high * 1e-6))), 10.0 ** math.ceil(math.log10(high) + 0.02))
        else:
            limits = (-0.05 * high, 1.1 * high)
        if self.changed("axes", (log_y, limits, len(steps))):
            from matplotlib.ticker import LogLocator, NullLocator

            ax.set_yscale("log" if log_y else "linear")
            if log_y:  # plain labels (0.01, not 10^-2: a mathtext label takes ten times as long to draw), few of them
                ax.yaxis.set_major_locator(LogLocator(numticks=6))
                ax.yaxis.set_major_formatter(lambda v, _: f"{v:g}")
                ax.yaxis.set_minor_locator(NullLocator())
            ax.set(ylim=limits, xlim=(-0.02 * len(steps), 1.02 * len(steps)))
        settings = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in result["params"].items())
        ax.title.set_text(
            f"{result['name']}({settings}): final lr {result['final_lr']:.1e}, mean lr {result['mean_lr']:.1e}, "
            f"max |course_lib - torch| = {result['max_difference']:.0e}"
        )


def draw(result: dict, fig):
    """The explorer's picture of ``result`` on ``fig``: its axes."""
    picture = Picture(fig)
    picture.show(result)
    return [picture.ax]


def describe(result: dict) -> str:
    """Where the schedule ends and how closely PyTorch's built-in follows it."""
    return (
        f"{result['name']}: the lr ends at {result['final_lr']:.2e} after {len(result['steps'])} steps, mean "
        f"{result['mean_lr']:.2e}; PyTorch's built-in differs by at most {result['max_difference']:.0e}."
    )


def explorer(schedule: str = "cosine", lr: float = 0.1, num_steps: int = 500, warmup_steps: int = 0):
    """Pick a schedule from the dropdown and drag its parameters; only its own controls are shown."""
    import ipywidgets as w

    check_choice("schedule", schedule, SCHEDULES)
    check_number("lr", lr, 1e-3, 1.0)
    check_int("num_steps", num_steps, 100)
    check_int("warmup_steps", warmup_steps, 0)
    if num_steps > 2000 or warmup_steps > 250:
        raise ValueError(
            f"num_steps must be an int in [100, 2000] and warmup_steps one in [0, 250], the sliders' "
            f"ranges, got {num_steps!r} and {warmup_steps!r}"
        )

    def slider(kind, description, value, low, high, step=1, **extra):  # each its own Layout: hiding one hides only it
        return base.slider(kind, description, value, low, high, step, layout=w.Layout(width="300px"), **extra)

    common = {
        "schedule": w.Dropdown(options=SCHEDULES, value=schedule, description="schedule"),
        "lr": base.log_slider("lr", lr, 1e-3, 1.0),
        "num_steps": slider(w.IntSlider, "num_steps", num_steps, 100, 2000, 50),
        "warmup_steps": slider(w.IntSlider, "warmup_steps", warmup_steps, 0, 250, 5),
        "log_y": w.Checkbox(value=False, description="log lr axis"),
    }
    own = {
        "step_size": slider(w.IntSlider, "step_size", 100, 5, 500, 5),
        "gamma": slider(w.FloatSlider, "gamma", 0.5, 0.05, 0.95, 0.05),
        "milestones": slider(w.IntRangeSlider, "milestones", (250, 375), 5, 2000, 5),
        "exp_gamma": slider(w.FloatSlider, "gamma", 0.995, 0.95, 0.9995, 0.0005, readout_format=".4f"),
        "k": base.log_slider("k", 0.02, 1e-4, 1.0),  # 1/t: lr / (1 + k * step)
        "period": slider(w.IntSlider, "period (T_0)", 100, 10, 1000, 10),
        "period_mult": slider(w.IntSlider, "period_mult (T_mult)", 1, 1, 3),
        "pct_start": slider(w.FloatSlider, "pct_start", 0.3, 0.05, 0.95, 0.05),
    }

    def show_own(_change=None):  # only the chosen schedule's controls are visible; one-cycle has its own warm-up
        name = common["schedule"].value
        for key, control in own.items():
            control.layout.display = "" if key in PARAMETERS[name] else "none"
        common["warmup_steps"].disabled = name == "one-cycle"

    def render(picture, schedule, lr, num_steps, warmup_steps, log_y, **values):
        warmup = 0 if schedule == "one-cycle" else min(warmup_steps, num_steps - 1)
        result = {
            **compute(schedule, lr, num_steps, warmup, **{k: values[k] for k in PARAMETERS[schedule]}),
            "log_y": log_y,
        }
        picture.show(result)
        return describe(result)

    common["schedule"].observe(show_own, names="value")
    show_own()
    controls = {**common, **own}
    box = w.VBox([w.HBox(list(common.values())), w.HBox(list(own.values()))])
    figure = base.LiveFigure(render, figsize=(9, 3.6), picture=Picture)
    box.children = (*box.children, figure.widget())
    return base.connect(controls, figure, layout=box, featured=FEATURED)
