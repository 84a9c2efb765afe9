import pytest

from course_lib import claims


def test_claims_and_exercises(monkeypatch, capsys):
    claims.claim(True, "it holds")
    assert "\N{CHECK MARK} it holds" in capsys.readouterr().out
    monkeypatch.setenv("COURSE_STRICT", "0")
    claims.claim(False, "it fails")
    assert "not in this run: it fails" in capsys.readouterr().out
    claims.exercise(lambda: (_ for _ in ()).throw(NotImplementedError), "ex")
    assert "not written yet" in capsys.readouterr().out

    def wrong():
        assert 1 == 2, "expected 2"

    claims.exercise(wrong, "ex")
    assert "expected 2" in capsys.readouterr().out
    claims.exercise(lambda: None, "ex")
    assert "correct" in capsys.readouterr().out
    monkeypatch.setenv("COURSE_STRICT", "1")
    with pytest.raises(AssertionError):
        claims.claim(False, "it fails")
    with pytest.raises(AssertionError):
        claims.exercise(wrong, "ex")


def test_a_false_claim_raises_only_under_the_tests(monkeypatch, capsys):
    """COURSE_STRICT=1 (the suite) makes a false claim an error; a learner's kernel only gets a warning."""
    monkeypatch.delenv("COURSE_STRICT", raising=False)
    assert not claims.strict()
    claims.claim(0, "zero is false")
    assert "not in this run: zero is false" in capsys.readouterr().out
    monkeypatch.setenv("COURSE_STRICT", "1")
    assert claims.strict()
    with pytest.raises(AssertionError, match="the lesson claims: 'zero is false'"):
        claims.claim(0, "zero is false")


def test_an_exercise_that_raises_something_else_is_not_hidden(monkeypatch):
    """Only NotImplementedError (not written) and AssertionError (wrong) are explained; a bug in the check shows."""
    monkeypatch.setenv("COURSE_STRICT", "0")
    with pytest.raises(ZeroDivisionError):
        claims.exercise(lambda: 1 / 0, "ex")


def modules_with_examples() -> list[str]:
    """Every course_lib module whose source holds a docstring example, found, so that the list cannot go stale."""
    from pathlib import Path

    import course_lib

    root = Path(course_lib.__file__).parent
    paths = sorted(p for p in root.rglob("*.py") if ">>>" in p.read_text(encoding="utf-8"))
    return [".".join(p.relative_to(root).with_suffix("").parts) for p in paths]


@pytest.mark.parametrize("module", modules_with_examples())
def test_docstring_examples_run(module):
    """The examples in the library's docstrings are run, so they cannot go stale."""
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"course_lib.{module}"))
    assert result.attempted > 0 and result.failed == 0


def test_the_modules_with_examples_are_found():
    assert {"training.trainer", "training.statuses", "validate", "lr.sweep", "problems.digits", "optimizers"} <= set(
        modules_with_examples()
    )


def test_every_outcome_is_logged_when_asked(monkeypatch, tmp_path):
    """tools/notebooks.py check counts outcomes from this log: a widget's clear_output can erase printed lines."""
    import json

    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv("COURSE_CLAIMS_LOG", str(log))
    monkeypatch.setenv("COURSE_STRICT", "0")
    claims.claim(True, "it holds")
    claims.claim(0, "it fails")
    claims.exercise(lambda: None, "ex")
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert entries == [
        {"kind": "claim", "held": True, "statement": "it holds"},
        {"kind": "claim", "held": False, "statement": "it fails"},
        {"kind": "exercise", "held": True, "statement": "ex"},
    ]
