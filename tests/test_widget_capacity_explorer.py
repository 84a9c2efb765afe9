import pytest

from course_lib.widgets import capacity_explorer
from conftest import WIDGET_CASES

EPOCHS = 4  # short runs: the test checks the wiring, the notebook the lesson


def lines(box):
    """{(axes title, label): y-data} of the figure now shown."""
    return {(ax.get_title(), line.get_label()): list(line.get_ydata()) for ax in box.figure.fig.axes for line in ax.lines}


def test_compute_returns_curves_and_caches_by_grid_point():
    result = capacity_explorer.compute(width=30, weight_decay=0.0, dropout=0.0, train_size=110, label_noise=0.0,
                                       num_epochs=EPOCHS)
    assert result["width"] == 32 and result["train_size"] == 100  # snapped to the grid
    assert result["epoch"] == [1, 2, 3, 4]
    for key in ("train_loss", "valid_loss", "train_accuracy", "valid_accuracy"):
        assert len(result[key]) == EPOCHS and all(isinstance(v, float) for v in result[key])
    assert result["valid_loss"][-1] < result["valid_loss"][0]  # it learns
    again = capacity_explorer.compute(width=33, weight_decay=0.0, dropout=0.01, train_size=100, label_noise=0.0,
                                      num_epochs=EPOCHS)
    assert again["valid_loss"] == result["valid_loss"] and again["seconds"] == result["seconds"]  # same cached run


def test_snap_keeps_log_slider_steps_apart():
    values = [10 ** (-5 + i / 4) for i in range(22)]  # what the weight-decay slider sends
    decays = [capacity_explorer.snap(64, v, 0.0, 300, 0.0)[1] for v in values]
    assert len(set(decays)) == len(values)
    assert capacity_explorer.snap(64, 0.0, 0.33, 300, 0.2) == (64, 0.0, 0.35, 300, 0.2)


@pytest.mark.parametrize("bad", [{"width": 0}, {"width": "wide"}, {"weight_decay": -1.0}, {"dropout": 1.0},
                                 {"train_size": -5}, {"label_noise": 0.3}, {"num_epochs": 0}])
def test_bad_input_names_the_argument(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        capacity_explorer.compute(**bad)


def test_explorer_redraws_when_a_control_moves():
    box = capacity_explorer.explorer(width=16, weight_decay=1e-5, dropout=0.0, train_size=100, label_noise=0.0,
                                     num_epochs=EPOCHS)
    assert set(box.controls) == {"width", "weight_decay", "dropout", "train_size", "label_noise"}
    first, count = lines(box), len(box.figure.log)
    assert len(first) == 4 and all(len(y) == EPOCHS for y in first.values())

    box.controls["width"].value = 128
    wider = lines(box)
    assert len(box.figure.log) == count + 1 and wider != first
    assert "width 128" in box.figure.text

    box.controls["train_size"].value = 300
    assert lines(box) != wider and "300 samples" in box.figure.text

    box.controls["label_noise"].value = 0.4
    assert "40% noisy labels" in box.figure.text

    box.controls["dropout"].value = 0.5
    box.controls["weight_decay"].value = 0.1
    assert "dropout 0.5" in box.figure.text and len(box.figure.log) == count + 5

    shown = lines(box)
    box.controls["dropout"].value = 0.0
    box.controls["dropout"].value = 0.5  # a value seen before: the same cached run, drawn again
    assert lines(box) == shown


def test_latency_cases_name_real_controls():
    box = capacity_explorer.explorer(num_epochs=2, train_size=50)
    for case in WIDGET_CASES["capacity_explorer"]:
        assert set(case) <= set(box.controls)
