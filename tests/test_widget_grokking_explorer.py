"""The grokking explorer: one batched run per seed, every decay a member; no decay never generalises, enough does."""

import math

import pytest

from course_lib.widgets import grokking_explorer as ge


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_memorised_early_generalised_only_with_enough_decay(seed):
    """At the smoke size (600 steps), every seed: training accuracy reaches 99% within 50 steps whatever the decay;
    without decay (or with 0.1) validation accuracy stays near chance; with decay 2 it passes 90%."""
    for decay in ge.DECAYS:
        assert ge.compute(decay, seed, "smoke")["memorised_at"] <= 50, decay
    for decay in (0.0, 0.1):
        result = ge.compute(decay, seed, "smoke")
        assert result["grokked_at"] is None and result["valid_accuracy"][-1] < 0.05, (
            decay,
            result["valid_accuracy"][-1],
        )
    grokked = ge.compute(2.0, seed, "smoke")
    assert grokked["grokked_at"] is not None and grokked["grokked_at"] > 5 * grokked["memorised_at"]
    assert "validation accuracy reaches 90% at step" in ge.describe(grokked)


def test_every_decay_is_one_member_of_one_run():
    result = ge.compute(1.0, 0, "smoke")
    run = ge.curves(0, "smoke")
    assert ge.compute(2.0, 0, "smoke")["all_valid_accuracy"] == result["all_valid_accuracy"]  # the same run
    assert run.weight_decay == list(ge.DECAYS) and result["steps"] == list(range(0, 601, ge.EVAL_EVERY))
    k = ge.DECAYS.index(1.0)
    assert result["valid_accuracy"] == run.valid_accuracy[k] and result["all_grokked_at"][k] == result["grokked_at"]
    assert result["settings"]["optimizer"] == "adamw" and math.isclose(result["settings"]["lr"], 1e-2)


def test_explorer_shows_the_member_of_each_decay():
    box = ge.explorer(weight_decay=0.0, size="smoke")
    assert box.featured == ("weight_decay",) and "no grokking" in box.figure.fig.axes[0].get_title()
    assert not box.figure.picture.grok_line.get_visible()
    box.controls["weight_decay"].value = 2.0
    result = ge.compute(2.0, 0, "smoke")
    assert list(box.figure.picture.valid.get_ydata()) == result["valid_accuracy"]
    assert (
        box.figure.picture.grok_line.get_visible()
        and box.figure.picture.grok_line.get_xdata()[0] == result["grokked_at"]
    )
    assert box.figure.text == ge.describe(result) and "error" not in box.figure.log[-1]
    assert box.figure.picture.marker.get_xdata()[0] == ge.DECAYS.index(2.0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ge.compute(0.7, 0, "smoke"), r"weight_decay must be one of \(0.0, 0.1, 0.3, 0.5, 1.0, 2.0, 3.0\)"),
        (lambda: ge.compute(float("nan"), 0, "smoke"), "weight_decay"),
        (lambda: ge.compute(True, 0, "smoke"), "weight_decay"),
        (lambda: ge.compute(1.0, -1, "smoke"), "seed"),
        (lambda: ge.compute(1.0, 0, "huge"), "size"),
        (lambda: ge.explorer(weight_decay=10.0, size="smoke"), "weight_decay"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
