"""Learning-rate explorer: drag the lr, pick an optimizer, read the loss curve and its diagnosis.

For each optimizer, one vectorised sweep (:func:`course_lib.lr.sweep.run_sweep`) trains the spirals MLP
(2-64-64-2) at every lr of a log grid, four per decade from 1e-4 to 10, from the same initial weights
and batches. The slider snaps to that grid, so the curve shown is a member of the sweep: moving it
only redraws. Left: that member's loss per update, titled with :func:`course_lib.diagnosis.diagnose`'s
label, its sentence beneath; right: every member's final training loss against its lr, this lr marked.
Left of the best lrs the labels run "too slow", then "healthy"; past the edge of stability the runs
are chaotic (``sweep_of(..., nudge=True)``, every initial weight one ulp away, ends elsewhere), so which
too-large label a member gets there, or whether it ends healthy, can change from one lr to the next: read
that region as a whole.

>>> result = compute("adam", 1e-2)
>>> result["label"], round(result["lr"], 4)
('healthy', 0.01)
"""

from __future__ import annotations

import math
from functools import lru_cache

from ..device import thread_policy
from ..training import statuses
from ..validate import check_choice, check_int, check_number
from . import base

OPTIMIZERS = {"SGD": "sgd", "SGD + momentum": "momentum", "Adam": "adam"}  # dropdown label -> sweep optimizer
LOW, HIGH, STEPS_PER_DECADE = 1e-4, 10.0, 4
NUM_STEPS, BATCH_SIZE, NUM_SAMPLES = 300, 64, 1000
FEATURED = ("optimizer", "lr")  # what the lesson asks a reader to drag first: the static site varies these
LATENCY_CASES = (  # control changes benchmarks/widget_latency.py times, one after another
    {"lr": 0.01},
    {"lr": 0.3},
    {"optimizer": "adam"},
    {"lr": 0.001},
    {"lr": 3.0},
    {"optimizer": "sgd"},
    {"lr": 1.0},
    {"lr": 0.1},
    {"optimizer": "momentum"},
    {"lr": 0.01},
)


def grid() -> list[float]:
    """The lrs every sweep trains: the log slider's own positions."""
    from ..lr.sweep import log_grid

    return log_grid(LOW, HIGH, round(math.log10(HIGH / LOW) * STEPS_PER_DECADE) + 1)


@lru_cache(maxsize=8)
def sweep_of(optimizer: str, seed: int = 0, nudge: bool = False):
    """The :class:`~course_lib.lr.sweep.SweepResult` over :func:`grid` for one optimizer (computed once, then cached).

    ``nudge=True`` moves every initial weight by one unit in its last place (:func:`course_lib.models.nudge_`),
    about what another CPU's rounding changes: comparing with the plain sweep shows which members are
    chaotic (past the edge of stability).
    """
    from .. import models
    from ..data import datasets
    from ..lr import sweep

    check_choice("optimizer", optimizer, tuple(OPTIMIZERS.values()))
    check_int("seed", seed, 0)
    check_choice("nudge", nudge, (False, True))

    def model():
        net = models.MLP(2, 2, width=64, depth=2)
        return models.nudge_(net) if nudge else net

    X, y = datasets.make_spirals(NUM_SAMPLES, seed=seed)
    with thread_policy():
        return sweep.run_sweep(
            model, X, y, optimizer, lrs=grid(), num_steps=NUM_STEPS, batch_size=BATCH_SIZE, seed=seed, device="cpu"
        )


def compute(optimizer: str = "momentum", lr: float = 0.05, seed: int = 0) -> dict:
    """The sweep member nearest ``lr`` (on a log scale): its losses, its diagnosis and the whole sweep's final losses."""
    check_choice("optimizer", optimizer, tuple(OPTIMIZERS.values()))
    check_number("lr", lr, LOW, HIGH)
    check_int("seed", seed, 0)
    lrs = grid()
    index = min(range(len(lrs)), key=lambda i: abs(math.log(lrs[i] / lr)))
    return _member(optimizer, index, seed)


@lru_cache(maxsize=256)
def _member(optimizer: str, index: int, seed: int) -> dict:
    from ..diagnosis import diagnose

    result = sweep_of(optimizer, seed)
    history = result.histories()[index]
    verdict = diagnose(history)
    return {
        "optimizer": optimizer,
        "lr": result.lrs[index],
        "index": index,
        "losses": list(history.step["loss"]),
        "status": history.status,
        "diverged_at_step": history.diverged_at_step,
        "label": verdict.label,
        "sentence": verdict.sentence,
        "lrs": result.lrs,
        "final_loss": result.final_loss,
        "statuses": result.status,
        "loss_decades": _loss_decades(optimizer, seed),
    }


@lru_cache(maxsize=16)
def _loss_decades(optimizer: str, seed: int) -> tuple[float, float]:
    """The decades every member's losses span, capped at 100 times the first loss (an explosion goes off the top)."""
    losses = [v for member in sweep_of(optimizer, seed).losses for v in member if math.isfinite(v) and v > 0]
    first = max(member[0] for member in sweep_of(optimizer, seed).losses)
    return _decades(min(losses), min(max(losses), 100 * first))


class Picture(base.Picture):
    """Left: the member's loss per update, diagnosed; right: final loss against lr for the whole sweep.

    The left axis is the same for every lr of an optimizer (the whole decades its sweep's losses span, up to
    100 times the first loss), so members compare at a glance, and a drag draws again only the curve, its
    title and the lr marker.
    """

    def __init__(self, fig):
        from matplotlib.ticker import NullLocator

        super().__init__(fig)
        self.left, self.right = left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
        (self.curve,) = left.plot([], [], color="tab:blue", lw=1)
        self.diverged_line = left.axvline(0, color="tab:red", ls=":", label="diverged")
        self.diverged_legend = left.legend(handles=[self.diverged_line], loc="upper right", fontsize=8)
        left.set(xlabel="update (step)", ylabel="training loss (log scale)", yscale="log", xlim=(0, NUM_STEPS))
        (self.sweep,) = right.plot([], [], "o-", color="0.4", markersize=3, label="completed")
        (self.diverged,) = right.plot(
            [], [], "x", color="tab:red", transform=right.get_xaxis_transform(), label="diverged"
        )
        (self.marker,) = right.plot([], [], "o", color="tab:orange", markersize=10, label="this lr")
        self.lr_line = right.axvline(1.0, color="tab:orange", lw=1)
        right.set(
            xscale="log",
            yscale="log",
            xlabel="learning rate (log scale)",
            ylabel="final training loss",
            xlim=(LOW / 10 ** (0.5 / STEPS_PER_DECADE), HIGH * 10 ** (0.5 / STEPS_PER_DECADE)),
        )
        self.on_top = [right.legend(loc="lower left", fontsize=8, framealpha=1)]
        right.xaxis.set_minor_locator(NullLocator())
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.92, wspace=0.28)  # fixed: tight_layout is slow
        self.moving = [self.curve, self.diverged_line, self.diverged_legend, left.title, self.lr_line, self.marker]

    def show(self, result: dict) -> None:
        name = next(k for k, v in OPTIMIZERS.items() if v == result["optimizer"])
        losses = [v if math.isfinite(v) else math.nan for v in result["losses"]]
        self.curve.set_data(range(len(losses)), losses)
        step = result["diverged_at_step"]
        for artist in (self.diverged_line, self.diverged_legend):
            artist.set_visible(step is not None)
        if step is not None:
            self.diverged_line.set_xdata([step, step])
            self.diverged_line.set_label(f"diverged at update {step}")
            self.diverged_legend.get_texts()[0].set_text(f"diverged at update {step}")
        # title.set_text, not set_title: that touches the axes' other two titles, which would draw the axes again
        self.left.title.set_text(f"{name}, lr = {result['lr']:.2g}: {result['label']}")
        if self.changed("decades", result["loss_decades"]):
            self.left.set_ylim(*result["loss_decades"])
            _plain_log_ticks(self.left)
        if self.changed("sweep", (result["optimizer"], result["final_loss"], result["statuses"])):
            finite = [(lr, v) for lr, v in zip(result["lrs"], result["final_loss"]) if math.isfinite(v) and v > 0]
            self.sweep.set_data([p[0] for p in finite], [p[1] for p in finite])
            diverged = [lr for lr, status in zip(result["lrs"], result["statuses"]) if status == statuses.DIVERGED]
            self.diverged.set_data(diverged, [0.97] * len(diverged))
            low, high = (min(p[1] for p in finite), max(p[1] for p in finite)) if finite else (0.1, 10.0)
            pad = (high / low) ** 0.05 if high > low else 2.0  # matplotlib's 5% margin, on a log axis
            self.right.set_ylim(low / pad, high * pad)
            _plain_log_ticks(self.right)
            self.right.set_title(f"the sweep: {len(result['lrs'])} lrs, {NUM_STEPS} updates each")
        final = result["final_loss"][result["index"]]
        self.marker.set_data([result["lr"]], [final] if math.isfinite(final) else [math.nan])
        self.lr_line.set_xdata([result["lr"], result["lr"]])


def draw(result: dict, fig) -> list:
    """The explorer's picture of ``result`` on ``fig``: its two axes."""
    picture = Picture(fig)
    picture.show(result)
    return [picture.left, picture.right]


def _decades(low: float, high: float) -> tuple[float, float]:
    """The whole decades from ``low`` to ``high`` (at least one)."""
    low, high = math.floor(math.log10(low)), math.ceil(math.log10(high))
    return 10.0**low, 10.0 ** max(high, low + 1)


def describe(result: dict) -> str:
    """The diagnosis of the curve shown: its label and what to do."""
    return f"{result['label']}: {result['sentence']}"


def _plain_log_ticks(ax) -> None:
    """Few plain ticks on a log y axis (0.3, not 3x10^-1): every digit within one decade, 1, 2, 3 and 5 over two,
    1 and 3 over four, powers of ten beyond. Each tick label costs a millisecond of drawing."""
    from matplotlib.ticker import FixedLocator, NullLocator

    low, high = ax.get_ylim()
    span = math.log10(high / low)
    digits = range(1, 10) if span <= 1 else (1, 2, 3, 5) if span <= 2 else (1, 3) if span <= 4 else (1,)
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    ticks = [d * 10.0**e for e in decades for d in digits if low <= d * 10.0**e <= high]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:g}")  # 100 and 0.001, not 1e+02
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylim(low, high)


def explorer(optimizer: str = "momentum", lr: float = 0.05, seed: int = 0):
    """A log slider for the lr and an optimizer menu; the three sweeps are run when it is built (a second or two)."""
    import ipywidgets as w

    compute(optimizer, lr, seed)  # bad values fail here, with their names
    for name in OPTIMIZERS.values():  # every later change only redraws
        sweep_of(name, seed)
    controls = {
        "optimizer": w.Dropdown(options=list(OPTIMIZERS.items()), value=optimizer, description="optimizer"),
        "lr": base.log_slider("learning rate", lr, LOW, HIGH, steps_per_decade=STEPS_PER_DECADE),
    }

    def render(picture, optimizer, lr):
        result = compute(optimizer, lr, seed)
        picture.show(result)
        return describe(result)

    return base.connect(
        controls, base.LiveFigure(render, figsize=(10, 3.9), height="420px", picture=Picture), featured=FEATURED
    )
