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


class Line(base.Picture):
    """A test picture: one moving line over a static axes whose limits show() sets when they change."""

    def __init__(self, fig):
        super().__init__(fig)
        self.ax = fig.add_subplot(1, 1, 1)
        (self.line,) = self.ax.plot([], [], label="value")
        self.on_top = [self.ax.legend(loc="upper left", framealpha=1)]
        self.moving = [self.line]

    def show(self, result):
        self.line.set_data([0, 1], [0, result["value"]])
        if self.changed("top", max(1.0, result["value"])):
            self.ax.set_ylim(0, max(1.0, result["value"]))


def line_render(picture, value):
    if value != value:  # NaN
        raise ValueError(f"value must be a finite number, got {value!r}")
    if value == 4.0:
        raise RuntimeError("a bug")
    picture.show({"value": value})
    return f"value {value:g}"


def line_box():
    return base.connect({"value": w.FloatSlider(value=0.5, min=0, max=5)}, base.LiveFigure(line_render, picture=Line))


def test_a_picture_is_laid_out_once_and_only_what_changed_is_drawn_again():
    box = line_box()
    figure, picture = box.figure, box.figure.picture
    axes, background = figure.fig.axes, figure._background
    box.controls["value"].value = 0.8  # the line only: drawn over the copy of the rest
    assert figure.fig.axes == axes and figure._background is background and not figure.fig.stale
    assert picture.line.get_animated() and list(picture.line.get_ydata()) == [0, 0.8]
    box.controls["value"].value = 3.0  # a new limit: that axes is drawn again
    assert figure._background is not background and picture.ax.get_ylim() == (0, 3.0)
    image, text = figure.frame(50, value=3.0)  # the frames draw every artist, on a figure of their own
    assert text == "value 3" and image.size == (450, 180) and not figure._frames[50][1].line.get_animated()


def test_a_refused_value_is_shown_in_place_of_the_picture_and_the_widget_goes_on():
    box = line_box()
    box.controls["value"].value = float("nan")
    assert box.figure.log[-1]["error"].startswith("ValueError: value must be a finite number")
    assert box.figure.text.startswith("value must be a finite number") and "finite number" in box.figure.caption.value
    assert box.figure.fig.texts[0].get_visible() and box.figure.fig.texts[0].cover.get_visible()
    box.controls["value"].value = 2.0
    assert not box.figure.fig.texts[0].get_visible() and not box.figure.fig.texts[0].cover.get_visible()
    assert box.figure.text == "value 2" and "error" not in box.figure.log[-1]


def test_a_bug_in_a_render_is_shown_and_raised():
    box = line_box()
    with pytest.raises(RuntimeError, match="a bug"):
        box.controls["value"].value = 4.0
    assert box.figure.text == "RuntimeError: a bug" and box.figure.log[-1]["error"] == "RuntimeError: a bug"


def test_explorers_lists_what_connect_built_in_this_kernel_with_its_featured_controls():
    first, second = line_box(), line_box()
    built = base.explorers()
    assert built.index(first) < built.index(second) and first.featured == ("value",)
    with pytest.raises(ValueError, match=r"featured must name one or two of the controls \('value',\)"):
        base.connect({"value": w.FloatSlider()}, base.LiveFigure(render), featured=("lr",))
    with pytest.raises(ValueError, match="no finite list of values"):
        base.connect(
            {"milestones": w.IntRangeSlider(description="milestones")},
            base.LiveFigure(render),
            featured=("milestones",),
        )


@pytest.mark.parametrize(
    "kwargs, match",
    [({"image_format": "gif"}, "image_format must be one of"), ({"picture": None, "image_format": "png"}, None)],
)
def test_live_figure_checks_its_image_format(kwargs, match):
    if match is None:
        assert base.LiveFigure(render, **kwargs).image_format == "png"
    else:
        with pytest.raises(ValueError, match=match):
            base.LiveFigure(render, **kwargs)
