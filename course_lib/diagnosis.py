"""Read a loss curve the way a practitioner does, and say what to change.

``diagnose(history)`` returns a :class:`Diagnosis`: a ``label``, a ``sentence`` a learner can act
on, and the ``details`` (the numbers it was decided from). It reads the per-update ``loss`` (or the
per-epoch ``train_loss`` when a history has none) and, for over- and underfitting, the per-epoch
``train_loss`` and ``valid_loss``.

The curve is cut into ten equal blocks and each block averaged, so mini-batch noise cancels out.
``first`` is the first loss (that of the initial weights, about ln(classes) for a classifier),
``end`` the mean of the last block, ``bounce`` the sum of every increase from one block to the next,
divided by ``end`` (how far, in all, the loss climbed back, against the level it ends at).

Every level is read as a height above the loss's ``floor``, the lowest value it can take: 0 for
cross-entropy, squared error and every other loss that cannot be negative (the default), the entropy
of the targets for a label-smoothed cross-entropy. "``end <= 0.25 x first``" below means "the loss ended
within a quarter of its start's height above the floor"; so a loss moved by a constant reads the same
when its floor moves with it. A loss below its floor is refused: ratios to a start that is not a height
say nothing (a falling negative loss would look like a rising one). A Gaussian negative log-likelihood
with a learned variance has no floor to read against (it falls without bound as the variance shrinks):
diagnose its squared error instead. The rules, checked in this order:

1. ``diverged``: the run stopped as diverged, or a loss is NaN or infinite: lr far too large.
2. ``dead``: the loss ends above its start (``end > 1.05 x first``), or it spiked above ``1.5 x first``
   and ends flat where it started (``end >= 0.9 x first``; for a classifier that is about ln(classes),
   the loss of a network whose output no longer depends on its input, as when every ReLU has died):
   lr too large. A too small lr never does either: its loss creeps down from the start, without a spike.
3. ``exploded``: one of the first two blocks averages above ``1.5 x first``: lr too large at the start.
4. ``overfitting``: each of the last 3 validation losses is 10% or more above the best one, which
   is at least 3 epochs old, and it climbed more than it fell since the best (a too large lr makes it
   jump about instead), while the training loss kept falling: the epoch of the best is the turn.
5. ``healthy``: ``end <= 0.25 x first`` (noted when the loss still falls, or jumps: ``bounce > 1``).
6. ``plateau high``: ``bounce > 0.2``, or a loss above ``1.5 x first`` on the way (a too small lr never
   spikes): the loss stays high: lr too large for this stage.
7. ``underfitting``: training and validation loss end within 10% of each other, high, the loss fell
   by 10% or more of its start, and 70% or more of that fall came in the first 30% of the run before
   it stalled: the model (or lr) is too small.
8. ``too slow``: anything else that ends high: the loss fell little, or slowly all the way: lr too small.

Before them: a run with fewer than ten losses is ``too short`` to read, and one whose first loss is
already at its floor ``starts at floor``: it has no height to fall from, so the curve cannot show
progress (usually the loss does not see the targets).

Per-epoch lists are read epoch by epoch (index ``e`` of each is epoch ``e``): where the training and
validation lists differ in length (a run stopped between the two), only the epochs both have are compared.

The thresholds are round numbers, checked on the real runs in ``tests/test_diagnosis.py`` (too large,
too small and good learning rates, a too small model, a large model on few samples) and on every member
of the lr explorer's sweeps. A curve is evidence, not proof: a too small lr and a too small model can
both leave a curve flat and high. Past the edge of stability training is chaotic (a 1e-7 change of the
initial weights, or another CPU's rounding, ends elsewhere), so there the label can change from one lr
to the next among the too-large ones (plateau high, exploded, dead, diverged): read regions of lr.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .training import statuses
from .training.history import History
from .validate import check_number

LABELS = (
    "diverged",
    "dead",
    "exploded",
    "overfitting",
    "healthy",
    "plateau high",
    "underfitting",
    "too slow",
    "too short",
    "starts at floor",
)
TOO_LARGE = ("plateau high", "exploded", "dead", "diverged")  # the labels whose cure is a smaller (or decaying) lr
EXPLODED, OVERFIT_RISE, HEALTHY_LEVEL, BOUNCY, JUMPY, CLOSE_GAP, EARLY_SHARE = 1.5, 0.1, 0.25, 0.2, 1.0, 0.1, 0.7
ROSE, FLAT = 1.05, 0.9  # dead: ends above ROSE x first, or spiked and ends above FLAT x first
FELL = 0.1  # underfitting: the loss fell by at least this share of its start, then stalled
NUM_BLOCKS = 10


@dataclass
class Diagnosis:
    """``label`` is one of :data:`LABELS`; ``sentence`` says what the curve shows and what to do."""

    label: str
    sentence: str
    details: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.label}: {self.sentence}"


def diagnose(history: History, floor: float = 0.0) -> Diagnosis:
    """Name what ``history`` shows; see the module docstring for the rules and their thresholds.

    ``floor`` is the lowest value the loss can take (0 for cross-entropy and squared error).

    >>> h = History(step={"loss": [2.3 * 0.97 ** i for i in range(100)]})
    >>> diagnose(h).label
    'healthy'
    """
    if not isinstance(history, History):
        raise ValueError(f"history must be a course_lib History, got {type(history).__name__}")
    floor = check_number("floor", floor)
    losses = history.step.get("loss") or history.epoch.get("train_loss") or []
    unit = "update" if history.step.get("loss") else "epoch"
    bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    if history.status == statuses.DIVERGED or bad is not None:
        at = history.diverged_at_step if history.diverged_at_step is not None else bad
        return Diagnosis(
            "diverged",
            f"The loss blew up (NaN, infinite or huge) at {unit} {at}: the learning rate is far "
            "too large. Lower it 3-10x and restart from fresh weights.",
            {"diverged_at": at},
        )
    _check_floor(history, losses, unit, floor)
    if len(losses) < NUM_BLOCKS:
        return Diagnosis(
            "too short",
            f"Only {len(losses)} losses were recorded: train for at least {NUM_BLOCKS} "
            f"{unit}s before reading the curve.",
            {"num_points": len(losses)},
        )
    d = curve_numbers(losses, floor)
    first, end, h = d["first"], d["end"], lambda value: value - floor  # h: a level's height above the floor
    if h(first) <= 0:
        then = "stays there" if d["peak"] == floor else f"then rose to {d['peak']:.3g}"
        return Diagnosis(
            "starts at floor",
            f"The first loss is {first:.3g}, already the lowest this loss can "
            f"take (floor={floor:g}), and it {then}: with no height to fall from, the curve cannot show "
            "learning. A classifier's loss starts near ln(classes); one that starts at its floor usually "
            "does not see the targets (check what it compares), or the task is solved before training.",
            d,
        )
    share, above = f"{h(end) / h(first):.0%}", "" if floor == 0 else f" (as heights above the floor, {floor:g})"
    if h(end) > ROSE * h(first) or (h(d["peak"]) > EXPLODED * h(first) and h(end) >= FLAT * h(first)):
        spike = f" after a spike to {d['peak']:.3g}" if h(d["peak"]) > EXPLODED * h(first) else ""
        return Diagnosis(
            "dead",
            f"The loss ended at {end:.3g}, {share} of where it started ({first:.3g}){above}"
            f"{spike}: nothing was learned, or it was lost. The steps threw the weights where the output "
            "no longer depends on the input (for a ReLU network: units that output 0 for every input, "
            "dead for good). The learning rate is too large: lower it 3-10x and restart from fresh "
            "weights.",
            d,
        )
    if h(d["early_peak"]) > EXPLODED * h(first):
        return Diagnosis(
            "exploded",
            f"Early on the loss rose to {d['early_peak']:.3g}, "
            f"{h(d['early_peak']) / h(first):.1f}x its start ({first:.3g}){above}: the learning rate is "
            "too large at the start. Lower it, or warm it up, and restart.",
            d,
        )
    turn = _overfitting(history, floor)
    if turn:
        d.update(turn)
        return Diagnosis(
            "overfitting",
            f"The validation loss was lowest at epoch {turn['turning_epoch']} "
            f"({turn['valid_best']:.3g}) and rose to {turn['valid_end']:.3g} while the training loss kept "
            f"falling: the model memorises its training set. Stop near epoch {turn['turning_epoch']} "
            "(early stopping), or regularise, or add data.",
            d,
        )
    if h(end) <= HEALTHY_LEVEL * h(first):
        note = (
            " It jumps up and down on the way: decaying the lr would let it settle lower."
            if d["bounce"] > JUMPY
            else " It is still falling: more epochs would lower it further."
            if d["still_falling"]
            else ""
        )
        return Diagnosis(
            "healthy",
            f"The loss fell from {first:.3g} to {end:.3g} ({share} of its start{above}): "
            f"this learning rate works.{note}",
            d,
        )
    if d["bounce"] > BOUNCY or h(d["peak"]) > EXPLODED * h(first):
        how = (
            f"keeps bouncing (its climbs add up to {d['bounce']:.0%} of where it ends)"
            if d["bounce"] > BOUNCY
            else f"spiked to {d['peak']:.3g} on the way"
        )
        return Diagnosis(
            "plateau high",
            f"The loss {how} and stays high at {end:.3g}, {share} of its start{above}: "
            "the learning rate is too large to settle lower. Decay it (a step or cosine schedule) "
            "or start lower.",
            d,
        )
    gap = _gap(history, floor)
    if gap is not None:
        d["gap"] = gap
        if abs(gap) <= CLOSE_GAP and d["early_share"] >= EARLY_SHARE and h(end) <= (1 - FELL) * h(first):
            train, valid = _epoch_pairs(history)
            return Diagnosis(
                "underfitting",
                f"Training and validation loss are both high ({train[-1]:.3g} and "
                f"{valid[-1]:.3g}) and close, and stopped falling early: the model underfits. Give it "
                "more capacity (wider or deeper), regularise less, or try a larger learning rate to leave "
                "the plateau.",
                d,
            )
    return Diagnosis(
        "too slow",
        f"The loss went from {first:.3g} only to {end:.3g} ({share} of its start{above}), "
        "slowly: the learning rate is too small. Raise it 3-10x; if no learning rate helps, the model is "
        "too small.",
        d,
    )


def _check_floor(history: History, losses: list[float], unit: str, floor: float) -> None:
    """Every loss the rules read must lie at or above ``floor``: below it, ratios of heights mean nothing.
    A float32 loss can round to a hair below its floor (a cross-entropy of -1e-8); that is the floor."""
    train, valid = _epoch_pairs(history)
    rounding = 1e-5 * max(1.0, abs(losses[0] - floor)) if losses else 0.0
    for name, values, where in (("loss", losses, unit), ("train_loss", train, "epoch"), ("valid_loss", valid, "epoch")):
        low = next((i for i, v in enumerate(values) if v < floor - rounding), None)
        if low is not None:
            raise ValueError(
                f"the {name} went below its floor at {where} {low} ({values[low]:.4g} < "
                f"floor={floor:g}): diagnose reads a loss as a height above the lowest value it can take. "
                "Pass that value as floor (0 fits cross-entropy and squared error; a label-smoothed "
                "cross-entropy's is the entropy of its targets). A loss with no lowest value, such as a "
                "Gaussian negative log-likelihood with a learned variance, cannot be read this way: "
                "diagnose its squared error instead."
            )


def curve_numbers(losses: list[float], floor: float = 0.0) -> dict:
    """The numbers the rules read, from ten block means of ``losses`` (levels are heights above ``floor``)."""
    n, first = len(losses), losses[0]
    blocks = [
        sum(losses[k * n // NUM_BLOCKS : (k + 1) * n // NUM_BLOCKS])
        / len(losses[k * n // NUM_BLOCKS : (k + 1) * n // NUM_BLOCKS])
        for k in range(NUM_BLOCKS)
    ]
    end, low = blocks[-1], min(blocks)
    fall, climbs = first - end, sum(max(0.0, b - a) for a, b in zip(blocks, blocks[1:]))
    return {
        "first": first,
        "end": end,
        "low": low,
        "blocks": blocks,
        "early_peak": max(blocks[:2]),
        "peak": max(losses),
        "bounce": climbs / (end - floor) if end > floor else (math.inf if climbs else 0.0),
        "early_share": (first - blocks[2]) / fall if fall > 0 else 0.0,
        "still_falling": blocks[-3] - end > 0.05 * (first - floor),
        "floor": floor,
    }


def _epoch_pairs(history: History) -> tuple[list[float], list[float]]:
    """The per-epoch training and validation losses of the epochs that have both (index ``e`` is epoch ``e``)."""
    train, valid = history.epoch.get("train_loss") or [], history.epoch.get("valid_loss") or []
    both = min(len(train), len(valid))
    return train[:both], valid[:both]


def _overfitting(history: History, floor: float) -> dict | None:
    train, valid = _epoch_pairs(history)
    if len(valid) < 5 or not all(math.isfinite(v) for v in valid):
        return None
    best = min(range(len(valid)), key=valid.__getitem__)
    rose = min(valid[-3:]) - floor >= (1 + OVERFIT_RISE) * (valid[best] - floor)
    after = valid[best:]
    falls = sum(
        max(0.0, a - b) for a, b in zip(after, after[1:])
    )  # it climbs more than it falls: no loss that jumps about
    if rose and falls < valid[-1] - valid[best] and best <= len(valid) - 4 and max(train[-3:]) < train[best]:
        epochs = history.epoch.get("epoch") or []
        return {
            "turning_epoch": int(epochs[best]) if best < len(epochs) else best + 1,
            "valid_best": valid[best],
            "valid_end": valid[-1],
        }
    return None


def _gap(history: History, floor: float) -> float | None:
    train, valid = _epoch_pairs(history)
    if not train or train[-1] == floor:
        return None
    return (valid[-1] - train[-1]) / (train[-1] - floor)
