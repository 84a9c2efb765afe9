"""What the tools' command lines accept: argparse types that name the rule a bad value breaks."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    return _int_at_least(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0, "a non-negative integer")


def seed_number(text: str) -> int:
    """A seed for ``--seeds``, which takes every word after it: ``--seeds 0 1 2 07`` must not run seed 7 of every
    notebook, so a number written with a leading zero (a lesson's name) is refused."""
    if len(text) > 1 and text.startswith("0") and text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} looks like a notebook's name: put names before --seeds")
    return non_negative_int(text)


def _int_at_least(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
    return value
