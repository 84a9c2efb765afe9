"""Optimizer paths: SGD, heavy-ball and Nesterov momentum, and Adam walking down a 2-D loss surface.

Each path is a real ``torch.optim`` run on a tensor of two parameters (the point ``w``) from the same
start, given the surface's gradient (two formulas, :func:`gradient`). SGD and both momentum methods
share one lr and one momentum; Adam has its own (``adam_lr``, the same lr when not given), since its
step is about ``lr`` long whatever the gradient's size. Two surfaces:

- ``valley``: an ill-conditioned quadratic ``f(w) = (w1^2 + 20 w2^2) / 2``, steep across, shallow
  along; plain gradient descent is stable only for ``lr < 2 / 20`` and zigzags across well before that;
- ``rosenbrock``: ``f(w) = (1 - w1)^2 + 100 (w2 - w1^2)^2``, a curved, flat-bottomed valley with its
  minimum at (1, 1).

>>> result = paths("valley", lr=0.05, momentum=0.9, num_steps=100)
>>> sorted(result), result["SGD"]["x"][0] == result["Adam"]["x"][0]
(['Adam', 'SGD', 'SGD + Nesterov', 'SGD + momentum'], True)
"""

from __future__ import annotations

import math
from functools import lru_cache

from ..validate import check_choice, check_int, check_number
from . import base

SURFACES = {  # name: (start point, minimum, plot window (x0, x1, y0, y1))
    "valley": ((-4.0, 1.0), (0.0, 0.0), (-4.5, 1.5, -1.6, 1.6)),
    "rosenbrock": ((-1.5, 2.0), (1.0, 1.0), (-2.0, 2.0, -1.0, 3.0)),
}
OPTIMIZERS = ("SGD", "SGD + momentum", "SGD + Nesterov", "Adam")
# Drawn in this order: SGD as a wide pale band underneath, so that a path the others follow stays visible.
STYLES = {
    "SGD": dict(color="tab:blue", linewidth=4, alpha=0.45),
    "SGD + momentum": dict(color="tab:orange", linewidth=1.6),
    "SGD + Nesterov": dict(color="tab:red", linewidth=1.2),
    "Adam": dict(color="tab:green", linewidth=1.2),
}
BLOW_UP = 1e6  # a point this far out has diverged: its path stops there
LR_RANGE = (1e-4, 1.0)  # the sliders' range, for the lr of SGD (with and without momentum) and Adam's
FEATURED = ("lr", "momentum")  # what the lesson asks a reader to drag first: the static site varies these
LATENCY_CASES = (  # control changes benchmarks/widget_latency.py times, one after another
    {"lr": 0.02},
    {"momentum": 0.5},
    {"adam_lr": 0.01},
    {"lr": 0.12},
    {"surface": "rosenbrock"},
    {"lr": 0.001},
    {"adam_lr": 0.1},
    {"momentum": 0.9},
    {"surface": "valley"},
    {"lr": 0.08},
)


def loss(surface: str, w):
    """The surface's height at ``w`` (a tensor or array whose first axis holds the two coordinates)."""
    if surface == "valley":
        return (w[0] ** 2 + 20 * w[1] ** 2) / 2
    if surface == "rosenbrock":
        return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2
    raise ValueError(f"surface must be one of {tuple(SURFACES)}, got {surface!r}")


def paths(surface: str, lr: float, momentum: float = 0.9, num_steps: int = 200, adam_lr: float | None = None) -> dict:
    """``{optimizer: {"x", "y", "loss", "diverged_at"}}``: the points each torch optimizer visits, start included."""
    adam_lr = lr if adam_lr is None else adam_lr
    _check(surface, lr, momentum, num_steps, adam_lr)
    found = {
        **_sgd_paths(surface, float(lr), float(momentum), int(num_steps)),
        **_adam_path(surface, float(adam_lr), int(num_steps)),
    }
    return {name: dict(found[name]) for name in OPTIMIZERS}


@lru_cache(maxsize=512)
def _sgd_paths(surface, lr, momentum, num_steps) -> dict:
    """Plain SGD, heavy ball and Nesterov: one ``torch.optim.SGD`` with a parameter group for each point."""
    import torch

    points = [torch.tensor(SURFACES[surface][0], dtype=torch.float64) for _ in range(3)]
    optimizer = torch.optim.SGD(
        [
            {"params": [points[0]], "momentum": 0.0},
            {"params": [points[1]], "momentum": momentum},
            {"params": [points[2]], "momentum": momentum, "nesterov": momentum > 0},
        ],
        lr=lr,
    )
    return _walk(surface, OPTIMIZERS[:3], points, optimizer, num_steps)


@lru_cache(maxsize=512)
def _adam_path(surface, adam_lr, num_steps) -> dict:
    import torch

    point = torch.tensor(SURFACES[surface][0], dtype=torch.float64)
    return _walk(surface, OPTIMIZERS[3:], [point], torch.optim.Adam([point], lr=adam_lr), num_steps)


def gradient(surface: str, x: float, y: float) -> tuple[float, float]:
    """The surface's gradient at ``(x, y)``, written out: autograd on two numbers would cost four times the step."""
    if surface == "valley":
        return x, 20 * y
    r = y - x * x  # rosenbrock
    return -2 * (1 - x) - 400 * x * r, 200 * r


def _height(surface: str, x: float, y: float) -> float:
    """:func:`loss` on two Python floats, by products (``**`` raises OverflowError where a product gives inf)."""
    if surface == "valley":
        return (x * x + 20 * y * y) / 2
    r = y - x * x
    return (1 - x) * (1 - x) + 100 * r * r


def _walk(surface, names, points, optimizer, num_steps) -> dict:
    """Step ``optimizer`` over ``points`` (one per name) with the surface's gradient; a point that blows up stops
    there (its gradient stays None, so the optimizer leaves it alone)."""
    import torch

    out = {name: {"x": [], "y": [], "loss": [], "diverged_at": None} for name in names}
    moving = list(range(len(names)))
    for step in range(num_steps + 1):
        keep = []
        for k in moving:
            (x, y), path = points[k].tolist(), out[names[k]]
            height = _height(surface, x, y)
            path["x"].append(x), path["y"].append(y), path["loss"].append(height)
            if math.isfinite(height) and max(abs(x), abs(y)) < BLOW_UP:
                keep.append(k)
            else:
                path["diverged_at"] = step
        if step == num_steps or not keep:
            break
        for k, point in enumerate(points):
            point.grad = (
                torch.tensor(gradient(surface, *out[names[k]]["x"][-1:], *out[names[k]]["y"][-1:]), dtype=torch.float64)
                if k in keep
                else None
            )
        moving = keep
        optimizer.step()
    return {
        name: {
            "x": tuple(path["x"]),
            "y": tuple(path["y"]),
            "loss": tuple(path["loss"]),
            "diverged_at": path["diverged_at"],
        }
        for name, path in out.items()
    }


def compute(
    surface: str = "valley", lr: float = 0.08, momentum: float = 0.9, num_steps: int = 200, adam_lr: float | None = None
) -> dict:
    """The four paths plus the contour grid of the surface and the settings: plain data for :func:`draw`."""
    return {
        "surface": surface,
        "lr": lr,
        "momentum": momentum,
        "num_steps": num_steps,
        "adam_lr": lr if adam_lr is None else adam_lr,
        "paths": paths(surface, lr, momentum, num_steps, adam_lr),
        "grid": _grid(surface),
    }


@lru_cache(maxsize=4)
def _grid(surface: str, size: int = 120) -> dict:
    import numpy as np

    x0, x1, y0, y1 = SURFACES[surface][2]
    X, Y = np.meshgrid(np.linspace(x0, x1, size), np.linspace(y0, y1, size))
    return {"X": X, "Y": Y, "Z": loss(surface, np.stack([X, Y]))}


class Picture(base.Picture):
    """The surface in bands of log-spaced height, the paths from the start, and a dot where each one ends."""

    def __init__(self, fig):
        super().__init__(fig)
        self.ax = ax = fig.add_subplot(1, 1, 1)
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.26, top=0.93)  # fixed (tight_layout is slow); legend below
        self.bands = None  # the surface's contour set, made again when the surface changes
        self.paths = {name: ax.plot([], [], ".-", markersize=3, label=name, **STYLES[name])[0] for name in OPTIMIZERS}
        self.ends = {
            name: ax.plot([], [], "o", color=STYLES[name]["color"], markersize=8, markeredgecolor="black", zorder=6)[0]
            for name in OPTIMIZERS
        }
        (self.start,) = ax.plot([], [], "ko", markersize=6, label="start")
        (self.minimum,) = ax.plot([], [], "k*", markersize=12, label="minimum")
        ax.set(xlabel="w1", ylabel="w2")
        self.moving = [*self.paths.values(), *self.ends.values(), ax.title]
        # below the axes, names only (where each path ends is in the text beneath): drawn once
        self.on_top = [ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=3, fontsize=8, framealpha=1)]

    def show(self, result: dict) -> None:
        import numpy as np

        ax, surface = self.ax, result["surface"]
        start, minimum, (x0, x1, y0, y1) = SURFACES[surface]
        if self.changed("surface", surface):
            grid = result["grid"]
            levels = np.geomspace(max(grid["Z"].min(), 1e-3), grid["Z"].max(), 14)  # filled bands, lighter downhill
            if self.bands is not None:
                self.bands.remove()
            self.bands = ax.contourf(
                grid["X"],
                grid["Y"],
                grid["Z"],
                levels=levels,
                extend="min",
                colors=[str(v) for v in np.linspace(1.0, 0.72, len(levels) - 1)],
            )
            self.start.set_data([start[0]], [start[1]])
            self.minimum.set_data([minimum[0]], [minimum[1]])
            ax.set(xlim=(x0, x1), ylim=(y0, y1))
        for name in OPTIMIZERS:
            path, line, end = result["paths"][name], self.paths[name], self.ends[name]
            shown = len(path["x"])
            if path["diverged_at"] is not None:  # up to where it leaves the window: the rest is off the picture anyway
                shown = next(
                    (
                        i + 1
                        for i, (x, y) in enumerate(zip(path["x"], path["y"]))
                        if not (x0 <= x <= x1 and y0 <= y <= y1)
                    ),
                    shown,
                )
            line.set_data(path["x"][:shown], path["y"][:shown])
            end.set_visible(path["diverged_at"] is None)
            end.set_data([path["x"][-1]], [path["y"][-1]])
        ax.title.set_text(
            f"{surface}: {result['num_steps']} steps, lr {result['lr']:.2g} "
            f"(momentum {result['momentum']:g}), Adam lr {result['adam_lr']:.2g}"
        )


def draw(result: dict, fig):
    """The explorer's picture of ``result`` on ``fig``: its axes."""
    picture = Picture(fig)
    picture.show(result)
    return [picture.ax]


def describe(result: dict) -> str:
    """Where each optimizer ended."""
    ends = []
    for name in OPTIMIZERS:
        path = result["paths"][name]
        ends.append(
            f"{name} diverged at step {path['diverged_at']}"
            if path["diverged_at"] is not None
            else f"{name} ends at loss {path['loss'][-1]:.3g}"
        )
    return f"After {result['num_steps']} steps on the {result['surface']}: " + "; ".join(ends) + "."


def explorer(
    surface: str = "valley", lr: float = 0.08, momentum: float = 0.9, adam_lr: float = 0.1, num_steps: int = 200
):
    """A surface menu, log sliders for the lr of SGD (with and without momentum) and Adam's, and the momentum."""
    import ipywidgets as w

    _check(surface, lr, momentum, num_steps, adam_lr)
    for name, value in (("lr", lr), ("adam_lr", adam_lr)):
        check_number(name, value, *LR_RANGE)
    controls = {
        "surface": w.Dropdown(options=list(SURFACES), value=surface, description="surface"),
        "lr": base.log_slider("lr (SGD, momentum)", lr, *LR_RANGE),
        "adam_lr": base.log_slider("Adam lr", adam_lr, *LR_RANGE),
        "momentum": w.FloatSlider(
            value=momentum, min=0.0, max=0.99, step=0.01, description="momentum", continuous_update=False
        ),
    }

    def render(picture, surface, lr, adam_lr, momentum):
        result = compute(surface, lr, momentum, num_steps, adam_lr)
        picture.show(result)
        return describe(result)

    return base.connect(
        controls, base.LiveFigure(render, figsize=(7, 5.6), height="580px", picture=Picture), featured=FEATURED
    )


def _check(surface, lr, momentum, num_steps, adam_lr) -> None:
    check_choice("surface", surface, tuple(SURFACES))
    check_number("lr", lr, 0, include_low=False)
    check_number("adam_lr", adam_lr, 0, include_low=False)
    check_number("momentum", momentum, 0, 1, include_high=False)
    check_int("num_steps", num_steps, 1)
