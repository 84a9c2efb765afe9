"""Grokking explorer: drag AdamW's weight decay and watch modular addition generalise sooner, later or never.

On ``(a + b) mod p`` (:mod:`course_lib.problems.modular`: half the pairs for training, an embedding MLP,
AdamW at lr 1e-2, full batch) the network memorises its training pairs within about 50 steps, and with
enough weight decay finds the rule much later: validation accuracy jumps from chance to near 100% long
after training accuracy did (Power et al. 2022). When the explorer is built, one batched run trains a
member for every weight decay the slider offers, from the same split and initial weights
(:func:`~course_lib.problems.modular.grokking_curves`, a few seconds to a minute by the size profile), so a
drag only shows another member. Left: that member's training and validation accuracy, the other decays'
validation accuracy faint behind them; right: the step at which validation accuracy first reaches 90%
against the weight decay, for every decay ("never" above the budget).
"""

from __future__ import annotations

from functools import lru_cache

from ..validate import check_choice, check_int, is_number
from . import base

DECAYS = (0.0, 0.1, 0.3, 0.5, 1.0, 2.0, 3.0)  # the slider's positions: one member each
GROKKED, MEMORISED = 0.9, 0.99  # validation accuracy that counts as grokked; training accuracy as memorised
EVAL_EVERY = 10  # steps between the logged accuracies
FEATURED = ("weight_decay",)  # what the lesson asks a reader to drag: the static site varies it
LATENCY_CASES = (  # control changes benchmarks/widget_latency.py times, one after another
    {"weight_decay": 0.0},
    {"weight_decay": 2.0},
    {"weight_decay": 0.3},
    {"weight_decay": 3.0},
    {"weight_decay": 0.5},
    {"weight_decay": 0.1},
    {"weight_decay": 1.0},
)


@lru_cache(maxsize=4)
def curves(seed: int = 0, size: str | None = None):
    """The :class:`~course_lib.problems.modular.GrokkingCurves` of every decay in :data:`DECAYS` (computed once)."""
    from .. import profiles
    from ..device import thread_policy
    from ..problems import modular

    check_int("seed", seed, 0)
    with thread_policy():
        return modular.grokking_curves(DECAYS, (seed,), size=profiles.get_size(size), eval_every=EVAL_EVERY)


def compute(weight_decay: float = 1.0, seed: int = 0, size: str | None = None) -> dict:
    """One weight decay's run, with the step it grokked at, and every decay's validation accuracy and grokking step.

    ``size`` is the size profile (``None``: ``COURSE_SIZE``, as the lessons run); steps are logged every 10.
    """
    from .. import profiles

    check_choice("weight_decay", float(weight_decay) if is_number(weight_decay) else weight_decay, DECAYS)
    check_int("seed", seed, 0)
    return _member(float(weight_decay), seed, profiles.get_size(size))


@lru_cache(maxsize=64)
def _member(weight_decay: float, seed: int, size: str) -> dict:
    run = curves(seed, size)
    k = run.members(weight_decay)[0]
    grokked, memorised = run.first_step("valid_accuracy", GROKKED), run.first_step("train_accuracy", MEMORISED)
    return {
        "weight_decay": weight_decay,
        "seed": seed,
        "size": size,
        "steps": list(run.steps),
        "train_accuracy": list(run.train_accuracy[k]),
        "valid_accuracy": list(run.valid_accuracy[k]),
        "grokked_at": grokked[k],
        "memorised_at": memorised[k],
        "decays": list(run.weight_decay),
        "all_valid_accuracy": [list(v) for v in run.valid_accuracy],
        "all_grokked_at": grokked,
        "settings": dict(run.settings),
    }


class Picture(base.Picture):
    """Left: accuracy against the step for one decay, the others faint; right: the grokking step of every decay."""

    def __init__(self, fig):
        super().__init__(fig)
        self.left, self.right = left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.5, 1]})
        self.others = []  # one faint validation curve per decay, drawn once per run
        (self.train,) = left.plot([], [], "-", color="C0", lw=1.5, label="training (memorised)")
        (self.valid,) = left.plot([], [], "-", color="C1", lw=2, label="validation")
        self.grok_line = left.axvline(0, color="C2", ls="--", lw=1.2, label=f"validation reaches {GROKKED:.0%}")
        (self.faint,) = left.plot([], [], "-", color="0.8", lw=1, label="validation, the other decays")
        left.set(xlabel="step (full batch)", ylabel="accuracy", ylim=(-0.02, 1.02))
        self.on_top = [
            left.legend(
                handles=[self.train, self.valid, self.grok_line, self.faint],
                loc="center right",
                fontsize=8,
                framealpha=1,
            )
        ]
        (self.steps,) = right.plot([], [], "o-", color="0.4", markersize=5)
        (self.nevers,) = right.plot([], [], "x", color="tab:red", markersize=8)
        (self.marker,) = right.plot([], [], "o", color="tab:orange", markersize=12)
        self.decay_line = right.axvline(0, color="tab:orange", lw=1)
        right.set(
            xlabel="AdamW weight decay",
            ylabel="step",
            xticks=range(len(DECAYS)),
            xticklabels=[f"{d:g}" for d in DECAYS],
            xlim=(-0.5, len(DECAYS) - 0.5),
        )
        right.set_title(f"validation accuracy first reaches {GROKKED:.0%} at", fontsize=10)
        left.title.set_fontsize(10)
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.9, wspace=0.22)  # fixed: tight_layout is slow
        self.moving = [self.train, self.valid, self.grok_line, left.title, self.decay_line, self.marker]

    def show(self, result: dict) -> None:
        steps, budget = result["steps"], result["steps"][-1]
        if self.changed("run", (result["seed"], result["size"], result["all_grokked_at"])):
            for line in self.others:
                line.remove()
            self.others = [
                self.left.plot(steps, values, "-", color="0.8", lw=1, zorder=1)[0]
                for values in result["all_valid_accuracy"]
            ]
            self.left.set_xlim(0, budget)
            done = [(i, s) for i, s in enumerate(result["all_grokked_at"]) if s is not None]
            self.steps.set_data([i for i, _ in done], [s for _, s in done])
            never = [i for i, s in enumerate(result["all_grokked_at"]) if s is None]
            self.nevers.set_data(never, [1.08 * budget] * len(never))
            self.right.set_ylim(0, 1.16 * budget)
            self.right.set_yticks(
                [*range(0, budget + 1, _tick(budget)), 1.08 * budget],
                [*map(str, range(0, budget + 1, _tick(budget))), "never"],
            )
        k = DECAYS.index(result["weight_decay"])
        self.train.set_data(steps, result["train_accuracy"])
        self.valid.set_data(steps, result["valid_accuracy"])
        grokked = result["grokked_at"]
        self.grok_line.set_visible(grokked is not None)
        self.grok_line.set_xdata([grokked or 0] * 2)
        self.left.title.set_text(
            f"weight decay {result['weight_decay']:g}: "
            + (
                f"validation reaches {GROKKED:.0%} at step {grokked}"
                if grokked is not None
                else f"validation at {result['valid_accuracy'][-1]:.0%} after {budget} steps: no grokking"
            )
        )
        self.decay_line.set_xdata([k, k])
        self.marker.set_data([k], [grokked if grokked is not None else 1.08 * budget])


def _tick(budget: int) -> int:
    """A round step between ticks: about five of them up to ``budget``."""
    return next(t for t in (100, 200, 250, 500, 1000, 2000, 5000) if budget / t <= 6)


def draw(result: dict, fig) -> list:
    """The explorer's picture of ``result`` on ``fig``: its two axes."""
    picture = Picture(fig)
    picture.show(result)
    return [picture.left, picture.right]


def describe(result: dict) -> str:
    """When the run memorised, when it generalised (or how far it got), and the settings it ran with."""
    s, grokked, memorised = result["settings"], result["grokked_at"], result["memorised_at"]
    setting = (
        f"AdamW, lr {s['lr']:g}, weight decay {result['weight_decay']:g}; {s['p']} numbers, "
        f"{s['train_fraction']:.0%} of the pairs for training, seed {result['seed']}"
    )
    learnt = (
        f"training accuracy reaches {MEMORISED:.0%} at step {memorised}"
        if memorised is not None
        else f"training accuracy ends at {result['train_accuracy'][-1]:.0%}"
    )
    if grokked is None:
        return (
            f"{setting}: {learnt}; validation accuracy is {result['valid_accuracy'][-1]:.0%} after "
            f"{result['steps'][-1]} steps: memorised, not generalised, within this budget."
        )
    later = f", {grokked - memorised} steps later" if memorised is not None else ""
    return f"{setting}: {learnt}; validation accuracy reaches {GROKKED:.0%} at step {grokked}{later}."


def explorer(weight_decay: float = 1.0, seed: int = 0, size: str | None = None):
    """A weight-decay slider over the runs of one batched training (done when the explorer is built)."""
    import ipywidgets as w

    compute(weight_decay, seed, size)  # trains every decay once; bad values fail here, with their names
    controls = {
        "weight_decay": w.SelectionSlider(
            options=DECAYS,
            value=float(weight_decay),
            description="AdamW weight decay",
            continuous_update=False,
            style={"description_width": "initial"},
        )
    }

    def render(picture, weight_decay):
        result = compute(weight_decay, seed, size)
        picture.show(result)
        return describe(result)

    return base.connect(controls, base.LiveFigure(render, figsize=(10, 3.6), picture=Picture), featured=FEATURED)
