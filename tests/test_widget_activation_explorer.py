"""The activation explorer: each activation's measured range, gradients, softmax, and the controls."""

import math

import pytest
import torch

from course_lib.widgets import activation_explorer as ae


def test_ranges_are_the_textbook_ones():
    result = ae.compute(x_range=20.0, temperature=1.0, a=-2.0, b=5.0)
    r = result["ranges"]
    assert 0 < r["sigmoid"][0] < r["sigmoid"][1] < 1  # float64: still inside the open interval at |x| = 20
    assert r["tanh"] == (-1.0, 1.0)  # (-1, 1) in exact arithmetic, but tanh(20) rounds to 1 even in float64
    assert r["relu"] == (0.0, 20.0)  # [0, inf): not (0, 1) as the note says
    assert r["softplus"][0] > 0 and r["softplus"][1] > 20
    assert -2 < r["scaled sigmoid"][0] < -1.99 and 4.99 < r["scaled sigmoid"][1] < 5
    assert result["softmax_sum"] == pytest.approx(1.0, abs=1e-12) and all(0 < p < 1 for p in result["softmax"])


def test_gradients_match_the_formulas():
    result = ae.compute(x_range=4.0, temperature=2.0, a=0.0, b=1.0)
    x = torch.tensor(result["x"], dtype=torch.float64)
    s = torch.sigmoid(x / 2.0)
    assert torch.allclose(torch.tensor(result["gradients"]["sigmoid"], dtype=torch.float64), s * (1 - s) / 2.0)
    assert torch.allclose(
        torch.tensor(result["gradients"]["tanh"], dtype=torch.float64), (1 - torch.tanh(x / 2.0) ** 2) / 2.0
    )
    assert result["gradients"]["relu"][0] == 0.0 and result["gradients"]["relu"][-1] == pytest.approx(0.5)


def test_low_temperature_sharpens_softmax_and_saturates_sigmoid():
    warm, cold = ae.compute(6.0, 3.0), ae.compute(6.0, 0.2)
    assert max(cold["softmax"]) > max(warm["softmax"]) and max(cold["softmax"]) > 0.99
    assert cold["sigmoid_saturated_fraction"] > warm["sigmoid_saturated_fraction"]


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"x_range": 0}, "x_range"),
        ({"temperature": -1.0}, "temperature"),
        ({"a": 3.0, "b": 1.0}, "a < b"),
        ({"x_range": float("inf")}, "x_range"),
        ({"temperature": float("nan")}, "temperature"),
        ({"a": float("nan")}, "a"),
        ({"b": float("inf")}, "b"),
    ],
)
def test_bad_input_names_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        ae.compute(**kwargs)


def test_explorer_controls_redraw_the_figure():
    box = ae.explorer()
    fig = box.figure.fig
    scaled = lambda: fig.axes[0].lines[4].get_ydata()  # noqa: E731  (the scaled sigmoid)
    assert max(scaled()) < 3.0
    box.controls["b"].value = 4.5
    assert 4.4 < max(scaled()) < 4.5
    bars = lambda: [patch.get_height() for patch in fig.axes[2].patches]  # noqa: E731
    before = max(bars())
    box.controls["temperature"].value = 5.0
    assert max(bars()) < before  # hotter: flatter softmax
    box.controls["x_range"].value = 12.0
    assert max(fig.axes[0].lines[0].get_xdata()) == pytest.approx(12.0)
    assert len(box.figure.log) == 4
    box.controls["a"].value = 5.0  # a >= b: a message instead of an error
    assert "a < b" in fig.texts[0].get_text() and "a < b" in box.figure.text and len(box.figure.log) == 5
    assert math.isclose(
        ae.compute(12.0, 5.0, -1.0, 4.5)["ranges"]["scaled sigmoid"][1],
        max(ae.compute(12.0, 5.0, -1.0, 4.5)["curves"]["scaled sigmoid"]),
    )


@pytest.mark.parametrize(
    "controls", [{}, {"x_range": 1.0}, {"temperature": 0.3}, {"x_range": 12.0, "temperature": 3.0, "a": -3.0, "b": 5.0}]
)
def test_gradient_panel_has_a_legend_above_its_curves(controls):
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(13, 4.2))
    try:
        result = ae.compute(**controls)
        middle = ae.draw(result, fig)[1]
        legend = middle.get_legend()
        assert legend is not None and [t.get_text() for t in legend.get_texts()] == list(ae.NAMES)
        fig.canvas.draw()
        bottom = middle.transData.inverted().transform(legend.get_window_extent())[
            0, 1
        ]  # legend's lower edge, data units
        assert bottom > max(max(g) for g in result["gradients"].values()), "the legend must not cover a gradient curve"
    finally:
        plt.close(fig)
