"""The cases ``benchmarks/widget_latency.py`` times are real control changes of every widget.

Each widget module (not ``base``) needs cases in ``benchmarks/widget_cases.py``; each case names controls of
the module's built explorer, with values that those controls take as they are (not clamped to a slider's
range, and among a dropdown's options). Otherwise the benchmark would time changes that never happen.
"""
from __future__ import annotations

import importlib
import math
import pkgutil

import pytest

import course_lib.widgets
from conftest import WIDGET_CASES

WIDGET_MODULES = sorted(info.name for info in pkgutil.iter_modules(course_lib.widgets.__path__) if info.name != "base")


def accepted(control, value):
    """The value ``control`` would take for ``value`` (traitlets' validation, without setting it)."""
    from traitlets import TraitError

    try:
        return control.traits()["value"]._validate(control, value)
    except TraitError as error:
        raise AssertionError(f"{control.description or type(control).__name__!r} rejects {value!r}: {error}") from None


def test_every_widget_module_has_cases_and_no_case_names_a_missing_module():
    assert WIDGET_MODULES, "no widget module found"
    assert set(WIDGET_CASES) == set(WIDGET_MODULES)


@pytest.mark.parametrize("name", WIDGET_MODULES)
def test_cases_name_controls_with_values_they_accept(name):
    import matplotlib.pyplot as plt

    box = importlib.import_module(f"course_lib.widgets.{name}").explorer()
    try:
        for case in WIDGET_CASES[name]:
            assert isinstance(case, dict) and case, f"each case is a non-empty dict, got {case!r}"
            unknown = set(case) - set(box.controls)
            assert not unknown, f"{name}'s cases name {sorted(unknown)}, controls are {sorted(box.controls)}"
            for key, value in case.items():
                got = accepted(box.controls[key], value)
                same = math.isclose(got, value, rel_tol=1e-9) if isinstance(value, float) else got == value
                assert same, f"{name}: control {key!r} would take {got!r} for {value!r} (outside its range?)"
    finally:
        plt.close(box.figure.fig)
