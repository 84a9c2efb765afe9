"""Every widget module can be timed by ``benchmarks/widget_latency.py``.

Each module in ``course_lib/widgets/`` (not ``base`` and not private ``_*`` modules) must define
``explorer`` and a non-empty ``LATENCY_CASES``: dicts whose keys name controls of the built explorer
and whose values those controls accept as they are (not clamped to a slider's range, and among a
dropdown's options), so that the benchmark times the changes it claims to time.
"""
from __future__ import annotations

import importlib
import math
import pkgutil

import pytest

import course_lib.widgets

WIDGET_MODULES = sorted(info.name for info in pkgutil.iter_modules(course_lib.widgets.__path__)
                        if not info.name.startswith("_") and info.name != "base")


def accepted(control, value):
    """The value ``control`` would take for ``value`` (traitlets' validation, without setting it)."""
    from traitlets import TraitError

    try:
        return control.traits()["value"]._validate(control, value)
    except TraitError as error:
        raise AssertionError(f"{control.description or type(control).__name__!r} rejects {value!r}: {error}") from None


def test_widget_modules_are_discovered():
    names = {info.name for info in pkgutil.iter_modules(course_lib.widgets.__path__)}
    assert "base" in names and "base" not in WIDGET_MODULES


@pytest.mark.parametrize("name", WIDGET_MODULES)
def test_widget_module_has_explorer_and_latency_cases(name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    module = importlib.import_module(f"course_lib.widgets.{name}")
    assert callable(getattr(module, "explorer", None)), f"{name} defines no explorer()"
    cases = getattr(module, "LATENCY_CASES", None)
    assert isinstance(cases, (list, tuple)) and len(cases) > 0, f"{name} defines no non-empty LATENCY_CASES list"

    box = module.explorer()
    try:
        assert isinstance(box.controls, dict) and box.controls, "explorer() returns connect(controls, LiveFigure(...))"
        for case in cases:
            assert isinstance(case, dict) and case, f"each case is a non-empty dict, got {case!r}"
            unknown = set(case) - set(box.controls)
            assert not unknown, f"{name}.LATENCY_CASES names {sorted(unknown)}, controls are {sorted(box.controls)}"
            for key, value in case.items():
                got = accepted(box.controls[key], value)
                same = (math.isclose(got, value, rel_tol=1e-9) if isinstance(value, float) else got == value)
                assert same, f"{name}: control {key!r} would take {got!r} for {value!r} (outside its range?)"
    finally:
        plt.close(box.figure.fig)
