"""The precision explorer: rounding, overflow and underflow in fp32, bf16 and fp16, and the loss scale."""

import pytest
import torch

from course_lib.widgets import precision_explorer as pe


def test_limits_are_torch_finfo():
    fp16 = pe.limits("float16")
    assert fp16["max"] == 65504.0 and fp16["smallest_normal"] == pytest.approx(6.1035e-5, rel=1e-4)
    assert fp16["smallest_subnormal"] == pytest.approx(5.96e-8, rel=1e-3)
    assert pe.limits("bfloat16")["max"] == pytest.approx(torch.finfo(torch.float32).max, rel=0.01)  # fp32's range


@pytest.mark.parametrize(
    "exponent, fp16_status",
    [(-3.0, "normal"), (-6.0, "subnormal: fewer digits"), (-9.0, "underflow: 0"), (5.0, "overflow: inf")],
)
def test_fp16_status_while_fp32_and_bf16_stay_normal(exponent, fp16_status):
    result = pe.compute(exponent, 0)
    assert result["formats"]["float16"]["status"] == fp16_status
    assert result["formats"]["float32"]["status"] == result["formats"]["bfloat16"]["status"] == "normal"
    # bf16 keeps 8 bits of mantissa: relative error below 2**-8, fp32 below 2**-24
    assert result["formats"]["bfloat16"]["relative_error"] <= 2**-8
    assert result["formats"]["float32"]["relative_error"] <= 2**-24


def test_loss_scale_rescues_small_gradients_and_too_much_overflows():
    plain, scaled = pe.compute(-8.0, 0), pe.compute(-8.0, 16)
    assert plain["formats"]["float16"]["stored"] == 0.0 and scaled["scaled"]["stored"] > 0
    assert scaled["scaled"]["relative_error"] < 1e-3
    assert scaled["lost_with_scale"] < plain["lost_without_scale"]
    assert pe.compute(-2.0, 24)["overflow_with_scale"] > 0.5


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"exponent": 99.0}, "exponent"),
        ({"loss_scale_log2": -1}, "loss_scale_log2"),
        ({"loss_scale_log2": 2.5}, "loss_scale_log2"),
        ({"exponent": float("nan")}, "exponent"),
        ({"exponent": True}, "exponent"),
        ({"loss_scale_log2": 41}, "loss_scale_log2"),
    ],
)
def test_bad_input_names_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        pe.compute(**kwargs)


def test_explorer_controls_redraw_the_figure():
    box = pe.explorer(exponent=-6.0, loss_scale_log2=16)
    fig = box.figure.fig
    value_line = lambda: fig.axes[0].lines[0].get_xdata()[0]  # noqa: E731
    assert value_line() == pytest.approx(-6.0)
    box.controls["exponent"].value = -9.0
    assert value_line() == pytest.approx(-9.0)
    assert "underflow: 0" in " ".join(t.get_text() for t in fig.axes[0].texts)
    box.controls["loss_scale_log2"].value = 0
    assert fig.axes[0].lines[1].get_xdata()[0] == pytest.approx(-9.0)  # no scale: the scaled value is the value
    assert "2^0" in box.figure.text
    assert len(box.figure.log) == 3


@pytest.mark.parametrize("exponent, loss_scale_log2", [(-6.0, 16), (-12.0, 32), (4.9, 24), (-9.0, 0)])
def test_legends_hide_no_bar_label_or_histogram(exponent, loss_scale_log2):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(12, 4.2))
    left, right = pe.draw(pe.compute(exponent, loss_scale_log2), fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in (left, right):
        legend = ax.get_legend().get_window_extent(renderer)
        covered = [artist for artist in [*ax.texts, *ax.patches] if legend.overlaps(artist.get_window_extent(renderer))]
        assert not covered, f"the legend covers {covered}"
    plt.close(fig)
