"""Read a loss curve the way a practitioner does, and say what to change.

``diagnose(history)`` returns a :class:`Diagnosis`: a ``label``, a ``sentence`` a learner can act
on, and the ``details`` (the numbers it was decided from). It reads the per-update ``loss`` (or the
per-epoch ``train_loss`` when a history has none) and, for over- and underfitting, the per-epoch
``train_loss`` and ``valid_loss``.

The curve is cut into ten equal blocks and each block averaged, so mini-batch noise cancels out.
``first`` is the first loss (that of the initial weights, about ln(classes) for a classifier),
``end`` the mean of the last block, ``bounce`` the sum of every increase from one block to the next,
divided by ``end`` (how far, in all, the loss climbed back, against the level it ends at). The rules,
checked in this order:

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

LABELS = ("diverged", "dead", "exploded", "overfitting", "healthy", "plateau high", "underfitting", "too slow", "too short")
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


def diagnose(history: History) -> Diagnosis:
    """Name what ``history`` shows; see the module docstring for the rules and their thresholds.

    >>> h = History(step={"loss": [2.3 * 0.97 ** i for i in range(100)]})
    >>> diagnose(h).label
    'healthy'
    """
    if not isinstance(history, History):
        raise ValueError(f"history must be a course_lib History, got {type(history).__name__}")
    losses = history.step.get("loss") or history.epoch.get("train_loss") or []
    unit = "update" if history.step.get("loss") else "epoch"
    bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    if history.status == statuses.DIVERGED or bad is not None:
        at = history.diverged_at_step if history.diverged_at_step is not None else bad
        return Diagnosis("diverged", f"The loss blew up (NaN, infinite or huge) at {unit} {at}: the learning rate is far "
                         "too large. Lower it 3-10x and restart from fresh weights.", {"diverged_at": at})
    if len(losses) < NUM_BLOCKS:
        return Diagnosis("too short", f"Only {len(losses)} losses were recorded: train for at least {NUM_BLOCKS} "
                         f"{unit}s before reading the curve.", {"num_points": len(losses)})
    d = curve_numbers(losses)
    first, end = d["first"], d["end"]
    if end > ROSE * first or (d["peak"] > EXPLODED * first and end >= FLAT * first):
        spike = f" after a spike to {d['peak']:.3g}" if d["peak"] > EXPLODED * first else ""
        return Diagnosis("dead", f"The loss ended at {end:.3g}, {end / first:.0%} of where it started ({first:.3g}){spike}: "
                         "nothing was learned, or it was lost. The steps threw the weights where the output no longer depends "
                         "on the input (for a ReLU network: units that output 0 for every input, dead for good). The learning "
                         "rate is too large: lower it 3-10x and restart from fresh weights.", d)
    if d["early_peak"] > EXPLODED * first:
        return Diagnosis("exploded", f"Early on the loss rose to {d['early_peak']:.3g}, {d['early_peak'] / first:.1f}x its "
                         f"start ({first:.3g}): the learning rate is too large at the start. Lower it, or warm it up, and restart.", d)
    turn = _overfitting(history)
    if turn:
        d.update(turn)
        return Diagnosis("overfitting", f"The validation loss was lowest at epoch {turn['turning_epoch']} "
                         f"({turn['valid_best']:.3g}) and rose to {turn['valid_end']:.3g} while the training loss kept "
                         f"falling: the model memorises its training set. Stop near epoch {turn['turning_epoch']} "
                         "(early stopping), or regularise, or add data.", d)
    if end <= HEALTHY_LEVEL * first:
        note = (" It jumps up and down on the way: decaying the lr would let it settle lower." if d["bounce"] > JUMPY else
                " It is still falling: more epochs would lower it further." if d["still_falling"] else "")
        return Diagnosis("healthy", f"The loss fell from {first:.3g} to {end:.3g} ({end / first:.0%} of its start): "
                         f"this learning rate works.{note}", d)
    if d["bounce"] > BOUNCY or d["peak"] > EXPLODED * first:
        how = (f"keeps bouncing (its climbs add up to {d['bounce']:.0%} of where it ends)" if d["bounce"] > BOUNCY else
               f"spiked to {d['peak']:.3g} on the way")
        return Diagnosis("plateau high", f"The loss {how} and stays high at {end:.3g}, {end / first:.0%} of its start: "
                         "the learning rate is too large to settle lower. Decay it (a step or cosine schedule) or start lower.", d)
    gap = _gap(history)
    if gap is not None:
        d["gap"] = gap
        if abs(gap) <= CLOSE_GAP and d["early_share"] >= EARLY_SHARE and end <= (1 - FELL) * first:
            train, valid = history.epoch["train_loss"][-1], history.epoch["valid_loss"][-1]
            return Diagnosis("underfitting", f"Training and validation loss are both high ({train:.3g} and {valid:.3g}) "
                             "and close, and stopped falling early: the model underfits. Give it more capacity (wider or "
                             "deeper), regularise less, or try a larger learning rate to leave the plateau.", d)
    return Diagnosis("too slow", f"The loss went from {first:.3g} only to {end:.3g} ({end / first:.0%} of its start), "
                     "slowly: the learning rate is too small. Raise it 3-10x; if no learning rate helps, the model is too small.", d)


def curve_numbers(losses: list[float]) -> dict:
    """The numbers the rules read, from ten block means of ``losses`` (all relative ones are to ``first``)."""
    n, first = len(losses), losses[0]
    blocks = [sum(losses[k * n // NUM_BLOCKS:(k + 1) * n // NUM_BLOCKS]) / len(losses[k * n // NUM_BLOCKS:(k + 1) * n // NUM_BLOCKS])
              for k in range(NUM_BLOCKS)]
    end, low = blocks[-1], min(blocks)
    fall = first - end
    return {"first": first, "end": end, "low": low, "blocks": blocks, "early_peak": max(blocks[:2]), "peak": max(losses),
            "bounce": sum(max(0.0, b - a) for a, b in zip(blocks, blocks[1:])) / abs(end) if end else math.inf,
            "early_share": (first - blocks[2]) / fall if fall > 0 else 0.0,
            "still_falling": blocks[-3] - end > 0.05 * abs(first)}


def _overfitting(history: History) -> dict | None:
    valid, train = history.epoch.get("valid_loss"), history.epoch.get("train_loss")
    if not valid or not train or len(valid) < 5 or not all(math.isfinite(v) for v in valid):
        return None
    best = min(range(len(valid)), key=valid.__getitem__)
    rose = min(valid[-3:]) >= (1 + OVERFIT_RISE) * valid[best]
    after = valid[best:]
    falls = sum(max(0.0, a - b) for a, b in zip(after, after[1:]))  # it climbs more than it falls: no loss that jumps about
    if rose and falls < valid[-1] - valid[best] and best <= len(valid) - 4 and max(train[-3:]) < train[best]:
        epochs = history.epoch.get("epoch") or list(range(1, len(valid) + 1))
        return {"turning_epoch": int(epochs[best]), "valid_best": valid[best], "valid_end": valid[-1]}
    return None


def _gap(history: History) -> float | None:
    valid, train = history.epoch.get("valid_loss"), history.epoch.get("train_loss")
    if not valid or not train or not train[-1]:
        return None
    return (valid[-1] - train[-1]) / abs(train[-1])
