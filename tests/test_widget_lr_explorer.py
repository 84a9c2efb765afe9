"""The lr explorer: the slider snaps to the sweep's grid, the curve is that sweep member, and its diagnosis is shown."""

import math

import pytest

from course_lib import diagnosis
from course_lib.widgets import lr_explorer as le


def test_grid_is_the_log_sliders_positions():
    grid = le.grid()
    assert grid[0] == pytest.approx(le.LOW) and grid[-1] == pytest.approx(le.HIGH)
    assert len(grid) == 4 * 5 + 1 and grid[4] == pytest.approx(1e-3)


def test_compute_snaps_to_a_sweep_member_and_diagnoses_it():
    result = le.compute("adam", 0.0123)
    sweep = le.sweep_of("adam")
    assert result["lr"] == pytest.approx(0.01) and result["losses"] == sweep.losses[result["index"]]
    assert result["label"] == diagnosis.diagnose(sweep.histories()[result["index"]]).label
    assert le.compute("adam", 0.0099) is result  # a cached member: dragging back is instant
    assert len(result["final_loss"]) == len(le.grid()) == len(result["statuses"])


@pytest.mark.parametrize(
    "optimizer, lr, label",
    [
        ("sgd", 1e-4, "too slow"),
        ("momentum", 0.05, "healthy"),
        ("adam", 3e-3, "healthy"),
        ("adam", 10.0, "diverged"),
    ],
)
def test_the_labels_follow_the_learning_rate(optimizer, lr, label):
    assert le.compute(optimizer, lr)["label"] == label


@pytest.mark.parametrize("optimizer", le.OPTIMIZERS.values())
def test_every_sweep_reads_too_slow_then_healthy_then_too_large(optimizer):
    """The labels form three regions in this order; inside the last one they may mix (chaos), but a member
    past the edge is never called too slow, and no label left of the healthy region is anything else."""
    labels = [le.compute(optimizer, lr)["label"] for lr in le.grid()]
    healthy = labels.index("healthy")
    assert set(labels[:healthy]) == {"too slow"} and labels[-1] == "diverged"
    assert set(labels[healthy:]) <= {"healthy", *diagnosis.TOO_LARGE}, labels


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("optimizer", le.OPTIMIZERS.values())
def test_a_one_ulp_nudge_changes_labels_only_from_the_healthy_region_on(optimizer, seed):
    """The chaos past the edge of stability, measured: the same sweep with every initial weight one unit in the
    last place away (models.nudge_, about another CPU's rounding) keeps every label of the too slow region."""
    plain, nudged = le.sweep_of(optimizer, seed), le.sweep_of(optimizer, seed, nudge=True)
    assert le.sweep_of(optimizer, seed, nudge=True) is nudged and nudged.losses[0] != plain.losses[0]
    labels = [[diagnosis.diagnose(h).label for h in sweep.histories()] for sweep in (plain, nudged)]
    changed = [k for k, (a, b) in enumerate(zip(*labels)) if a != b]
    assert all(k >= labels[0].index("healthy") for k in changed), (changed, labels)


def test_explorer_controls_redraw_curve_diagnosis_and_marker():
    box = le.explorer(optimizer="momentum", lr=1e-3)
    fig = box.figure.fig
    curve = lambda: list(fig.axes[0].lines[0].get_ydata())  # noqa: E731
    assert len(box.figure.log) == 1 and fig.axes[0].get_title().endswith("too slow")

    box.controls["lr"].value = 0.05
    member = le.compute("momentum", 0.05)
    assert curve() == pytest.approx(member["losses"]) and fig.axes[0].get_title().endswith("healthy")
    assert box.figure.text == le.describe(member) and member["sentence"] in box.figure.text
    marker = [line for line in fig.axes[1].lines if line.get_label() == "this lr"][0]
    assert marker.get_xdata()[0] == pytest.approx(member["lr"])

    box.controls["optimizer"].value = "sgd"
    assert curve() == pytest.approx(le.compute("sgd", 0.05)["losses"]) and fig.axes[0].get_title().startswith("SGD,")

    box.controls["lr"].value = 10.0
    assert fig.axes[0].get_title().endswith("diverged")
    assert any("diverged at update" in line.get_label() and line.get_visible() for line in fig.axes[0].lines)
    assert len(box.figure.log) == 4 and box.figure.text.startswith("diverged:")
    box.controls["lr"].value = 0.05
    assert not any("diverged" in line.get_label() and line.get_visible() for line in fig.axes[0].lines)


def test_the_left_axis_is_the_same_for_every_lr_of_an_optimizer():
    """One scale per optimizer: members compare at a glance, and a drag of the lr draws only the curve again."""
    box = le.explorer(optimizer="adam", lr=1e-3)
    limits = box.figure.fig.axes[0].get_ylim()
    for lr in (1e-4, 0.03, 3.0, 10.0):
        box.controls["lr"].value = lr
        assert box.figure.fig.axes[0].get_ylim() == limits
    low, high = limits
    losses = [v for member in le.sweep_of("adam").losses for v in member if math.isfinite(v) and v > 0]
    assert low <= min(losses) and high >= 10 * le.sweep_of("adam").losses[0][0]


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda: le.compute("adam", -1.0), "lr"),
        (lambda: le.compute("rmsprop", 0.1), "optimizer"),
        (
            lambda: le.compute("adam", float("inf")),
            r"lr must be a finite number in \[0.0001, 10\]",
        ),  # was: math domain error
        (lambda: le.compute("adam", 100.0), "lr"),  # was: snapped to 10 without a word
        (lambda: le.compute("adam", float("nan")), "lr"),
        (lambda: le.compute("adam", 0.1, seed=-1), "seed"),
        (lambda: le.explorer(lr=100.0), "lr"),
        (lambda: le.explorer(optimizer="adamw"), "optimizer"),
        (lambda: le.sweep_of("sgd", nudge=1e-7), r"nudge must be one of \(False, True\)"),
    ],
)
def test_bad_input_names_the_argument(call, word):
    with pytest.raises(ValueError, match=word):
        call()
