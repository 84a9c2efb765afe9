"""What each explorer declares, and what its fast redraw shows, for every widget module.

Each module with an explorer declares ``FEATURED`` (the one or two controls the static site varies) and
``LATENCY_CASES`` (the control changes ``benchmarks/widget_latency.py`` times). The declarations must name controls
of the built explorer, with values those controls take as they are (not clamped to a slider's range, and among a
menu's options), or the benchmark and the site would play changes that never happen.

Then every case is played on the live figure, which draws only what changed (moving artists over a copy of the
rest, changed axes alone in their slots, legends put back as first drawn). After each change the live image must be
the picture drawn whole from scratch, every axes must stay inside the slot it is redrawn in, and nothing may show
an error.
"""

from __future__ import annotations

import importlib
import io
import math
import pkgutil

import numpy as np
import pytest
from PIL import Image

import course_lib.widgets
from course_lib.widgets import base, picture

WIDGET_MODULES = sorted(
    info.name
    for info in pkgutil.iter_modules(course_lib.widgets.__path__)  # those with an explorer
    if hasattr(importlib.import_module(f"course_lib.widgets.{info.name}"), "explorer")
)


BUILD = {  # what the tests change in how an explorer is built: no worker process; the smoke runs (seconds, not 13 s)
    "capacity_explorer": {"ahead": False},
    "grokking_explorer": {"size": "smoke"},
}


def explorer(name):
    module = importlib.import_module(f"course_lib.widgets.{name}")
    return module, module.explorer(**BUILD.get(name, {}))


def accepted(control, value):
    """The value ``control`` would take for ``value`` (traitlets' validation, without setting it)."""
    from traitlets import TraitError

    try:
        return control.traits()["value"]._validate(control, value)
    except TraitError as error:
        raise AssertionError(f"{control.description or type(control).__name__!r} rejects {value!r}: {error}") from None


def pixels(figure) -> np.ndarray:
    """The live canvas as last drawn, RGB."""
    return np.asarray(figure.fig.canvas.buffer_rgba())[..., :3].astype(int)


def whole(figure, values):
    """The same picture drawn whole, from scratch, on a new figure of the same size and resolution: (RGB, picture)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figure.fig.get_size_inches(), dpi=figure.fig.dpi)
    FigureCanvasAgg(fig)
    picture = figure.picture_class(fig)
    figure.render(picture, **values)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int), picture


def test_every_widget_module_declares_featured_controls_and_latency_cases():
    assert WIDGET_MODULES, "no widget module found"
    for name in WIDGET_MODULES:
        module = importlib.import_module(f"course_lib.widgets.{name}")
        assert 1 <= len(module.FEATURED) <= 2, f"{name}.FEATURED names one or two controls"
        assert module.LATENCY_CASES and all(isinstance(case, dict) and case for case in module.LATENCY_CASES), name


@pytest.mark.parametrize("name", WIDGET_MODULES)
def test_declarations_name_controls_with_values_they_accept(name):
    module, box = explorer(name)
    assert box.featured == tuple(module.FEATURED) and box in base.explorers()
    for control in box.featured:
        assert len(base.snap_values(box.controls[control])) > 1, f"{name}: featured {control!r} has one value"
    for case in module.LATENCY_CASES:
        unknown = set(case) - set(box.controls)
        assert not unknown, f"{name}'s cases name {sorted(unknown)}, controls are {sorted(box.controls)}"
        for key, value in case.items():
            got = accepted(box.controls[key], value)
            same = math.isclose(got, value, rel_tol=1e-9) if isinstance(value, float) else got == value
            assert same, f"{name}: control {key!r} would take {got!r} for {value!r} (outside its range?)"


@pytest.mark.parametrize("name", WIDGET_MODULES)
def test_each_change_draws_the_whole_picture_and_every_axes_stays_in_its_slot(name):
    module, box = explorer(name)
    figure = box.figure
    assert _differ(pixels(figure), whole(figure, _values(box))[0]) < 2e-3, "the first drawing differs"
    for case in module.LATENCY_CASES:
        for key, value in case.items():
            logged = len(figure.log)
            box.controls[key].value = value
            if len(figure.log) == logged:
                continue  # the control had that value already
            assert "error" not in figure.log[-1], figure.log[-1]
            live, (drawn, drawn_picture) = pixels(figure), whole(figure, _values(box))
            differ = _differ(live, drawn)
            assert differ < 2e-3, f"{name}, {key}={value!r}: {differ:.2%} of the pixels differ from the whole picture"
            assert picture.fits(drawn_picture, figure.slots), f"{name}, {key}={value!r}: an axes outgrew its slot"
            if figure.image_format == "png":  # the PNG sent, in the picture's 256 colours, shows the canvas
                data = picture.encode(figure.fig.canvas, "png", figure._palette).data
                error = np.abs(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int) - live).max(axis=-1)
                assert error.mean() < 6 and (error > 48).mean() < 1e-3, f"{name}, {key}={value!r}: the PNG's colours"


def _differ(live, drawn) -> float:
    """The share of pixels that differ visibly: the same picture, but for antialiased edges where a moving artist
    meets a legend put back over it (a few pixels)."""
    return float((np.abs(live - drawn).max(axis=-1) > 24).mean())


def _values(box) -> dict:
    return {name: control.value for name, control in box.controls.items()}


@pytest.mark.parametrize(
    "name", [n for n in WIDGET_MODULES if ">>>" in (importlib.import_module(f"course_lib.widgets.{n}").__doc__ or "")]
)
def test_docstring_examples_run(name):
    """The examples in the widgets' docstrings are run, so they cannot go stale."""
    import doctest

    result = doctest.testmod(importlib.import_module(f"course_lib.widgets.{name}"))
    assert result.attempted > 0 and result.failed == 0
