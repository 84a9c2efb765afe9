"""Optimizer paths: real torch.optim steps on a 2-parameter point, checked by hand, and the widget redraws them."""

import pytest

from course_lib.widgets import optimizer_paths as op


def test_sgd_path_is_gradient_descent_by_hand():
    lr, path = 0.08, op.paths("valley", 0.08, 0.9, 20)["SGD"]
    x, y = op.SURFACES["valley"][0]
    for step in range(21):
        assert path["x"][step] == pytest.approx(x, abs=1e-12) and path["y"][step] == pytest.approx(y, abs=1e-12)
        x, y = x - lr * x, y - lr * 20 * y  # grad of (x^2 + 20 y^2) / 2 is (x, 20 y)
    assert path["loss"][0] == pytest.approx(op.loss("valley", op.SURFACES["valley"][0]))


def test_momentum_and_adam_steps_by_hand():
    lr, result = 0.01, op.paths("valley", 0.01, 0.5, 3)
    (x, y), v = op.SURFACES["valley"][0], (0.0, 0.0)
    for step in range(3):  # heavy ball: v <- momentum v + grad (v = grad at the first step), w <- w - lr v
        g = (x, 20 * y)
        v = g if step == 0 else (0.5 * v[0] + g[0], 0.5 * v[1] + g[1])
        x, y = x - lr * v[0], y - lr * v[1]
    assert result["SGD + momentum"]["x"][3] == pytest.approx(x) and result["SGD + momentum"]["y"][3] == pytest.approx(y)
    adam = result["Adam"]  # Adam's first step moves every coordinate by lr, whatever its gradient's size
    start = op.SURFACES["valley"][0]
    assert adam["x"][1] - start[0] == pytest.approx(lr, rel=1e-6) and start[1] - adam["y"][1] == pytest.approx(
        lr, rel=1e-6
    )


def test_nesterov_steps_by_hand_and_with_no_momentum():
    lr, mu, result = 0.01, 0.5, op.paths("valley", 0.01, 0.5, 3)
    (x, y), b = op.SURFACES["valley"][0], (0.0, 0.0)
    for step in range(3):  # PyTorch's Nesterov: b <- mu b + g (b = g at the first step), w <- w - lr (g + mu b)
        g = (x, 20 * y)
        b = g if step == 0 else (mu * b[0] + g[0], mu * b[1] + g[1])
        x, y = x - lr * (g[0] + mu * b[0]), y - lr * (g[1] + mu * b[1])
    nesterov = result["SGD + Nesterov"]
    assert nesterov["x"][3] == pytest.approx(x) and nesterov["y"][3] == pytest.approx(y)
    assert nesterov["x"][3] != result["SGD + momentum"]["x"][3]
    plain = op.paths("valley", 0.02, 0.0, 30)  # torch refuses nesterov=True without momentum: it is plain SGD then
    assert plain["SGD + Nesterov"] == plain["SGD + momentum"] == plain["SGD"]


def test_nesterov_brakes_earlier_but_has_a_lower_stability_limit():
    result = op.paths("valley", 0.02, 0.9, 100)
    swing = {name: max(abs(y) for y in result[name]["y"][10:]) for name in ("SGD + momentum", "SGD + Nesterov")}
    assert swing["SGD + Nesterov"] < swing["SGD + momentum"] / 10  # the swing across the valley after 10 steps
    assert result["SGD + Nesterov"]["loss"][-1] < result["SGD + momentum"]["loss"][-1]
    # On a quadratic of curvature h, heavy ball is stable for lr h < 2 (1 + mu) and PyTorch's Nesterov for
    # lr h < 2 (1 + mu) / (1 + 2 mu): with mu = 0.9 and h = 20, lr < 0.19 and lr < 0.068.
    near = op.paths("valley", 0.08, 0.9, 200)
    assert near["SGD + Nesterov"]["diverged_at"] is not None
    assert near["SGD + momentum"]["diverged_at"] is None and near["SGD"]["diverged_at"] is None
    assert op.paths("valley", 0.06, 0.9, 400)["SGD + Nesterov"]["diverged_at"] is None


def test_what_the_paths_show():
    slow = op.paths("valley", 0.005, 0.9, 200)  # a small lr: momentum gets there, plain SGD does not
    assert slow["SGD + momentum"]["loss"][-1] < 1e-3 < slow["SGD"]["loss"][-1]
    steep = op.paths("valley", 0.12, 0.9, 200)  # above 2 / 20 plain SGD diverges across the steep direction
    assert op.paths("valley", 0.12, 0.9, 200, adam_lr=0.12) == steep  # adam_lr defaults to lr
    assert steep["SGD"]["diverged_at"] is not None and steep["Adam"]["diverged_at"] is None
    assert len(steep["SGD"]["x"]) == steep["SGD"]["diverged_at"] + 1
    banana = op.paths("rosenbrock", 0.001, 0.9, 200)
    assert banana["SGD + momentum"]["loss"][-1] < 0.5 < banana["SGD"]["loss"][-1]


def test_compute_is_plain_data_with_the_contour_grid():
    result = op.compute("rosenbrock", 0.001, 0.9, 50)
    assert result["grid"]["Z"].shape == result["grid"]["X"].shape and result["grid"]["Z"].min() >= 0
    assert set(result["paths"]) == set(op.OPTIMIZERS) and len(result["paths"]["Adam"]["x"]) == 51


def test_draw_shows_every_path_and_cuts_a_diverged_one_at_the_window():
    import matplotlib.pyplot as plt

    result = op.compute("valley", 0.08, 0.9, 200, adam_lr=0.1)
    fig = plt.figure()
    (ax,) = op.draw(result, fig)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[: len(op.OPTIMIZERS)] == list(op.OPTIMIZERS) and [
        t.get_text() for t in ax.get_legend().get_texts()
    ] == [*op.OPTIMIZERS, "start", "minimum"]
    assert result["paths"]["SGD + Nesterov"]["diverged_at"] is not None and "SGD + Nesterov diverged" in op.describe(
        result
    )
    nesterov = next(line for line in ax.get_lines() if line.get_label() == "SGD + Nesterov")
    x0, x1, y0, y1 = op.SURFACES["valley"][2]
    inside = [x0 <= x <= x1 and y0 <= y <= y1 for x, y in zip(nesterov.get_xdata(), nesterov.get_ydata())]
    assert all(inside[:-1]) and not inside[-1]  # drawn up to the first point outside the window
    ends = [
        line
        for line in ax.get_lines()
        if line.get_marker() == "o" and line.get_label().startswith("_") and line.get_visible()
    ]
    assert len(ends) == 3  # an end dot for each path that did not diverge
    plt.close(fig)


def test_explorer_controls_redraw_the_paths():
    box = op.explorer()
    ax = lambda: box.figure.fig.axes[0]  # noqa: E731
    line = lambda name: next(a for a in ax().lines if a.get_label() == name)  # noqa: E731
    before = list(line("SGD").get_xdata())
    box.controls["lr"].value = 0.02
    assert list(line("SGD").get_xdata()) == list(op.paths("valley", 0.02, 0.9, 200)["SGD"]["x"]) != before
    box.controls["momentum"].value = 0.5
    assert list(line("SGD + momentum").get_ydata()) == list(op.paths("valley", 0.02, 0.5, 200)["SGD + momentum"]["y"])
    box.controls["adam_lr"].value = 0.01
    assert list(line("Adam").get_xdata()) == list(op.paths("valley", 0.02, 0.5, 200, adam_lr=0.01)["Adam"]["x"])
    assert list(line("SGD + Nesterov").get_xdata()) == list(op.paths("valley", 0.02, 0.5, 200)["SGD + Nesterov"]["x"])
    box.controls["lr"].value = 0.12
    assert "SGD diverged at step" in box.figure.text
    box.controls["surface"].value = "rosenbrock"
    assert ax().get_title().startswith("rosenbrock") and ax().get_xlim() == (-2.0, 2.0)
    assert len(box.figure.log) == 6


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda: op.paths("bowl", 0.1), "surface"),
        (lambda: op.paths("valley", 0.0), "lr"),
        (lambda: op.paths("valley", 0.1, momentum=1.0), "momentum"),
        (lambda: op.paths("valley", 0.1, adam_lr=-1), "adam_lr"),
        (lambda: op.paths("valley", 0.1, 0.9, 0), "num_steps"),
        (lambda: op.explorer(surface="bowl"), "surface"),
        (lambda: op.loss("bowl", (0, 0)), "surface"),
        (lambda: op.paths("valley", float("nan")), "lr"),
        (lambda: op.paths("valley", float("inf")), "lr"),
        (lambda: op.paths("valley", 0.1, momentum=float("nan")), "momentum"),
        (lambda: op.explorer(lr=5.0), "lr"),
        (lambda: op.paths("valley", 0.1, 0.9, True), "num_steps"),
    ],
)
def test_bad_input_names_the_argument(call, word):
    with pytest.raises(ValueError, match=word):
        call()
