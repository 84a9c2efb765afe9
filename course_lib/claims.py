"""Claims and exercises: a notebook states what its runs show, and the tests hold it to that.

``claim`` prints a tick when a statement about a run holds. Under the test suite (``COURSE_STRICT=1``)
a false claim raises, so a change that breaks a lesson fails the suite; for a learner it only warns,
since another device or library version can move small numbers.

``exercise`` runs a check on a learner's function and explains the outcome in words: not written yet,
wrong (and how), or right. Under ``COURSE_STRICT=1`` a wrong answer raises (the solution notebooks).

With ``COURSE_CLAIMS_LOG`` set to a file, every claim and exercise outcome is also appended to it as a
line of JSON: ``python -m tools.notebooks check`` counts them there, since a widget redrawn in the same cell
can clear the printed lines of a headless run.
"""

from __future__ import annotations

import json
import os
from typing import Callable


def strict() -> bool:
    return os.environ.get("COURSE_STRICT") == "1"


def _log(kind: str, held: bool, statement: str) -> None:
    path = os.environ.get("COURSE_CLAIMS_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps({"kind": kind, "held": held, "statement": statement}) + "\n")


def claim(condition: bool, statement: str) -> None:
    """Print ``statement`` with a tick if ``condition`` holds; otherwise warn (or raise under the tests)."""
    held = bool(condition)
    _log("claim", held, statement)
    if held:
        print(f"\N{CHECK MARK} {statement}")
        return
    if strict():
        raise AssertionError(f"the lesson claims: {statement!r}, but this run does not show it")
    print(
        f"\N{BALLOT X} not in this run: {statement} (the course checks its claims for seeds 0, 1 and 2 at the smoke "
        "and default sizes; a changed seed, size, device or piece of code can move a result)"
    )


def exercise(check: Callable[[], None], what: str) -> None:
    """Run ``check`` (which calls the learner's code and asserts) and say how it went."""
    try:
        check()
    except NotImplementedError:
        print(f"\N{PENCIL} {what}: not written yet. Replace the `raise NotImplementedError` and run this cell again.")
        return
    except AssertionError as error:
        _log("exercise", False, what)
        if strict():
            raise
        print(f"\N{BALLOT X} {what}: not quite. {error}")
        return
    _log("exercise", True, what)
    print(f"\N{CHECK MARK} {what}: correct, well done.")
