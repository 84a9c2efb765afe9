"""The schedule explorer: course_lib and PyTorch agree for every schedule, and the controls redraw the curve."""

import pytest

from course_lib.widgets import schedule_explorer as se

SETTINGS = {
    "constant": {},
    "step decay": {"step_size": 40, "gamma": 0.5},
    "exponential": {"exp_gamma": 0.99},
    "1/t": {"k": 0.05},
    "multistep": {"milestones": (100, 150), "gamma": 0.1},
    "cosine": {},
    "cosine restarts": {"period": 50, "period_mult": 2},
    "one-cycle": {"pct_start": 0.3},
}


CASES = [(name, warmup) for name in se.SCHEDULES for warmup in (0, 20) if not (name == "one-cycle" and warmup)]


@pytest.mark.parametrize("name, warmup_steps", CASES)  # one-cycle has its own warm-up
def test_course_lib_matches_torch_builtin(name, warmup_steps):
    result = se.compute(name, lr=0.1, num_steps=200, warmup_steps=warmup_steps, **SETTINGS[name])
    assert len(result["lr"]) == len(result["torch_lr"]) == 200
    assert result["max_difference"] < 1e-12
    if warmup_steps:
        assert result["lr"][0] == pytest.approx(0.1 * se.START_FACTOR)
        assert result["lr"][warmup_steps] == pytest.approx(0.1)
    else:
        assert result["lr"][0] == pytest.approx(0.1 / (25 if name == "one-cycle" else 1))


def test_parameters_change_the_curve_and_results_are_cached():
    slow = se.compute("step decay", 0.1, 200, step_size=100, gamma=0.5)
    fast = se.compute("step decay", 0.1, 200, step_size=20, gamma=0.5)
    assert slow["final_lr"] == pytest.approx(0.05) and fast["final_lr"] == pytest.approx(0.1 * 0.5**9)
    assert se.compute("step decay", 0.1, 200, step_size=20, gamma=0.5) is fast


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda: se.compute("linear", 0.1, 100), "name"),
        (lambda: se.compute("cosine", 0.1, 100, gamma=0.5), "parameters"),
        (lambda: se.compute("cosine", 0.1, 100, warmup_steps=100), "warmup_steps"),
        (lambda: se.compute("one-cycle", 0.1, 100, warmup_steps=10, pct_start=0.3), "warmup_steps"),
        (lambda: se.explorer(schedule="linear"), "schedule"),
        (lambda: se.compute("cosine", float("nan"), 100), "lr"),
        (lambda: se.compute("cosine", float("inf"), 100), "lr"),
        (lambda: se.compute("cosine", 0.1, 0), "num_steps"),
        (lambda: se.explorer(lr=5.0), "lr"),
        (lambda: se.explorer(num_steps=50), "num_steps"),
        (lambda: se.explorer(warmup_steps=300), "warmup_steps"),
    ],
)
def test_bad_input_names_the_argument(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_explorer_controls_redraw_the_figure():
    box = se.explorer(schedule="cosine", num_steps=300)
    line = lambda: box.figure.fig.axes[0].lines[0].get_ydata()  # noqa: E731  (the course_lib curve, linear axis)
    assert line()[-1] < 1e-3 and len(box.figure.log) == 1
    box.controls["schedule"].value = "step decay"
    assert box.controls["step_size"].layout.display == "" and box.controls["period"].layout.display == "none"
    box.controls["step_size"].value = 50
    assert line()[-1] == pytest.approx(0.1 * 0.5**5)
    box.controls["gamma"].value = 0.25
    assert line()[-1] == pytest.approx(0.1 * 0.25**5)
    box.controls["warmup_steps"].value = 50
    assert line()[0] == pytest.approx(0.1 * se.START_FACTOR) and max(line()) == pytest.approx(0.1)
    box.controls["schedule"].value = "one-cycle"
    assert box.controls["warmup_steps"].disabled and line()[0] == pytest.approx(0.1 / 25)
    assert len(box.figure.log) == 6
