"""The figure plumbing every widget shares: the portable Output way, and ipympl when asked for."""
import importlib.util

import ipywidgets as w
import matplotlib
import pytest

from course_lib.widgets import base


def render(fig, value):
    fig.add_subplot(1, 1, 1).plot([0, 1], [0, value])
    return f"value {value:g} & more"


def test_output_is_the_default_and_update_draws_into_it(monkeypatch):
    monkeypatch.delenv("COURSE_WIDGET_BACKEND", raising=False)
    box = base.connect({"value": w.FloatSlider(value=1.0, min=0, max=5)}, base.LiveFigure(render))
    assert isinstance(box.figure.view, w.Output) and len(box.figure.log) == 1
    assert box.figure.view in box.figure.widget().children
    box.controls["value"].value = 3.0
    assert box.figure.fig.axes[0].lines[0].get_ydata()[-1] == 3.0 and len(box.figure.log) == 2


def test_the_text_a_render_returns_is_shown_beneath_the_figure_escaped():
    box = base.connect({"value": w.FloatSlider(value=1.0, min=0, max=5)}, base.LiveFigure(render))
    box.controls["value"].value = 2.0
    assert box.figure.text == "value 2 & more" and box.figure.log[-1]["text"] == "value 2 & more"
    assert "value 2 &amp; more" in box.figure.caption.value


def test_backend_variable_is_checked(monkeypatch):
    monkeypatch.setenv("COURSE_WIDGET_BACKEND", "ipywidget")
    with pytest.raises(ValueError, match=r"COURSE_WIDGET_BACKEND must be one of \('output', 'ipympl'\)"):
        base.LiveFigure(render)


def test_interactive_without_ipympl_backend_explains_what_to_do():
    with pytest.raises(ValueError, match="%matplotlib widget"):
        base.LiveFigure(render, interactive=True)  # the tests run on Agg, whose canvas is no widget


@pytest.mark.skipif(importlib.util.find_spec("ipympl") is None, reason="ipympl is optional")
def test_ipympl_canvas_is_shown_and_redrawn_in_place(monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("COURSE_WIDGET_BACKEND", "ipympl")
    previous = matplotlib.get_backend()
    plt.switch_backend("module://ipympl.backend_nbagg")
    try:
        box = base.connect({"value": w.FloatSlider(value=1.0, min=0, max=5)}, base.LiveFigure(render))
        canvas = box.figure.view
        assert isinstance(canvas, w.DOMWidget) and canvas is box.figure.fig.canvas
        box.controls["value"].value = 2.0
        assert box.figure.fig.axes[0].lines[0].get_ydata()[-1] == 2.0
    finally:
        plt.close("all")
        plt.switch_backend(previous)
