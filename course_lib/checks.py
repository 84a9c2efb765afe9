"""Claims and exercises: a notebook states what its runs show, and the tests hold it to that.

``claim`` prints a tick when a statement about a run holds. Under the test suite (``COURSE_STRICT=1``)
a false claim raises, so a change that breaks a lesson fails the suite; for a learner it only warns,
since another device or library version can move small numbers.

``exercise`` runs a check on a learner's function and explains the outcome in words: not written yet,
wrong (and how), or right. Under ``COURSE_STRICT=1`` a wrong answer raises (the solution notebooks).
"""
from __future__ import annotations

import os
from typing import Callable


def strict() -> bool:
    return os.environ.get("COURSE_STRICT") == "1"


def claim(condition: bool, statement: str) -> None:
    """Print ``statement`` with a tick if ``condition`` holds; otherwise warn (or raise under the tests)."""
    if bool(condition):
        print(f"\N{CHECK MARK} {statement}")
        return
    if strict():
        raise AssertionError(f"the lesson claims: {statement!r}, but this run does not show it")
    print(f"\N{BALLOT X} not in this run: {statement} (seeds, sizes or devices can move small results; "
          "try the default size)")


def exercise(check: Callable[[], None], what: str) -> None:
    """Run ``check`` (which calls the learner's code and asserts) and say how it went."""
    try:
        check()
    except NotImplementedError:
        print(f"\N{PENCIL} {what}: not written yet. Replace the `raise NotImplementedError` and run this cell again.")
        return
    except AssertionError as error:
        if strict():
            raise
        print(f"\N{BALLOT X} {what}: not quite. {error}")
        return
    print(f"\N{CHECK MARK} {what}: correct, well done.")
