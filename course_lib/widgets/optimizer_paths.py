"""Optimizer paths: SGD, heavy-ball and Nesterov momentum, and Adam walking down a 2-D loss surface.

Each path is a real ``torch.optim`` run on a tensor of two parameters (the point ``w``) from the same
start. SGD and both momentum methods share one lr and one momentum; Adam has its own (``adam_lr``, the
same lr when not given), since its step is about ``lr`` long whatever the gradient's size. Two surfaces:

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

SURFACES = {  # name: (start point, minimum, plot window (x0, x1, y0, y1))
    "valley": ((-4.0, 1.0), (0.0, 0.0), (-4.5, 1.5, -1.6, 1.6)),
    "rosenbrock": ((-1.5, 2.0), (1.0, 1.0), (-2.0, 2.0, -1.0, 3.0)),
}
OPTIMIZERS = ("SGD", "SGD + momentum", "SGD + Nesterov", "Adam")
# Drawn in this order: SGD as a wide pale band underneath, so that a path the others follow stays visible.
STYLES = {"SGD": dict(color="tab:blue", linewidth=4, alpha=0.45), "SGD + momentum": dict(color="tab:orange", linewidth=1.6),
          "SGD + Nesterov": dict(color="tab:red", linewidth=1.2), "Adam": dict(color="tab:green", linewidth=1.2)}
BLOW_UP = 1e6  # a point this far out has diverged: its path stops there


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
    return {name: dict(path) for name, path in _paths(surface, float(lr), float(momentum), int(num_steps), float(adam_lr)).items()}


@lru_cache(maxsize=512)
def _paths(surface, lr, momentum, num_steps, adam_lr) -> dict:
    import torch

    makers = {"SGD": lambda p: torch.optim.SGD(p, lr=lr), "SGD + momentum": lambda p: torch.optim.SGD(p, lr=lr, momentum=momentum),
              "SGD + Nesterov": lambda p: torch.optim.SGD(p, lr=lr, momentum=momentum, nesterov=momentum > 0),
              "Adam": lambda p: torch.optim.Adam(p, lr=adam_lr)}
    points = {name: torch.tensor(SURFACES[surface][0], dtype=torch.float64, requires_grad=True) for name in OPTIMIZERS}
    optimizers = {name: makers[name]([points[name]]) for name in OPTIMIZERS}
    out = {name: {"x": [], "y": [], "loss": [], "diverged_at": None} for name in OPTIMIZERS}
    moving = list(OPTIMIZERS)
    for step in range(num_steps + 1):
        # One forward and one backward for all the points still moving (the sum's gradient for each point
        # is that point's own gradient): four separate backward calls would take most of a widget's time.
        values = loss(surface, torch.stack([points[name] for name in moving], dim=1))  # (len(moving),)
        coordinates, heights = torch.stack([points[name].detach() for name in moving]).tolist(), values.tolist()
        keep = []
        for k, (name, (x, y), height) in enumerate(zip(moving, coordinates, heights)):
            path = out[name]
            path["x"].append(x), path["y"].append(y), path["loss"].append(height)
            if math.isfinite(height) and max(abs(x), abs(y)) < BLOW_UP:
                keep.append(k)
            else:
                path["diverged_at"] = step
        if step == num_steps or not keep:
            break
        for name in moving:
            optimizers[name].zero_grad()
        values[keep].sum().backward()
        moving = [moving[k] for k in keep]
        for name in moving:
            optimizers[name].step()
    return {name: {"x": tuple(path["x"]), "y": tuple(path["y"]), "loss": tuple(path["loss"]), "diverged_at": path["diverged_at"]}
            for name, path in out.items()}


def compute(surface: str = "valley", lr: float = 0.08, momentum: float = 0.9, num_steps: int = 200,
            adam_lr: float | None = None) -> dict:
    """The four paths plus the contour grid of the surface and the settings: plain data for :func:`draw`."""
    return {"surface": surface, "lr": lr, "momentum": momentum, "num_steps": num_steps,
            "adam_lr": lr if adam_lr is None else adam_lr,
            "paths": paths(surface, lr, momentum, num_steps, adam_lr), "grid": _grid(surface)}


@lru_cache(maxsize=4)
def _grid(surface: str, size: int = 120) -> dict:
    import numpy as np

    x0, x1, y0, y1 = SURFACES[surface][2]
    X, Y = np.meshgrid(np.linspace(x0, x1, size), np.linspace(y0, y1, size))
    return {"X": X, "Y": Y, "Z": loss(surface, np.stack([X, Y]))}


def draw(result: dict, fig):
    """The surface in bands of log-spaced height, the paths from the start, and a dot where each one ends."""
    import numpy as np

    ax = fig.add_subplot(1, 1, 1)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.26, top=0.93)  # fixed margins (tight_layout is slow); legend below
    grid = result["grid"]
    levels = np.geomspace(max(grid["Z"].min(), 1e-3), grid["Z"].max(), 14)  # filled bands, lighter downhill: a small PNG
    ax.contourf(grid["X"], grid["Y"], grid["Z"], levels=levels, colors=[str(v) for v in np.linspace(1.0, 0.72, len(levels) - 1)],
                extend="min")
    start, minimum, (x0, x1, y0, y1) = SURFACES[result["surface"]]
    for name in OPTIMIZERS:
        path, style = result["paths"][name], STYLES[name]
        end = "diverged" if path["diverged_at"] is not None else f"loss {path['loss'][-1]:.2g}"
        shown = len(path["x"])
        if path["diverged_at"] is not None:  # up to where it leaves the window: the rest is off the picture anyway
            shown = next((i + 1 for i, (x, y) in enumerate(zip(path["x"], path["y"])) if not (x0 <= x <= x1 and y0 <= y <= y1)), shown)
        ax.plot(path["x"][:shown], path["y"][:shown], ".-", markersize=3, label=f"{name}: {end}", **style)
        if path["diverged_at"] is None:
            ax.plot(path["x"][-1], path["y"][-1], "o", color=style["color"], markersize=8, markeredgecolor="black", zorder=6)
    ax.plot(*start, "ko", markersize=6, label="start")
    ax.plot(*minimum, "k*", markersize=12, label="minimum")
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="w1", ylabel="w2",
           title=f"{result['surface']}: {result['num_steps']} steps, lr {result['lr']:.2g} (momentum {result['momentum']:g}), "
                 f"Adam lr {result['adam_lr']:.2g}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=3, fontsize=8)
    return [ax]


def describe(result: dict) -> str:
    """Where each optimizer ended."""
    ends = []
    for name in OPTIMIZERS:
        path = result["paths"][name]
        ends.append(f"{name} diverged at step {path['diverged_at']}" if path["diverged_at"] is not None
                    else f"{name} ends at loss {path['loss'][-1]:.3g}")
    return f"After {result['num_steps']} steps on the {result['surface']}: " + "; ".join(ends) + "."


def explorer(surface: str = "valley", lr: float = 0.08, momentum: float = 0.9, adam_lr: float = 0.1, num_steps: int = 200):
    """A surface menu, log sliders for the lr of SGD (with and without momentum) and Adam's, and the momentum."""
    import ipywidgets as w

    from .base import LiveFigure, connect, log_slider

    _check(surface, lr, momentum, num_steps, adam_lr)
    controls = {
        "surface": w.Dropdown(options=list(SURFACES), value=surface, description="surface"),
        "lr": log_slider("lr (SGD, momentum)", lr, 1e-4, 1.0),
        "adam_lr": log_slider("Adam lr", adam_lr, 1e-4, 1.0),
        "momentum": w.FloatSlider(value=momentum, min=0.0, max=0.99, step=0.01, description="momentum",
                                  continuous_update=False),
    }

    def render(fig, surface, lr, adam_lr, momentum):
        result = compute(surface, lr, momentum, num_steps, adam_lr)
        draw(result, fig)
        return describe(result)

    return connect(controls, LiveFigure(render, figsize=(7, 5.6), height="580px"))


def _check(surface, lr, momentum, num_steps, adam_lr) -> None:
    if surface not in SURFACES:
        raise ValueError(f"surface must be one of {tuple(SURFACES)}, got {surface!r}")
    for name, value in (("lr", lr), ("adam_lr", adam_lr)):
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not (isinstance(momentum, (int, float)) and 0 <= momentum < 1):
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if not isinstance(num_steps, int) or isinstance(num_steps, bool) or num_steps < 1:
        raise ValueError(f"num_steps must be an int >= 1, got {num_steps!r}")
