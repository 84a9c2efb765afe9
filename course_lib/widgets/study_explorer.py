"""Study explorer: pick a round of a tuning study, see its isolation plot and the curves behind one of its points.

A round (:class:`course_lib.tuning.Round`) compares the values of one scientific hyperparameter, each at
its best nuisance values. The explorer shows every trial against a nuisance hyperparameter (the lr), the
isolation plot (the best of each value), and, for the point picked, the curves of every trial behind it:
the best one bold, so a reader sees whether it won by a steady curve or by luck between two spikes.

``explorer(rounds)`` takes the rounds of a study (notebook 10 passes its own). Without them it runs a small
study of its own in a few seconds, on the digits, where ``course_lib.lr.sweep`` trains all the lrs of a
round's value as one batched run: :func:`demo_study`.

>>> rounds = demo_study()
>>> result = compute(rounds[0], point=1)
>>> result["value"], len(result["curves"]) == len(rounds[0].trials_of(result["value"]))
('momentum', True)
"""

from __future__ import annotations

import functools
import math
from functools import lru_cache

from .. import tuning
from . import base

FEATURED = ("round", "point")  # what the lesson asks a reader to drag first: the static site varies these
LATENCY_CASES = (  # control changes benchmarks/widget_latency.py times, one after another
    {"point": 2},
    {"curve": "training"},
    {"round": 1},
    {"point": 1},
    {"curve": "validation"},
    {"round": 0},
    {"point": 2},
)
CURVES = ("validation", "training")
SMOOTH = 10  # training losses are averaged over this many updates: one batch's loss is noisy


def compute(round_: tuning.Round, point: int = 1, curve: str = "validation", nuisance: str = "lr") -> dict:
    """What the explorer draws for one ``point`` (1-based, in the order of ``round_.values()``) of a round.

    A point past the round's last value shows its last one (``clamped`` says so).
    """
    if not isinstance(round_, tuning.Round):
        raise ValueError(f"round_ must be a course_lib.tuning.Round, got {type(round_).__name__}")
    if curve not in CURVES:
        raise ValueError(f"curve must be one of {CURVES}, got {curve!r}")
    if not isinstance(point, int) or point < 1:
        raise ValueError(f"point must be an int >= 1, got {point!r}")
    values = round_.values()
    index = min(point, len(values)) - 1
    value = values[index]
    best = round_.best_of(value)
    curves = []
    for trial in round_.trials_of(value):
        if curve == "validation":
            xs, ys = trial.curves.get("valid_steps", []), trial.curves.get("valid_loss", [])
        else:
            xs, ys = _smoothed(trial.curves.get("steps", []), trial.curves.get("train_loss", []))
        curves.append(
            {
                "x": list(xs),
                "y": list(ys),
                "config": trial.config,
                "score": trial.score,
                "best_step": trial.best_step,
                "best": trial is best,
                "failed": trial.failed,
            }
        )
    return {
        "round": round_,
        "index": index,
        "value": value,
        "clamped": point > len(values),
        "curve": curve,
        "nuisance": nuisance,
        "best": best,
        "curves": curves,
        "num_values": len(values),
    }


def _smoothed(xs, ys, width: int = SMOOTH):
    """Means over blocks of ``width`` updates, at each block's last update."""
    n = len(ys) // width
    return (
        [xs[(k + 1) * width - 1] for k in range(n)],
        [sum(ys[k * width : (k + 1) * width]) / width for k in range(n)],
    )


class Picture(base.Picture):
    """Every trial against the nuisance hyperparameter, the isolation plot, and the picked point's curves.

    Each round has its own two left panels, made once and kept in the same place, hidden while another round
    shows: a round change shows its pair (a pair drawn before keeps its ticks, which are most of a panel's
    cost), and the picked point's two rings move over it. With ``rounds`` every pair is made at once, so the
    first visit of a round is as quick as the next. The right panel (its trials' curves, whose number and range
    change with the point) is drawn again alone, in its slot.
    """

    def __init__(self, fig, ceiling: float | None = None, labels: dict | None = None, rounds=(), nuisance="lr"):
        super().__init__(fig)
        self.ceiling, self.labels = ceiling, labels
        fig.subplots_adjust(left=0.06, right=0.985, bottom=0.2, top=0.86, wspace=0.42)  # fixed: tight_layout is slow
        self.grid = fig.add_gridspec(1, 3, width_ratios=[1.25, 0.8, 1.25])
        self.right = fig.add_subplot(self.grid[0, 2])
        self.panels: dict = {}  # (id(round), nuisance) -> (left, middle, rings)
        for round_ in rounds:
            self._panels(round_, nuisance)

    @property
    def axes(self) -> list:
        """The axes shown now: the round's two panels, then the curves."""
        return [*(ax for ax in self.fig.axes if ax.get_visible() and ax is not self.right), self.right]

    def _panels(self, round_, nuisance):
        key = (id(round_), nuisance)
        if key not in self.panels:
            left, middle = (self.fig.add_subplot(self.grid[0, i]) for i in (0, 1))
            tuning.plot_isolation(round_, nuisance, axes=[left, middle], ceiling=self.ceiling, labels=self.labels)
            left.set_title("every trial (star: best of each value)", fontsize=9)
            middle.set_title("isolation plot", fontsize=9)
            middle.get_legend().remove()
            ring = dict(marker="o", linestyle="none", ms=18, mfc="none", mec="tab:red", mew=2)
            rings = [left.plot([], [], **ring)[0], middle.plot([], [], **ring)[0]]
            for ax in (left, middle):
                _small_ticks(ax)
                ax.set_visible(False)
            self.panels[key] = (left, middle, rings)
            self.kept += [left, middle]  # drawn once: their rings move over them
        return self.panels[key]

    def show(self, result: dict) -> None:
        round_, nuisance, ceiling = result["round"], result["nuisance"], self.ceiling
        left, middle, rings = self._panels(round_, nuisance)
        if self.changed("round", (id(round_), nuisance)):
            for other_left, other_middle, _ in self.panels.values():
                for ax in (other_left, other_middle):
                    ax.set_visible(ax is left or ax is middle)
            self.moving = list(rings)
            self.new_colours = True  # another round: other values, other colours
        best = result["best"]
        score = None if best is None else (best.score if ceiling is None else min(best.score, ceiling))
        for ring, x in zip(rings, (None if best is None else best.config[nuisance], result["index"])):
            ring.set_data([] if best is None else [x], [] if best is None else [score])
        if self.changed("curves", (id(round_), result["index"], result["curve"])):
            self.right.cla()
            _draw_curves(self.right, result, ceiling, self.labels)
            _small_ticks(self.right)


def _draw_curves(ax, result: dict, ceiling, labels) -> None:
    """The trials of the picked point: its best in colour (with its retrospective best step), the others grey."""
    nuisance, color = result["nuisance"], f"C{result['index']}"
    for c in result["curves"]:
        if not c["x"]:
            continue
        ys = [y if ceiling is None or (math.isfinite(y) and y <= ceiling) else ceiling for y in c["y"]]
        label = f"{nuisance} {c['config'][nuisance]:.2g}" + (" (best)" if c["best"] else "")
        ax.plot(
            c["x"],
            ys,
            color=color if c["best"] else "0.6",
            lw=2.2 if c["best"] else 0.9,
            alpha=1 if c["best"] else 0.8,
            label=label if c["best"] else None,
            zorder=3 if c["best"] else 2,
        )
        if c["best"] and c["best_step"] is not None and result["curve"] == "validation":
            ax.plot(
                [c["best_step"]],
                [c["score"]],
                "*",
                color=color,
                ms=13,
                mec="black",
                zorder=4,
                label="retrospective best step",
            )
    name = str((labels or {}).get(result["value"], result["value"]))
    kind = "validation loss" if result["curve"] == "validation" else f"training loss (mean of {SMOOTH} updates)"
    ax.set(xlabel="update", ylabel=kind)
    ax.set_title(f"the trials behind '{name}' (grey: other {nuisance}s)", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=7)


def _small_ticks(ax) -> None:
    ax.tick_params(labelsize=8)
    ax.xaxis.label.set_size(8)
    ax.yaxis.label.set_size(8)


def draw(result: dict, fig, ceiling: float | None = None, labels: dict | None = None):
    """The explorer's picture of ``result`` on ``fig``: its three axes."""
    picture = Picture(fig, ceiling=ceiling, labels=labels)
    picture.show(result)
    return picture.axes


def describe(result: dict, labels: dict | None = None) -> str:
    """The picked point in words: its best trial, where its score was read, how many trials failed."""
    round_, value, best = result["round"], result["value"], result["best"]
    name = str((labels or {}).get(value, value))
    head = f"Round '{round_.question}', {round_.scientific} = {name}"
    if result["clamped"]:
        head += f" (this round has {result['num_values']} values: showing its last)"
    failed = sum(c["failed"] for c in result["curves"])
    tried = f"{len(result['curves'])} trials, {failed} failed"
    if best is None:
        return f"{head}: every one of its {tried.split(',')[0]} failed."
    last = best.curves.get("valid_loss", [math.nan])[-1] if best.curves.get("valid_loss") else math.nan
    return (
        f"{head}: {tried}. Its best, {result['nuisance']} {best.config[result['nuisance']]:.2g}, reached "
        f"{best.score:.3f} at update {best.best_step} (its last evaluation: {last:.3f})."
    )


def explorer(
    rounds=None,
    nuisance: str = "lr",
    ceiling: float | None = None,
    labels: dict | None = None,
    round_index: int = 0,
    point: int = 1,
):
    """Pick a round and a point of its isolation plot; see the trials behind it. ``rounds``: a study's rounds."""
    import ipywidgets as w

    from .base import LiveFigure, connect

    if rounds is None:
        from ..device import thread_policy

        with thread_policy():  # one thread: on a busy 2-core machine two threads took 103 s, one 3 s
            rounds = list(demo_study())
    rounds = list(rounds)
    if not rounds or not all(isinstance(r, tuning.Round) for r in rounds):
        raise ValueError("rounds must be a non-empty list of course_lib.tuning.Round")
    if not isinstance(round_index, int) or not 0 <= round_index < len(rounds):
        raise ValueError(f"round_index must be an int in [0, {len(rounds)}), got {round_index!r}")
    most = max(len(r.values()) for r in rounds)
    style = {"description_width": "initial"}
    controls = {
        "round": w.Dropdown(
            options=[(f"{i + 1} · {r.question}", i) for i, r in enumerate(rounds)],
            value=round_index,
            description="round",
            style=style,
            layout=w.Layout(width="420px"),
        ),
        "point": w.IntSlider(
            value=min(max(1, point), most),
            min=1,
            max=max(2, most),
            description="point",
            continuous_update=False,
            style=style,
        ),
        "curve": w.ToggleButtons(options=CURVES, value="validation", description="curves", style=style),
    }

    def render(picture, round, point, curve):  # noqa: A002  (the control's name)
        result = compute(rounds[round], point, curve, nuisance)
        picture.show(result)
        return describe(result, labels=labels)

    picture = functools.partial(Picture, ceiling=ceiling, labels=labels, rounds=rounds, nuisance=nuisance)
    return connect(controls, LiveFigure(render, picture=picture, figsize=(11, 3.6)), featured=FEATURED)


@lru_cache(maxsize=1)
def demo_study(seed: int = 0) -> tuple:
    """Two small rounds on the digits (an MLP, 300 updates), each value's lrs trained as one batched sweep.

    Round 1 asks which optimizer (momentum or Adam, each at its own quasi-random lrs); round 2 which
    batch size (Adam). The score is the best validation loss over the run's epochs.
    """
    from .. import models
    from ..lr import sweep
    from ..problems.digits import digits_split

    data = digits_split()

    def train(configs):
        trials = [None] * len(configs)
        groups = {}
        for i, c in enumerate(configs):  # one batched sweep per optimizer and batch size: its members are the lrs
            groups.setdefault((c["optimizer"], c["batch_size"]), []).append(i)
        for (optimizer, batch_size), members in groups.items():
            result = sweep.run_sweep(
                lambda: models.MLP(64, 10, width=64, depth=2),
                data.X_train,
                data.y_train,
                optimizer,
                lrs=[configs[i]["lr"] for i in members],
                num_steps=300,
                batch_size=batch_size,
                seed=seed,
                X_valid=data.X_valid,
                y_valid=data.y_valid,
            )
            per_epoch = math.ceil(len(data.X_train) / batch_size)
            for k, i in enumerate(members):
                valid = result.epochs[k].get("valid_loss", [])
                finite = [(v, e) for e, v in enumerate(valid) if math.isfinite(v)]
                score, epoch = min(finite) if finite else (math.nan, None)
                curves = {
                    "steps": list(range(len(result.losses[k]))),
                    "train_loss": result.losses[k],
                    "valid_steps": [(e + 1) * per_epoch for e in range(len(valid))],
                    "valid_loss": valid,
                }
                trials[i] = tuning.Trial(
                    configs[i],
                    score,
                    None if epoch is None else (epoch + 1) * per_epoch,
                    curves,
                    result.status[k],
                    result.seconds / len(members),
                )
        return trials

    optimizers = tuning.run_round(
        "which optimizer?",
        {"optimizer": ["momentum", "adam"]},
        {"momentum": {"lr": tuning.Log(1e-3, 3.0)}, "adam": {"lr": tuning.Log(1e-4, 3e-1)}},
        {"batch_size": 64},
        8,
        train,
        seed=seed,
    )
    batches = tuning.run_round(
        "which batch size?",
        {"batch_size": [16, 64, 256]},
        {"lr": tuning.Log(1e-4, 3e-1)},
        {"optimizer": "adam"},
        8,
        train,
        seed=seed,
    )
    return (optimizers, batches)
