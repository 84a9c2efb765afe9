"""The study explorer: its compute reads a round as it is, and its controls redraw the figure headless."""

import math

import matplotlib.pyplot as plt
import pytest

from course_lib import tuning
from course_lib.tuning import Log, Trial
from course_lib.widgets import study_explorer as se


def _fake_round(question="which optimizer?", failing=False):
    """Two optimizers, four lrs each; a trial's validation curve falls to its score, its best at the last step."""

    def train(configs):
        trials = []
        for c in configs:
            score = (1.0 if c["optimizer"] == "adam" else 1.4) + (math.log10(c["lr"]) + 2) ** 2
            if failing and c["lr"] > 0.05:
                score = math.nan
            curve = [3.0, 2.0, score] if math.isfinite(score) else [3.0, math.nan]
            trials.append(
                Trial(
                    c,
                    score,
                    30 if math.isfinite(score) else None,
                    {
                        "steps": list(range(30)),
                        "train_loss": [3.0 - i / 30 for i in range(30)],
                        "valid_steps": [10, 20, 30][: len(curve)],
                        "valid_loss": curve,
                    },
                    "completed" if math.isfinite(score) else "diverged",
                )
            )
        return trials

    return tuning.run_round(question, {"optimizer": ["adam", "sgd"]}, {"lr": Log(1e-3, 1e-1)}, {}, 4, train)


def _curves_axes(box):
    return box.figure.picture.axes[2]


def test_compute_lists_the_trials_behind_a_point_and_marks_the_best():
    round_ = _fake_round()
    result = se.compute(round_, point=2, curve="validation")
    assert result["value"] == "sgd" and len(result["curves"]) == 4 and not result["clamped"]
    assert sum(c["best"] for c in result["curves"]) == 1
    best = next(c for c in result["curves"] if c["best"])
    assert best["score"] == round_.best_of("sgd").score == min(t.score for t in round_.trials_of("sgd"))
    training = se.compute(round_, point=1, curve="training")
    assert training["curves"][0]["y"] == pytest.approx(
        [sum(3.0 - i / 30 for i in range(k, k + 10)) / 10 for k in (0, 10, 20)]
    )  # means of 10 updates
    assert se.compute(round_, point=5)["clamped"] and se.compute(round_, point=5)["value"] == "sgd"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda r: se.compute("round", 1), "Round"),
        (lambda r: se.compute(r, 0), "point"),
        (lambda r: se.compute(r, 1, curve="test"), "curve"),
        (lambda r: se.explorer([]), "rounds"),
        (lambda r: se.explorer([r], round_index=1), "round_index"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call(_fake_round())


def test_controls_redraw_the_isolation_plot_and_the_curves_of_the_picked_point():
    rounds = [_fake_round(), _fake_round("lr with failures", failing=True)]
    box = se.explorer(rounds)
    try:
        assert set(box.controls) == {"round", "point", "curve"} and box.figure.log
        assert "optimizer = adam" in box.figure.text and len(box.figure.picture.axes) == 3
        assert len(box.figure.fig.axes) == 1 + 2 * len(rounds)  # each round's two panels made at once, one pair shown
        grey = lambda: [line for line in _curves_axes(box).lines if line.get_color() == "0.6"]  # noqa: E731
        assert len(grey()) == 3  # the three other lrs of adam; the best one in colour
        logged = len(box.figure.log)
        box.controls["point"].value = 2
        assert len(box.figure.log) == logged + 1 and "optimizer = sgd" in box.figure.text
        best = rounds[0].best_of("sgd")
        bold = [line for line in _curves_axes(box).lines if line.get_linewidth() > 2]
        assert list(bold[0].get_ydata()) == pytest.approx(best.curves["valid_loss"])
        box.controls["curve"].value = "training"
        assert "training loss" in _curves_axes(box).get_ylabel()
        box.controls["round"].value = 1
        assert "lr with failures" in box.figure.text and "failed" in box.figure.text
        crosses = [line for line in box.figure.picture.axes[0].lines if line.get_marker() == "x"]
        assert crosses  # failed trials are drawn as crosses, not left out
        assert len(box.figure.picture.axes) == 3 and not any(
            ax.get_visible() for ax in box.figure.picture.panels[(id(rounds[0]), "lr")][:2]
        )  # the first round's pair is hidden
    finally:
        plt.close(box.figure.fig)


def test_featured_controls_and_latency_cases_are_real_changes_of_the_default_explorer():
    box = se.explorer()  # the small study of its own on the digits
    try:
        assert all(name in box.controls for name in se.FEATURED) and 1 <= len(se.FEATURED) <= 2
        assert len(box.controls["round"].options) == 2
        for case in se.LATENCY_CASES:
            for name, value in case.items():
                logged = len(box.figure.log)
                box.controls[name].value = value
                assert box.controls[name].value == value
                assert len(box.figure.log) == logged + 1, f"{name}={value!r} changed nothing"
        image, text = box.figure.frame(round=1, point=3, curve="validation")
        assert image.size[0] > 500 and "batch_size = 256" in text
    finally:
        plt.close(box.figure.fig)


def test_demo_study_is_a_real_batched_study_on_the_digits():
    optimizers, batches = se.demo_study()
    assert optimizers.values() == ["momentum", "adam"] and batches.values() == [16, 64, 256]
    assert all(len(optimizers.trials_of(v)) == 8 for v in optimizers.values())
    best = optimizers.best()
    assert best.score < 0.3 and best.best_step is not None  # a good lr reaches a low validation loss
    assert max(t.score for t in optimizers.trials if not t.failed) > 1.0  # and the search also tried bad ones


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(se)
    assert result.attempted > 0 and result.failed == 0
