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
"""
from __future__ import annotations

import html
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
    return box
