"""Tuning studies as the Deep Learning Tuning Playbook runs them: rounds, quasi-random search, isolation plots.

A round of experiments asks one question. Its *scientific* hyperparameter is what the question is about
(which optimizer; with or without warm-up); its *nuisance* hyperparameters must be tuned afresh for every
scientific value before the values can be compared fairly (the lr, almost always); every other
hyperparameter is *fixed* for the round. The nuisance ones are searched quasi-randomly: a scrambled Sobol
sequence (``torch.quasirandom.SobolEngine``) covers a box of any dimension evenly with few points, without
the clumps and gaps of random points, and without a grid's repeats along the dimensions that turn out not
to matter. Each scientific value gets the same points, mapped into its own ranges.

The **isolation plot** then compares each scientific value at its best nuisance values; beside it, every
trial against one nuisance hyperparameter shows whether the search covered the good region, or whether
the best point sits at the edge of the box (:meth:`Round.at_edge`), where a wider search might do better.

>>> space = {"lr": Log(1e-3, 1e-1), "warmup_steps": IntRange(0, 100)}
>>> points = quasi_random(space, 4, seed=0)
>>> len(points), sorted(points[0]), all(1e-3 <= p["lr"] <= 1e-1 for p in points)
(4, ['lr', 'warmup_steps'], True)
>>> train = lambda configs: [Trial(c, score=abs(math.log10(c["lr"]) + 2)) for c in configs]
>>> study = run_round("which lr?", {"optimizer": ["adam"]}, {"lr": Log(1e-3, 1e-1)}, {}, 8, train)
>>> round(study.best().config["lr"], 2) == round(study.isolation()["adam"].config["lr"], 2)
True
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from typing import Callable

from .validate import check_choice, check_int


@dataclass(frozen=True)
class Log:
    """Uniform in log between ``low`` and ``high``: an lr, a weight decay (a factor of 10 counts the same anywhere)."""

    low: float
    high: float

    def __post_init__(self):
        if not 0 < self.low < self.high < math.inf:
            raise ValueError(f"Log needs 0 < low < high, got low={self.low!r}, high={self.high!r}")

    def at(self, u: float) -> float:
        return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))

    def position(self, value: float) -> float:
        """Where ``value`` lies in the range, from 0 (``low``) to 1 (``high``)."""
        return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))


@dataclass(frozen=True)
class Uniform:
    """Uniform between ``low`` and ``high``: a dropout rate, a momentum."""

    low: float
    high: float

    def __post_init__(self):
        if not -math.inf < self.low < self.high < math.inf:
            raise ValueError(f"Uniform needs low < high, got low={self.low!r}, high={self.high!r}")

    def at(self, u: float) -> float:
        return self.low + u * (self.high - self.low)

    def position(self, value: float) -> float:
        return (value - self.low) / (self.high - self.low)


@dataclass(frozen=True)
class IntRange:
    """An integer from ``low`` to ``high``, both included: a number of warm-up steps."""

    low: int
    high: int

    def __post_init__(self):
        check_int("low", self.low)
        check_int("high", self.high)
        if self.low >= self.high:
            raise ValueError(f"IntRange needs low < high, got low={self.low!r}, high={self.high!r}")

    def at(self, u: float) -> int:
        return min(self.high, self.low + int(u * (self.high - self.low + 1)))

    def position(self, value: float) -> float:
        return (value - self.low) / (self.high - self.low)


SPACES = (Log, Uniform, IntRange)


def _check_space(space) -> dict:
    if not isinstance(space, dict) or not space:
        raise ValueError(f"a search space must be a non-empty dict of name -> Log/Uniform/IntRange, got {space!r}")
    for name, dimension in space.items():
        if not isinstance(name, str) or not isinstance(dimension, SPACES):
            raise ValueError(f"search space entry {name!r}: expected a Log, Uniform or IntRange, got {dimension!r}")
    return space


def quasi_random(space: dict, num: int, seed: int = 0) -> list[dict]:
    """``num`` points of a scrambled Sobol sequence over ``space`` (name -> Log/Uniform/IntRange), in draw order.

    Any prefix of the sequence is spread evenly, so a study can stop early or add points later (same
    ``seed``) and stay balanced; powers of two are the most even.
    """
    from torch.quasirandom import SobolEngine

    _check_space(space)
    check_int("num", num, 1)
    check_int("seed", seed, 0)
    units = SobolEngine(len(space), scramble=True, seed=seed).draw(num).double().tolist()
    return [{name: dimension.at(u) for (name, dimension), u in zip(space.items(), point)} for point in units]


@dataclass
class Trial:
    """One run of a round: its whole ``config``, its ``score`` (NaN for a run that failed) and its curves.

    ``best_step`` is where the score was read (retrospective checkpoint selection: the best evaluation of
    the run, not its last); ``curves`` holds plain lists (``steps``, ``train_loss``, ``valid_steps``,
    ``valid_loss``...) for plots and explorers.
    """

    config: dict
    score: float
    best_step: int | None = None
    curves: dict = field(default_factory=dict)
    status: str = "completed"
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return not math.isfinite(self.score)


@dataclass
class Round:
    """A round's question, its hyperparameters by role, and its trials. ``mode``: "min" (a loss) or "max"."""

    question: str
    scientific: str
    nuisance: dict
    fixed: dict
    trials: list[Trial]
    mode: str = "min"

    def __post_init__(self):
        check_choice("mode", self.mode, ("min", "max"))

    def values(self) -> list:
        """The scientific values, in the order their trials came."""
        return list(dict.fromkeys(_key(t.config[self.scientific]) for t in self.trials))

    def trials_of(self, value) -> list[Trial]:
        return [t for t in self.trials if _key(t.config[self.scientific]) == _key(value)]

    def space_of(self, value) -> dict:
        """The nuisance search space of one scientific value (``nuisance`` may hold one per value)."""
        space = self.nuisance.get(_key(value), self.nuisance) if _per_value(self.nuisance) else self.nuisance
        return space

    def _better(self, trials: list[Trial]) -> Trial | None:
        finite = [t for t in trials if not t.failed]
        if not finite:
            return None
        return (min if self.mode == "min" else max)(finite, key=lambda t: t.score)

    def best_of(self, value) -> Trial | None:
        """The best trial of one scientific value over its nuisance values (``None`` when every one failed)."""
        return self._better(self.trials_of(value))

    def isolation(self) -> dict:
        """Scientific value -> its best trial: what the isolation plot draws."""
        return {value: self.best_of(value) for value in self.values()}

    def best(self) -> Trial:
        best = self._better(self.trials)
        if best is None:
            raise ValueError(f"every trial of the round {self.question!r} failed: there is no best one")
        return best

    def at_edge(self, margin: float = 0.1) -> list[str]:
        """The best trials whose nuisance values sit within ``margin`` of an edge of their search range."""
        notes = []
        for value, trial in self.isolation().items():
            if trial is None:
                continue
            for name, dimension in self.space_of(value).items():
                where = dimension.position(trial.config[name])
                if where < margin or where > 1 - margin:
                    side = "low" if where < margin else "high"
                    notes.append(
                        f"{self.scientific}={value}: best {name} {trial.config[name]:.3g} at the {side} edge "
                        f"of [{dimension.low:g}, {dimension.high:g}]"
                    )
        return notes


def _key(value):
    """Scientific values as dict keys and labels: lists (milestones) become tuples."""
    return tuple(value) if isinstance(value, list) else value


def _per_value(nuisance: dict) -> bool:
    return bool(nuisance) and all(isinstance(v, dict) for v in nuisance.values())


def run_round(
    question: str,
    scientific: dict,
    nuisance: dict,
    fixed: dict,
    num_points: int,
    train: Callable[[list[dict]], list[Trial]],
    seed: int = 0,
    mode: str = "min",
) -> Round:
    """Search the nuisance hyperparameters for every scientific value; return the round with its trials.

    - ``scientific``: ``{name: [values]}``, one name: the question's hyperparameter.
    - ``nuisance``: a search space (name -> ``Log``/``Uniform``/``IntRange``) shared by every value, or one
      space per value (``{value: space}``: momentum wants other lrs than Adam). Every value gets the same
      ``num_points`` quasi-random points, mapped into its own space.
    - ``fixed``: the rest of the configuration, the same in every trial.
    - ``train``: ``configs -> trials``, given every configuration of the round at once, so that a trainer
      that can train many configurations as one batched run does (``course_lib.lr.sweep``); one that cannot
      loops.
    """
    if not isinstance(scientific, dict) or len(scientific) != 1:
        raise ValueError(f"scientific must be one {{name: [values]}}, got {scientific!r}")
    ((name, values),) = scientific.items()
    if not isinstance(values, (list, tuple)) or not values:
        raise ValueError(f"scientific[{name!r}] must be a non-empty list of values, got {values!r}")
    if not isinstance(fixed, dict):
        raise ValueError(f"fixed must be a dict of hyperparameters, got {fixed!r}")
    per_value = _per_value(nuisance) and all(isinstance(d, dict) for d in nuisance.values())
    spaces = {_key(v): _check_space(nuisance[_key(v)] if per_value else nuisance) for v in values}
    if per_value and set(nuisance) != set(spaces):
        raise ValueError(f"nuisance has spaces for {sorted(map(str, nuisance))}, the scientific values are {values!r}")
    clash = {n for space in spaces.values() for n in space} & ({name} | set(fixed))
    if clash:
        raise ValueError(f"{sorted(clash)} cannot be both nuisance and scientific or fixed")
    configs = []
    for value in values:
        points = quasi_random(spaces[_key(value)], num_points, seed)
        configs += [{**fixed, name: value, **point} for point in points]
    trials = train(configs)
    if not isinstance(trials, list) or len(trials) != len(configs) or not all(isinstance(t, Trial) for t in trials):
        raise ValueError(f"train must return one Trial per configuration ({len(configs)}), got {trials!r:.200}")
    return Round(
        question, name, {_key(v): s for v, s in spaces.items()} if per_value else nuisance, dict(fixed), trials, mode
    )


def plot_isolation(
    round_: Round,
    nuisance: str = "lr",
    axes=None,
    metric: str = "validation loss",
    ceiling: float | None = None,
    seeds: dict | None = None,
    labels: dict | None = None,
):
    """Two panels: every trial's score against one ``nuisance`` hyperparameter (the best of each scientific value
    starred), and the isolation plot, the best score of each scientific value.

    ``ceiling``: scores above it (and failed runs) are drawn at it with a cross, so one stalled run does not
    squash the axis. ``seeds``: scientific value -> scores of its best configuration over paired seeds,
    drawn as their mean and standard error beside the search's own best. ``labels``: value -> its name.
    """
    import matplotlib.pyplot as plt

    from . import stats

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.6, 1]})
    left, right = axes
    values, labels = round_.values(), labels or {}
    name = lambda v: str(labels.get(v, v))  # noqa: E731
    shown = lambda s: s if ceiling is None or (math.isfinite(s) and s <= ceiling) else ceiling  # noqa: E731
    best_all = round_.isolation()
    for i, value in enumerate(values):
        color = f"C{i}"
        trials = round_.trials_of(value)
        ok = [t for t in trials if not t.failed and (ceiling is None or t.score <= ceiling)]
        bad = [t for t in trials if t not in ok]
        left.plot(
            [t.config[nuisance] for t in ok], [t.score for t in ok], "o", color=color, alpha=0.75, label=name(value)
        )
        if bad:
            left.plot([t.config[nuisance] for t in bad], [shown(t.score) for t in bad], "x", color=color, markersize=8)
        best = best_all[value]
        if best is not None:
            left.plot([best.config[nuisance]], [best.score], "*", color=color, markersize=15, markeredgecolor="black")
    space = round_.space_of(values[0]) if values else {}
    if isinstance(space.get(nuisance), Log):
        _log_axis(left)
    left.set(
        xlabel=nuisance, ylabel=metric, title="every trial (star: the best of each value; x: failed or above the axis)"
    )
    left.legend(title=round_.scientific, loc="best", fontsize=8, title_fontsize=8)
    xs = range(len(values))
    bests = [best_all[v].score if best_all[v] is not None else math.nan for v in values]
    right.plot(xs, [shown(b) for b in bests], "*", color="black", markersize=13, label="best trial of the search")
    for x, b in zip(xs, bests):
        if not math.isfinite(b) or (ceiling is not None and b > ceiling):
            right.plot([x], [ceiling if ceiling is not None else 0], "x", color="black", markersize=9)
    if seeds:
        for x, value in zip(xs, values):
            scores = seeds.get(value)
            if scores and len(scores) > 1:
                right.errorbar(
                    [x + 0.15],
                    [stats.mean(scores)],
                    yerr=[stats.standard_error(scores)],
                    fmt="o",
                    color="tab:red",
                    capsize=4,
                    label="same config, mean ± se over seeds" if x == 0 else None,
                )
    right.set_xticks(list(xs), [textwrap.fill(name(v), 10) for v in values], fontsize=8)
    right.set(
        xlim=(-0.5, len(values) - 0.5),
        xlabel=round_.scientific,
        ylabel=f"best {metric}",
        title="isolation plot: each value at its best",
    )
    right.legend(loc="best", fontsize=8)
    return axes


def _log_axis(ax) -> None:
    """A log x axis labelled in plain numbers: at 1, 2 and 5 times the powers of ten over two decades or less (a
    search range is often less than a decade wide, where matplotlib's default labels its minor ticks with
    overlapping exponents), at the powers of ten alone over a wider range (twelve labels would overlap)."""
    from matplotlib import ticker

    ax.set_xscale("log")
    low, high = ax.get_xlim()
    wide = low > 0 and math.log10(high / low) > 2.5
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0,) if wide else (1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
