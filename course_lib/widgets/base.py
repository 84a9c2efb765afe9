"""The one way every widget shows a figure: an ``Output`` of fixed height, redrawn on a change.

Every widget module follows one contract, so the live widget, the tests and the static site all draw
through the same functions:

- ``compute(**controls) -> dict``: pure, cached per value; plain data in, plain data out;
- ``draw(result, fig) -> list[Axes]``: plots ``result`` on ``fig`` (a ``Figure`` or a ``SubFigure``, so
  a notebook can place a widget's picture beside its own plots with ``fig.subfigures``);
- ``describe(result) -> str``: the sentence shown beneath the figure (a diagnosis, the numbers);
- ``explorer(...)``: the controls wired to ``render(fig, **values)``, which draws and returns that text.

This is the portable way (JupyterLab, Notebook 7, VS Code, Colab, Voila): no ipympl needed. With
ipympl installed and ``%matplotlib widget`` run, ``COURSE_WIDGET_BACKEND=ipympl`` (or
``interactive=True``) shows the canvas itself, redrawn in place: faster in JupyterLab, broken on Colab today.

The static site (``python3 course.py site``) turns each explorer into frames: ``snap_values`` lists the
positions of a control, ``LiveFigure.frame`` draws one through the explorer's own ``render``, and
``COURSE_EXPLORER_HOOK=module:function`` makes ``connect`` hand every explorer it builds to that function.
"""
from __future__ import annotations

import html
import importlib
import math
import os
from typing import Callable

BACKENDS = ("output", "ipympl")


def _interactive_default() -> bool:
    backend = os.environ.get("COURSE_WIDGET_BACKEND", "output")
    if backend not in BACKENDS:
        raise ValueError(f"COURSE_WIDGET_BACKEND must be one of {BACKENDS}, got {backend!r}")
    return backend == "ipympl"


def log_slider(description: str, value: float, low: float, high: float, steps_per_decade: int = 8):
    """A slider over powers of ten (lr from 1e-4 to 1, say) that never sends a value while dragging."""
    import ipywidgets as w

    if not 0 < low < high:
        raise ValueError(f"low and high must satisfy 0 < low < high, got {low!r}, {high!r}")
    return w.FloatLogSlider(value=value, base=10, min=math.log10(low), max=math.log10(high),
                            step=1 / steps_per_decade, description=description, continuous_update=False,
                            readout_format=".1e", style={"description_width": "initial"})


class LiveFigure:
    """A matplotlib figure inside an ``Output`` widget, redrawn by ``update(**values)``.

    ``render(fig, **values)`` draws everything on the (cleared) figure and returns the text shown beneath
    it (or ``None``). ``log`` records each update (values, text and seconds taken), which the tests, the
    static site and ``benchmarks/widget_latency.py`` read.
    """

    def __init__(self, render: Callable, figsize=(9, 3.6), height: str = "420px", interactive: bool | None = None):
        import ipywidgets as w
        import matplotlib.pyplot as plt

        interactive = _interactive_default() if interactive is None else interactive

        self.render, self.interactive = render, interactive
        self.output = w.Output(layout=w.Layout(height=height))
        self.caption = w.HTML(layout=w.Layout(min_height="2.6em"))  # the text a render returns, beneath the figure
        with plt.ioff():
            self.fig = plt.figure(figsize=figsize)
        if interactive and not isinstance(self.fig.canvas, w.DOMWidget):
            plt.close(self.fig)
            raise ValueError("interactive=True needs ipympl's canvas: pip install ipympl, then run %matplotlib widget")
        if not interactive:  # out of pyplot's list of open figures, so a later plt.show() does not show it again
            plt.close(self.fig)
        self.log: list[dict] = []

    def update(self, **values) -> None:
        import time

        from IPython.display import display

        start = time.perf_counter()
        self.fig.clear()
        text = self.render(self.fig, **values) or ""
        self.caption.value = f"<div style='font-size: 0.95em; line-height: 1.35'>{html.escape(text)}</div>"
        if self.interactive:
            self.fig.canvas.draw_idle()
        else:
            with self.output:  # in a kernel, display() renders the figure to PNG: the time measured includes drawing
                self.output.clear_output(wait=True)
                display(self.fig)
        self.log.append({"values": values, "text": text, "seconds": time.perf_counter() - start})

    def frame(self, dpi: float = 96, **values):
        """One still of the explorer: ``(image, text)``, an RGB ``PIL.Image`` and the text beneath it.

        It is drawn by the same ``render`` as every update, on a new figure of the same size, so the live
        figure, its log and its ``Output`` are left as they are.
        """
        import numpy as np
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from PIL import Image

        fig = Figure(figsize=self.fig.get_size_inches(), dpi=dpi)
        canvas = FigureCanvasAgg(fig)
        text = self.render(fig, **values) or ""
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba()).astype(np.float32) / 255
        rgb = rgba[..., :3] * rgba[..., 3:] + (1 - rgba[..., 3:])  # on white: a notebook's figure face may be transparent
        return Image.fromarray(np.round(rgb * 255).astype(np.uint8), "RGB"), text

    @property
    def text(self) -> str:
        """The text of the latest update."""
        return self.log[-1]["text"] if self.log else ""

    @property
    def view(self):
        """Where the figure shows: ipympl's canvas, or the ``Output`` it is displayed in."""
        return self.fig.canvas if self.interactive else self.output

    def widget(self):
        """The view with the text beneath it: what an explorer's layout shows."""
        import ipywidgets as w

        return w.VBox([self.view, self.caption])


def connect(controls: dict, figure: LiveFigure, layout=None):
    """Redraw ``figure`` whenever any control changes; return the whole widget box, drawn once."""
    import ipywidgets as w

    def redraw(_change=None):
        figure.update(**{name: control.value for name, control in controls.items()})

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    box = layout if layout is not None else w.VBox([w.HBox(list(controls.values())), figure.widget()])
    box.controls, box.figure = controls, figure  # handles for tests and for notebooks
    hook = os.environ.get("COURSE_EXPLORER_HOOK")
    if hook:
        module, _, function = hook.partition(":")
        if not (module and function):
            raise ValueError(f"COURSE_EXPLORER_HOOK must be 'module:function', got {hook!r}")
        getattr(importlib.import_module(module), function)(box)
    return box


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
        return [(str(o[0]), o[1]) if isinstance(o, tuple) and len(o) == 2 and isinstance(o[0], str) else (str(o), o)
                for o in control.options]
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
            values = [control.base ** v for v in positions] if isinstance(control, w.FloatLogSlider) else positions
        if not any(math.isclose(v, control.value, rel_tol=1e-9, abs_tol=1e-12) for v in values):
            values = sorted([*values, control.value])
        return [(_readout(v, control.readout_format), v) for v in values]
    raise ValueError(f"{type(control).__name__} {control.description!r} has no finite list of values to snap to")


def _readout(value, spec: str) -> str:
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return f"{value:g}"
