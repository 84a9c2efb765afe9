"""How a run ends: the status names every module compares, and the one rule that calls a loss diverged.

The names are plain strings (a saved history stays plain data, and ``history.status == "diverged"``
keeps working), defined once here so that no module spells them on its own. ``Trainer``, ``sweep``
and ``lr_finder`` all decide divergence with :func:`diverged`; each brings its own reference loss.
"""
from __future__ import annotations

import math

NOT_STARTED = "not started"
RUNNING = "running"
COMPLETED = "completed"
STOPPED_EARLY = "stopped early"
DIVERGED = "diverged"
INTERRUPTED = "interrupted"
STATUSES = (NOT_STARTED, RUNNING, COMPLETED, STOPPED_EARLY, DIVERGED, INTERRUPTED)
ENDED_NORMALLY = (COMPLETED, STOPPED_EARLY)


def diverged(loss: float, reference: float, factor: float | None) -> bool:
    """True when ``loss`` is NaN or infinite, or larger than ``factor`` times ``|reference|``.

    ``Trainer`` and ``sweep`` compare each loss with the run's first loss (``factor=1e3``): a model
    whose loss grows a thousandfold is not coming back. ``lr_finder`` compares its smoothed loss with
    the lowest one so far (``factor=4``). ``factor=None`` checks only for NaN and infinity.

    >>> diverged(float("nan"), 2.3, None), diverged(2400.0, 2.3, 1e3), diverged(5.0, 2.3, 1e3)
    (True, True, False)
    """
    if not math.isfinite(loss):
        return True
    return factor is not None and loss > factor * max(abs(reference), 1e-12)
