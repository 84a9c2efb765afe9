"""Numbers over seeds: a mean, its standard error, and paired comparisons of two settings.

One run is a draw: another seed, another CPU, moves it. The lessons compare settings over several
seeds, run in pairs (setting A and setting B from the same seed share initial weights and batches), so
the comparison looks at the per-seed differences, whose spread is the noise the claim must beat.
The t-test is SciPy's (``scipy.stats.ttest_rel``), which scikit-learn already brings.

>>> round(mean([1.0, 2.0, 3.0]), 3), round(standard_error([1.0, 2.0, 3.0]), 3)
(2.0, 0.577)
>>> result = paired([0.9, 0.8, 0.85], [0.7, 0.65, 0.72])
>>> round(result.mean, 3), result.beyond(3)
(0.16, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def _floats(name: str, values) -> list[float]:
    values = [float(v) for v in values]
    if not values:
        raise ValueError(f"{name} must hold at least one number, got none")
    return values


def mean(values) -> float:
    values = _floats("values", values)
    return sum(values) / len(values)


def standard_error(values) -> float:
    """The standard error of the mean: the sample standard deviation over sqrt(n); needs two values or more."""
    values = _floats("values", values)
    if len(values) < 2:
        raise ValueError(f"a standard error needs at least two values, got {len(values)}")
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1) / len(values))


@dataclass
class Paired:
    """Per-seed differences ``a - b`` and what they say: their mean, its standard error, t and a two-sided p."""

    differences: list[float]
    mean: float
    standard_error: float
    t: float
    p_value: float

    @property
    def ahead(self) -> int:
        return sum(d > 0 for d in self.differences)

    @property
    def behind(self) -> int:
        return sum(d < 0 for d in self.differences)

    def beyond(self, standard_errors: float = 3.0) -> bool:
        """True when the mean difference is more than ``standard_errors`` standard errors away from 0."""
        return abs(self.mean) > standard_errors * self.standard_error


def paired(a, b) -> Paired:
    """Compare two settings run on the same seeds: ``a[i]`` and ``b[i]`` come from seed i."""
    a, b = _floats("a", a), _floats("b", b)
    if len(a) != len(b):
        raise ValueError(f"a and b must come from the same seeds, got {len(a)} and {len(b)} values")
    differences = [x - y for x, y in zip(a, b)]
    m, se = mean(differences), standard_error(differences)
    if se == 0:
        t, p = (math.copysign(math.inf, m), 0.0) if m else (0.0, 1.0)
    else:
        from scipy.stats import ttest_rel

        t, p = float(m / se), float(ttest_rel(a, b).pvalue)
    return Paired(differences, m, se, t, p)


def tail_mean(history, key: str, epochs: int = 5) -> float:
    """The mean of ``key`` over a run's last ``epochs`` epochs: steadier than the last epoch alone."""
    values = history.epoch_values(key)[-epochs:]
    if not values:
        raise ValueError(f"the history has no epoch logged for {key!r} yet")
    return mean(values)


def describe(values, percent: bool = False) -> str:
    """``mean ± standard error (lowest to highest)``, for a table cell."""
    values = _floats("values", values)
    show = (lambda v: f"{v:.1%}") if percent else (lambda v: f"{v:.4g}")
    error = f" ± {show(standard_error(values))}" if len(values) > 1 else ""
    return f"{show(mean(values))}{error} ({show(min(values))} to {show(max(values))})"
