"""The early-stopping explorer: its pure compute agrees with EarlyStopping, and dragging redraws the figure."""

import math

import pytest

from course_lib import EarlyStopping
from course_lib.widgets import early_stopping_explorer as ese


def _stop_line_x(box):
    ax = box.figure.fig.axes[0]
    return [line.get_xdata()[0] for line in ax.lines if line.get_color() == "C3" and line.get_visible()]


def _star(box):
    ax = box.figure.fig.axes[0]
    (star,) = [line for line in ax.lines if line.get_marker() == "*" and line.get_visible()]
    return star.get_xdata()[0], star.get_ydata()[0]


def _trained(box):
    """The trained part of the trace, as drawn."""
    return list(box.figure.picture.trained.get_ydata())


def test_generated_trace_has_its_minimum_at_the_true_best_epoch_and_is_seeded():
    truth = ese.truth_curve(60)
    assert 1 + min(range(60), key=truth.__getitem__) == ese.TRUE_BEST_EPOCH
    assert ese.noisy_trace(60, 0.08, 1) == ese.noisy_trace(60, 0.08, 1) != ese.noisy_trace(60, 0.08, 2)
    assert ese.noisy_trace(60, 0.0, 5) == pytest.approx(truth)
    assert all(v > 0 for v in ese.noisy_trace(60, 0.3, 0))


@pytest.mark.parametrize("patience, min_delta", [(0, 0.0), (1, 0.0), (3, 0.0), (5, 0.01), (20, 0.0)])
def test_compute_matches_early_stopping_step_by_step(patience, min_delta):
    values = ese.noisy_trace(60, 0.1, 4)
    result = ese.compute(values, patience, min_delta)
    stopper = EarlyStopping(patience=patience, min_delta=min_delta)
    stops = [stopper.update(v)[0] for v in values[: len(result["waits"])]]
    assert stops[-1] == (result["stop_epoch"] is not None) and not any(stops[:-1])
    assert result["best_epoch"] == stopper.best_epoch and result["best_value"] == stopper.best
    if result["stop_epoch"] is not None:
        assert result["waits"][-1] == max(patience, 1)  # patience 0 still counts the one bad epoch
        assert result["stop_epoch"] - result["best_epoch"] == max(patience, 1)


def test_compute_max_mode_never_stopping_and_lists():
    rising = [0.5, 0.6, 0.7, 0.8]
    result = ese.compute(rising, patience=2, min_delta=0.0, mode="max")
    assert result["stop_epoch"] is None and result["best_epoch"] == 4 and "never stops" in result["reason"]
    nan = ese.compute([1.0, 0.9, math.nan, 0.5], patience=5, min_delta=0.0)
    assert nan["stop_epoch"] == 3


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ese.compute([], 2, 0.0), "values"),
        (lambda: ese.compute(["a"], 2, 0.0), "values"),
        (lambda: ese.compute([1.0], -1, 0.0), "patience"),
        (lambda: ese.compute([1.0], 2, -0.1), "min_delta"),
        (lambda: ese.compute([1.0], 2, 0.0, mode="auto"), "mode"),
        (lambda: ese.noisy_trace(1), "num_epochs"),
        (lambda: ese.noisy_trace(60, noise=-1.0), "noise"),
        (lambda: ese.explorer(trace=[]), "trace"),
        (lambda: ese.explorer(mode="best"), "mode"),
        (lambda: ese.noisy_trace(60, noise=float("nan")), "noise"),
        (lambda: ese.explorer(patience=-1), "patience"),
        (lambda: ese.explorer(min_delta=float("nan")), "min_delta"),
        (lambda: ese.explorer(noise=5.0), "noise"),
        (lambda: ese.compute([1.0, True], 2, 0.0), "values"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_dragging_patience_moves_the_stop_and_keeps_the_restored_point():
    box = ese.explorer(patience=2)
    start = len(box.figure.log)
    first_stop = _stop_line_x(box)
    best_before = _star(box)
    box.controls["patience"].value = 12
    later_stop = _stop_line_x(box)
    assert len(box.figure.log) == start + 1
    assert later_stop and first_stop and later_stop[0] > first_stop[0]
    expected = ese.compute(ese.noisy_trace(60, 0.08, 0), 12, 0.0)
    assert later_stop[0] == expected["stop_epoch"]
    assert _star(box)[0] == expected["best_epoch"] and _star(box)[0] >= best_before[0]
    assert "patience 12" in box.figure.fig.axes[0].get_title()


def test_noise_seed_and_min_delta_change_the_picture():
    box = ese.explorer()
    trained = lambda: _trained(box)  # noqa: E731
    before = trained()
    box.controls["seed"].value = 7
    assert trained() != before
    box.controls["noise"].value = 0.0
    assert trained() == pytest.approx(ese.truth_curve(60)[: len(trained())])
    waits_before = list(box.figure.fig.axes[1].lines[0].get_ydata())
    box.controls["min_delta"].value = 0.02
    assert list(box.figure.fig.axes[1].lines[0].get_ydata()) != waits_before
    assert "min_delta 0.02" in box.figure.fig.axes[0].get_title()


def test_real_trace_source():
    trace = [1.0, 0.6, 0.5, 0.45, 0.47, 0.44, 0.46, 0.48, 0.5, 0.52]
    box = ese.explorer(trace=trace, patience=2, min_delta=0.0)
    assert box.controls["source"].value == "real run" and not box.figure.picture.truth.get_visible()
    assert _trained(box) == trace[:8]  # stops after epoch 8, two after the best
    assert _stop_line_x(box) == [8] and _star(box) == (6, 0.44)
    box.controls["source"].value = "generated"
    assert box.figure.picture.truth.get_visible() and len(_trained(box)) > 0


def test_accuracy_trace_in_max_mode_is_drawn_on_a_linear_axis():
    accuracy = [0.5, 0.7, 0.8, 0.82, 0.81, 0.80, 0.79, 0.83]
    box = ese.explorer(trace=accuracy, mode="max", label="validation accuracy", patience=3)
    ax = box.figure.fig.axes[0]
    assert ax.get_yscale() == "linear" and ax.get_ylabel() == "validation accuracy"
    assert _stop_line_x(box) == [7] and _star(box) == (4, 0.82)


@pytest.mark.parametrize("patience, min_delta, noise", [(30, 0.05, 0.3), (0, 0.0, 0.08), (12, 0.01, 0.3)])
def test_titles_fit_over_their_panels_at_the_explorer_size(patience, min_delta, noise):
    box = ese.explorer(patience=patience, min_delta=min_delta, noise=noise)
    fig = box.figure.fig
    renderer = fig._get_renderer()  # the canvas a headless LiveFigure has no renderer of its own
    left, right = (ax.title.get_window_extent(renderer) for ax in fig.axes[:2])
    width = fig.bbox.width
    assert 0 <= left.x0 and left.x1 < right.x0 and right.x1 <= width, (left, right, width)


def test_a_trace_with_no_finite_value_draws_and_says_so():
    result = ese.compute([math.nan, math.nan, math.nan], patience=2, min_delta=0.0)
    assert result["stop_epoch"] == 1 and result["best_epoch"] == 0
    assert "no epoch to restore" in ese.describe(result)
    box = ese.explorer(trace=[math.nan] * 4, patience=2)
    assert box.figure.fig.axes[0].get_yscale() == "linear" and _stop_line_x(box) == [1]
