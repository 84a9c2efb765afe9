"""The plateau explorer replays a real ReduceLROnPlateau; its drops follow patience, cooldown and the threshold."""

import pytest
import torch

from course_lib.widgets import plateau_explorer as pe


def test_drops_are_where_the_lr_falls_and_lr_never_rises():
    result = pe.compute(patience=3, factor=0.5)
    lrs = result["lr"]
    assert all(b <= a for a, b in zip(lrs, lrs[1:]))
    assert result["drops"] == [e for e, a, b in zip(result["epoch"], lrs, lrs[1:]) if b < a] + (
        [result["epoch"][-1]] if result["final_lr"] < lrs[-1] else []
    )
    assert result["final_lr"] == pytest.approx(pe.LR * 0.5 ** len(result["drops"]))


def test_matches_a_fresh_scheduler_fed_the_same_values():
    result = pe.compute(patience=2, factor=0.3, threshold=0.02, threshold_mode="abs", cooldown=2)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=pe.LR)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=0.3, patience=2, threshold=0.02, threshold_mode="abs", cooldown=2
    )
    for value, lr in zip(result["value"], result["lr"]):
        assert optimizer.param_groups[0]["lr"] == pytest.approx(lr)
        scheduler.step(value)


@pytest.mark.parametrize("patience, cooldown", [(0, 0), (2, 0), (2, 4), (5, 3)])
def test_drops_are_at_least_patience_plus_cooldown_plus_one_apart(patience, cooldown):
    drops = pe.compute(patience=patience, cooldown=cooldown)["drops"]
    assert drops and drops[0] >= patience + 2  # the first epoch sets the best; then patience + 1 bad ones
    assert all(b - a >= patience + cooldown + 1 for a, b in zip(drops, drops[1:]))


@pytest.mark.parametrize("threshold_mode, threshold, bar", [("rel", 0.01, -1.0), ("abs", 0.05, -0.05)])
def test_the_bar_to_beat_is_drawn_apart_from_the_best(threshold_mode, threshold, bar):
    """On the metric's axis a 1% bar hides under the best-so-far line: the middle panel shows it as a line of its own."""
    import matplotlib.pyplot as plt

    result = pe.compute(patience=3, threshold=threshold, threshold_mode=threshold_mode)
    fig = plt.figure()
    try:
        middle = pe.draw(result, fig)[1]
        bars = [line for line in middle.lines if line.get_linestyle() == "--"]
        assert len(bars) == 1 and bars[0].get_ydata()[0] == pytest.approx(bar)
        low, high = middle.get_ylim()
        assert low < bar < 0 < high
    finally:
        plt.close(fig)


def test_better_flags_are_the_epochs_that_beat_the_bar():
    result = pe.compute(patience=3, threshold=0.02)
    best = [float("inf")] + result["best"][:-1]  # the best before each epoch
    assert result["better"] == [v < b * (1 - 0.02) for v, b in zip(result["value"], best)]
    assert all(c == pytest.approx(v / b - 1) for c, v, b in zip(result["change"][1:], result["value"][1:], best[1:]))


def test_dynamic_threshold_formulas():
    assert pe.dynamic_threshold(2.0, "min", "rel", 0.1) == pytest.approx(1.8)
    assert pe.dynamic_threshold(2.0, "max", "rel", 0.1) == pytest.approx(2.2)
    assert pe.dynamic_threshold(2.0, "min", "abs", 0.1) == pytest.approx(1.9)
    assert pe.dynamic_threshold(2.0, "max", "abs", 0.1) == pytest.approx(2.1)


def test_a_larger_patience_drops_less_often():
    assert len(pe.compute(patience=10)["drops"]) < len(pe.compute(patience=1)["drops"])
    assert pe.compute(patience=200)["drops"] == []


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"threshold_mode": "relative"}, "threshold_mode"),
        ({"patience": -1}, "patience"),
        ({"factor": 1.0}, "factor"),
        ({"factor": float("nan")}, "factor"),
        ({"cooldown": 1.5}, "cooldown"),
        ({"threshold": float("inf")}, "threshold"),
        ({"noise": 2.0}, "noise"),
        ({"min_lr": float("nan")}, "min_lr"),
        ({"patience": True}, "patience"),
    ],
)
def test_bad_input_names_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        pe.compute(**kwargs)


def test_explorer_controls_redraw_the_figure():
    box = pe.explorer(patience=5)
    lr_line = lambda: box.figure.fig.axes[2].lines[-1].get_ydata()  # noqa: E731  (the lr per epoch)
    first = list(lr_line())
    box.controls["patience"].value = 1
    assert min(lr_line()) < min(first)
    assert "patience=1" in box.figure.fig.axes[0].get_title()
    box.controls["factor"].value = 0.2
    drops = len(pe.compute(patience=1, factor=0.2)["drops"])
    assert min(lr_line()) == pytest.approx(max(pe.LR * 0.2**drops, 1e-8), rel=1e-6) or drops == 0
    box.controls["threshold_mode"].value = "abs"
    box.controls["cooldown"].value = 3
    assert "cooldown=3" in box.figure.fig.axes[0].get_title() and "(abs)" in box.figure.fig.axes[0].get_title()
    assert len(box.figure.log) == 5
