"""Learning-rate explorer: drag the lr, pick an optimizer, read the loss curve and its diagnosis.

For each optimizer, one vectorised sweep (:func:`course_lib.lr.sweep.run_sweep`) trains the spirals MLP
(2-64-64-2) at every lr of a log grid, four per decade from 1e-4 to 10, from the same initial weights
and batches. The slider snaps to that grid, so the curve shown is a member of the sweep: moving it
only redraws. Left: that member's loss per update, titled with :func:`course_lib.diagnosis.diagnose`'s
label, its sentence beneath; right: every member's final training loss against its lr, this lr marked.
Left of the best lrs the labels run "too slow", then "healthy"; past the edge of stability the runs
are chaotic (``sweep_of(..., nudge=1e-7)`` ends elsewhere), so which too-large label a member gets
there, or whether it ends healthy, can change from one lr to the next: read that region as a whole.

>>> result = compute("adam", 1e-2)
>>> result["label"], round(result["lr"], 4)
('healthy', 0.01)
"""
from __future__ import annotations

import math
from functools import lru_cache

from ..device import thread_policy

OPTIMIZERS = {"SGD": "sgd", "SGD + momentum": "momentum", "Adam": "adam"}  # dropdown label -> sweep optimizer
LOW, HIGH, STEPS_PER_DECADE = 1e-4, 10.0, 4
NUM_STEPS, BATCH_SIZE, NUM_SAMPLES = 300, 64, 1000


def grid() -> list[float]:
    """The lrs every sweep trains: the log slider's own positions."""
    from ..lr.sweep import log_grid

    return log_grid(LOW, HIGH, round(math.log10(HIGH / LOW) * STEPS_PER_DECADE) + 1)


@lru_cache(maxsize=8)
def sweep_of(optimizer: str, seed: int = 0, nudge: float = 0.0):
    """The :class:`~course_lib.lr.sweep.SweepResult` over :func:`grid` for one optimizer (computed once, then cached).

    ``nudge`` adds that number to every initial weight: ``1e-7`` is about what another CPU's rounding
    changes, so comparing with ``nudge=0`` shows which members are chaotic (past the edge of stability).
    """
    import torch

    from ..data import datasets
    from .. import models
    from ..lr import sweep

    if optimizer not in OPTIMIZERS.values():
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS.values())}, got {optimizer!r}")
    if not (isinstance(nudge, (int, float)) and not isinstance(nudge, bool) and abs(nudge) < 1e-3):
        raise ValueError(f"nudge must be a number smaller than 1e-3 in size (1e-7 is typical), got {nudge!r}")

    def model():
        net = models.MLP(2, 2, width=64, depth=2)
        with torch.no_grad():
            for parameter in net.parameters():
                parameter.add_(nudge)
        return net

    X, y = datasets.make_spirals(NUM_SAMPLES, seed=seed)
    with thread_policy():
        return sweep.run_sweep(model, X, y, optimizer, lrs=grid(), num_steps=NUM_STEPS, batch_size=BATCH_SIZE,
                               seed=seed, device="cpu")


def compute(optimizer: str = "momentum", lr: float = 0.05, seed: int = 0) -> dict:
    """The sweep member nearest ``lr`` (on a log scale): its losses, its diagnosis and the whole sweep's final losses."""
    if not (isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    lrs = grid()
    index = min(range(len(lrs)), key=lambda i: abs(math.log(lrs[i] / lr)))
    return _member(optimizer, index, seed)


@lru_cache(maxsize=256)
def _member(optimizer: str, index: int, seed: int) -> dict:
    from ..diagnosis import diagnose

    result = sweep_of(optimizer, seed)
    history = result.histories()[index]
    verdict = diagnose(history)
    return {"optimizer": optimizer, "lr": result.lrs[index], "index": index, "losses": list(history.step["loss"]),
            "status": history.status, "diverged_at_step": history.diverged_at_step, "label": verdict.label,
            "sentence": verdict.sentence, "lrs": result.lrs, "final_loss": result.final_loss, "statuses": result.status}


def draw(result: dict, fig) -> list:
    """Left: the member's loss per update, diagnosed; right: final loss against lr for the whole sweep."""
    from matplotlib.ticker import NullLocator

    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
    name = next(k for k, v in OPTIMIZERS.items() if v == result["optimizer"])
    losses = result["losses"]
    left.plot(range(len(losses)), [v if math.isfinite(v) else float("nan") for v in losses], color="tab:blue", lw=1)
    if result["diverged_at_step"] is not None:
        left.axvline(result["diverged_at_step"], color="tab:red", ls=":", label=f"diverged at update {result['diverged_at_step']}")
        left.legend(loc="upper right", fontsize=8)
    left.set(xlabel="update (step)", ylabel="training loss (log scale)", yscale="log", xlim=(0, NUM_STEPS),
             title=f"{name}, lr = {result['lr']:.2g}: {result['label']}")
    finite = [(lr, v) for lr, v in zip(result["lrs"], result["final_loss"]) if math.isfinite(v)]
    right.plot([p[0] for p in finite], [p[1] for p in finite], "o-", color="0.4", markersize=3, label="completed")
    diverged = [lr for lr, status in zip(result["lrs"], result["statuses"]) if status == "diverged"]
    right.plot(diverged, [0.97] * len(diverged), "x", color="tab:red", transform=right.get_xaxis_transform(), label="diverged")
    if math.isfinite(result["final_loss"][result["index"]]):
        right.plot([result["lr"]], [result["final_loss"][result["index"]]], "o", color="tab:orange", markersize=10, label="this lr")
    right.axvline(result["lr"], color="tab:orange", lw=1)
    right.set(xscale="log", yscale="log", xlabel="learning rate (log scale)", ylabel="final training loss",
              title=f"the sweep: {len(result['lrs'])} lrs, {NUM_STEPS} updates each")
    right.legend(loc="lower left", fontsize=8)
    for ax in (left, right):
        _plain_log_ticks(ax)
    right.xaxis.set_minor_locator(NullLocator())
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.92, wspace=0.28)  # fixed margins: tight_layout is slow
    return [left, right]


def describe(result: dict) -> str:
    """The diagnosis of the curve shown: its label and what to do."""
    return f"{result['label']}: {result['sentence']}"


def _plain_log_ticks(ax) -> None:
    """Few plain ticks on a log y axis (0.3, not 3x10^-1), at 1, 2, 3 and 5 (every digit within a decade):
    matplotlib's many minor log ticks cost more time to draw than the curves."""
    from matplotlib.ticker import FixedLocator, NullLocator

    low, high = ax.get_ylim()
    digits = range(1, 10) if high < 10 * low else (1, 2, 3, 5)
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    ax.yaxis.set_major_locator(FixedLocator([d * 10.0**e for e in decades for d in digits if low <= d * 10.0**e <= high]))
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.2g}")
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylim(low, high)


def explorer(optimizer: str = "momentum", lr: float = 0.05, seed: int = 0):
    """A log slider for the lr and an optimizer menu; the three sweeps are run when it is built (a second or two)."""
    import ipywidgets as w

    from .base import LiveFigure, connect, log_slider

    if optimizer not in OPTIMIZERS.values():
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS.values())}, got {optimizer!r}")
    if not (isinstance(lr, (int, float)) and LOW <= lr <= HIGH):
        raise ValueError(f"lr must be a number in [{LOW:g}, {HIGH:g}], got {lr!r}")
    for name in OPTIMIZERS.values():  # every later change only redraws
        sweep_of(name, seed)
    controls = {
        "optimizer": w.Dropdown(options=list(OPTIMIZERS.items()), value=optimizer, description="optimizer"),
        "lr": log_slider("learning rate", lr, LOW, HIGH, steps_per_decade=STEPS_PER_DECADE),
    }

    def render(fig, optimizer, lr):
        result = compute(optimizer, lr, seed)
        draw(result, fig)
        return describe(result)

    return connect(controls, LiveFigure(render, figsize=(10, 3.9), height="420px"))
