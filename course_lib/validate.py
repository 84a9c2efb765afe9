"""Argument checks shared by the library: a wrong argument fails at once, named, with what is allowed.

A bad value that slips through fails later and far away (a ``TypeError`` inside a comparison, a
``ZeroDivisionError`` after an epoch of training); these helpers turn it into a ``ValueError`` that
names the argument, says what it accepts and shows what it got. ``bool`` is never a number here
(``True`` is an ``int`` to Python, but ``patience=True`` is a mistake).

>>> check_int("patience", 2, minimum=0)
2
>>> check_number("lr", "0.1", low=0, include_low=False)
Traceback (most recent call last):
...
ValueError: lr must be a finite number > 0, got '0.1'
"""

from __future__ import annotations

import math
import numbers
from typing import Callable


def is_number(value) -> bool:
    """A real number that is not a bool and not NaN."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)


def check_int(name: str, value, minimum: int | None = None) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or (minimum is not None and value < minimum):
        raise ValueError(f"{name} must be an int{f' >= {minimum}' if minimum is not None else ''}, got {value!r}")
    return int(value)


def check_number(
    name: str,
    value,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    include_low: bool = True,
    include_high: bool = True,
    allow_none: bool = False,
) -> float | None:
    """``value`` must be a finite number between ``low`` and ``high``, each end included or not."""
    if value is None and allow_none:
        return None
    ok = (
        is_number(value)
        and math.isfinite(value)
        and (low < value or (include_low and value == low))
        and (value < high or (include_high and value == high))
    )
    if not ok:
        raise ValueError(
            f"{name} must be {'None or ' if allow_none else ''}a finite number {_range(low, high, include_low, include_high)}, "
            f"got {value!r}"
        )
    return value


def check_choice(name: str, value, choices) -> None:
    """``value`` must be one of ``choices`` (compared safely, so an unhashable value is an error, not a crash)."""
    if not any(type(value) is type(choice) and value == choice for choice in choices):
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


def check_instance(name: str, value, kinds: type | tuple[type, ...], what: str, allow_none: bool = False):
    """``value`` must be an instance of ``kinds`` (``what`` says so in words)."""
    if (value is None and allow_none) or (isinstance(value, kinds) and not isinstance(value, bool)):
        return value
    raise ValueError(f"{name} must be {'None or ' if allow_none else ''}{what}, got {value!r}")


def check_callable(name: str, value, what: str, allow_none: bool = False) -> Callable | None:
    if (value is None and allow_none) or callable(value):
        return value
    raise ValueError(f"{name} must be {'None or ' if allow_none else ''}{what}, got {value!r}")


def _range(low, high, include_low, include_high) -> str:
    if low == -math.inf:
        return f"{'<=' if include_high else '<'} {high:g}" if high != math.inf else "(finite)"
    if high == math.inf:
        return f"{'>=' if include_low else '>'} {low:g}"
    return f"in {'[' if include_low else '('}{low:g}, {high:g}{']' if include_high else ')'}"
