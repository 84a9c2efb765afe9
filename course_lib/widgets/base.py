"""What every explorer is made of, so that the live widget, the tests and the static site draw alike.

Every widget module follows one contract:

- ``compute(**controls) -> dict``: pure, cached per value; plain data in, plain data out;
- a :class:`~course_lib.widgets.picture.Picture` subclass: ``Picture(fig)`` lays the figure out once,
  ``show(result)`` sets its artists' data (drawing only what changed is what makes a drag answer at once,
  :mod:`course_lib.widgets.picture`); ``draw(result, fig)`` does both, for a notebook that places the
  picture in a figure of its own (``fig`` may be a ``SubFigure``);
- ``describe(result) -> str``: the sentence shown beneath the figure (a diagnosis, the numbers);
- ``explorer(...)``: the controls, wired by :func:`connect` to ``render(picture, **values)`` through a
  :class:`~course_lib.widgets.live.LiveFigure`; the render shows the result and returns that sentence;
- ``FEATURED``, the one or two controls a reader should drag first (the static site varies those), and
  ``LATENCY_CASES``, the control changes ``benchmarks/widget_latency.py`` times.

A notebook can wire its own plot the same way: ``connect(controls, LiveFigure(render))`` with a
``render(fig, **values)`` that draws on the cleared figure each time.

:func:`explorers` lists the explorers built in this kernel: the static site (``python3 course.py site``)
reads it and turns each into frames, drawn by ``LiveFigure.frame`` through the explorer's own render.
"""

from __future__ import annotations

import gc
import itertools
import math
import weakref

from .live import LiveFigure
from .picture import Picture

__all__ = ["LiveFigure", "Picture", "connect", "explorers", "log_slider", "slider", "snap_values"]


def log_slider(description: str, value: float, low: float, high: float, steps_per_decade: int = 8):
    """A slider over powers of ten (lr from 1e-4 to 1, say) that never sends a value while dragging."""
    import ipywidgets as w

    if not 0 < low < high < math.inf:
        raise ValueError(f"low and high must satisfy 0 < low < high < inf, got {low!r}, {high!r}")
    return w.FloatLogSlider(
        value=value,
        base=10,
        min=math.log10(low),
        max=math.log10(high),
        step=1 / steps_per_decade,
        description=description,
        continuous_update=False,
        readout_format=".1e",
        style={"description_width": "initial"},
    )


def slider(kind, description: str, value, low, high, step=1, **options):
    """A linear slider of ``kind`` (``ipywidgets.IntSlider`` or ``FloatSlider``) that sends its value only when let
    go, as every explorer's controls do (a value per pixel dragged would queue a drawing each). ``options`` go to
    the widget (a ``layout`` of its own, say: hiding one slider then hides only it)."""
    return kind(
        value=value,
        min=low,
        max=high,
        step=step,
        description=description,
        continuous_update=False,
        style={"description_width": "initial"},
        **options,
    )


_built: weakref.WeakValueDictionary[int, object] = weakref.WeakValueDictionary()
_numbers = itertools.count()


def explorers() -> list:
    """Every explorer :func:`connect` built in this kernel and not yet closed, oldest first."""
    return [box for _, box in sorted(_built.items())]


def connect(controls: dict, figure: LiveFigure, layout=None, *, featured=None):
    """Redraw ``figure`` whenever any control changes; return the whole widget box, drawn once.

    ``featured`` names the one or two controls a reader should drag first (the static site varies those;
    default: the first two that have a finite list of values).
    """
    import ipywidgets as w

    featured = _featured(controls, featured)

    def redraw(_change=None):
        figure.update(**{name: control.value for name, control in controls.items()})

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    gc.collect()  # building made many objects: Python's next full collection (0.1 s) would fall on an early drag
    box = layout if layout is not None else w.VBox([w.HBox(list(controls.values())), figure.widget()])
    box.controls, box.figure, box.featured = controls, figure, featured  # handles for tests, notebooks and the site
    _built[next(_numbers)] = box
    return box


def _featured(controls: dict, featured) -> tuple[str, ...]:
    if featured is None:
        names = []
        for name, control in controls.items():
            try:
                snap_values(control)
            except ValueError:
                continue
            names.append(name)
        return tuple(names[:2])
    featured = tuple(featured)
    if not 1 <= len(featured) <= 2 or not all(name in controls for name in featured):
        raise ValueError(f"featured must name one or two of the controls {tuple(controls)}, got {featured!r}")
    for name in featured:
        snap_values(controls[name])  # a control with no finite list of values cannot be featured
    return featured


def snap_values(control) -> list[tuple[str, object]]:
    """Every ``(label, value)`` a control can take, in order: a menu's options, a slider's positions.

    A slider's positions are ``min + k * step`` (a log slider's are ``base`` to those powers), its
    ``max`` and its current value, which need not sit on the grid (a log slider started at 0.02, say).
    Labels are the readout's format. A control with no finite list of values (a range slider, a text
    box) raises ``ValueError``.
    """
    import ipywidgets as w

    if isinstance(control, (w.Checkbox, w.ToggleButton)):
        return [("off", False), ("on", True)]
    if isinstance(control, (w.Dropdown, w.SelectionSlider, w.ToggleButtons, w.RadioButtons)):
        return [
            (str(o[0]), o[1]) if isinstance(o, tuple) and len(o) == 2 and isinstance(o[0], str) else (str(o), o)
            for o in control.options
        ]
    if isinstance(control, (w.IntSlider, w.FloatSlider, w.FloatLogSlider)):
        low, high, step = control.min, control.max, control.step
        count = math.floor((high - low) / step + 1e-9)
        positions = [low + k * step for k in range(count + 1)]
        if high - positions[-1] > 1e-9 * step:
            positions.append(high)
        if isinstance(control, w.IntSlider):
            values = [int(v) for v in positions]
        else:
            digits = max(0, -math.floor(math.log10(step))) + 3  # 0.1 + 0.2 is 0.3 here, as the readout shows
            positions = [round(v, digits) for v in positions]
            values = [control.base**v for v in positions] if isinstance(control, w.FloatLogSlider) else positions
        if not any(math.isclose(v, control.value, rel_tol=1e-9, abs_tol=1e-12) for v in values):
            values = sorted([*values, control.value])
        return [(_readout(v, control.readout_format), v) for v in values]
    raise ValueError(f"{type(control).__name__} {control.description!r} has no finite list of values to snap to")


def _readout(value, spec: str) -> str:
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return f"{value:g}"
