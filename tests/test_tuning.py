"""Quasi-random search, rounds and isolation plots (course_lib.tuning)."""

import math

import matplotlib
import pytest
import torch

from course_lib import tuning
from course_lib.tuning import IntRange, Log, Round, Trial, Uniform

matplotlib.use("Agg")


def test_dimensions_map_the_unit_interval_onto_their_ranges():
    assert Log(1e-3, 1e-1).at(0.0) == pytest.approx(1e-3) and Log(1e-3, 1e-1).at(1.0) == pytest.approx(1e-1)
    assert Log(1e-3, 1e-1).at(0.5) == pytest.approx(1e-2)  # the middle in log
    assert Uniform(0.1, 0.5).at(0.25) == pytest.approx(0.2)
    assert [IntRange(0, 3).at(u) for u in (0.0, 0.24, 0.26, 0.99, 1.0)] == [0, 0, 1, 3, 3]
    for dimension, value in ((Log(1e-3, 1e-1), 1e-2), (Uniform(0.1, 0.5), 0.2), (IntRange(0, 10), 5)):
        assert dimension.at(dimension.position(value)) == pytest.approx(value)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Log(0, 1), "Log"),
        (lambda: Log(1, 0.1), "Log"),
        (lambda: Uniform(1, 1), "Uniform"),
        (lambda: IntRange(3, 3), "IntRange"),
        (lambda: IntRange(0.5, 3), "low"),
    ],
)
def test_bad_ranges_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_quasi_random_points_are_seeded_in_range_and_cover_the_box_more_evenly_than_random_ones():
    space = {"lr": Log(1e-4, 1.0), "dropout": Uniform(0.0, 0.5)}
    points = tuning.quasi_random(space, 64, seed=3)
    assert points == tuning.quasi_random(space, 64, seed=3) != tuning.quasi_random(space, 64, seed=4)
    assert tuning.quasi_random(space, 16, seed=3) == points[:16]  # a prefix: a study can stop early or go on
    assert all(1e-4 <= p["lr"] <= 1.0 and 0.0 <= p["dropout"] <= 0.5 for p in points)

    def empty_cells(units):  # of the 8 x 8 cells of the unit square, how many hold no point
        cells = {(int(a * 8), int(b * 8)) for a, b in units}
        return 64 - len(cells)

    sobol = [(space["lr"].position(p["lr"]), space["dropout"].position(p["dropout"])) for p in points]
    generator = torch.Generator().manual_seed(0)
    random = torch.rand(64, 2, generator=generator).tolist()
    assert empty_cells(sobol) < empty_cells(random)  # Sobol's 64 points fill every cell a random draw leaves gaps in


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: tuning.quasi_random({}, 4), "search space"),
        (lambda: tuning.quasi_random({"lr": (1e-3, 1e-1)}, 4), "lr"),
        (lambda: tuning.quasi_random({"lr": Log(1e-3, 1e-1)}, 0), "num"),
    ],
)
def test_quasi_random_names_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _bowl(configs):
    """A fake trainer: the score is lowest at lr 1e-2 for adam and 1e-1 for sgd, whose best is worse; lr > 0.5 fails."""
    trials = []
    for c in configs:
        target, floor = (1e-2, 1.0) if c["optimizer"] == "adam" else (1e-1, 1.5)
        score = math.nan if c["lr"] > 0.5 else floor + (math.log10(c["lr"]) - math.log10(target)) ** 2
        trials.append(Trial(c, score, best_step=10, curves={"valid_loss": [score]}))
    return trials


def test_a_round_searches_each_scientific_value_at_the_same_points_and_isolates_the_best():
    seen = []

    def train(configs):
        seen.append(len(configs))
        return _bowl(configs)

    spaces = {"adam": {"lr": Log(1e-3, 1e-1)}, "sgd": {"lr": Log(1e-2, 1.0)}}
    study = tuning.run_round("which optimizer?", {"optimizer": ["adam", "sgd"]}, spaces, {"batch_size": 32}, 8, train)
    assert seen == [16]  # every configuration handed over at once: a batched trainer can train them together
    assert study.values() == ["adam", "sgd"] and len(study.trials_of("adam")) == 8
    assert all(t.config["batch_size"] == 32 for t in study.trials)
    positions = [[spaces[v]["lr"].position(t.config["lr"]) for t in study.trials_of(v)] for v in ("adam", "sgd")]
    assert positions[0] == pytest.approx(positions[1])  # the same quasi-random points, each in its own range
    best = study.isolation()
    assert best["adam"].score < best["sgd"].score and study.best() is best["adam"]
    assert best["adam"].config["lr"] == pytest.approx(1e-2, rel=0.5)
    assert study.space_of("sgd") == spaces["sgd"]


def test_failed_trials_never_win_and_the_edge_check_flags_a_best_point_at_the_border():
    study = tuning.run_round("lr", {"optimizer": ["sgd"]}, {"lr": Log(1e-4, 1e-2)}, {}, 8, _bowl)
    assert study.isolation()["sgd"].config["lr"] > 5e-3  # the bowl's bottom (0.1) lies beyond the box
    assert study.at_edge() and "high edge" in study.at_edge()[0]
    failing = tuning.run_round("lr", {"optimizer": ["sgd"]}, {"lr": Log(0.6, 1.0)}, {}, 4, _bowl)
    assert failing.isolation() == {"sgd": None}
    with pytest.raises(ValueError, match="every trial"):
        failing.best()
    maximise = Round(
        "accuracy",
        "optimizer",
        {"lr": Log(1e-3, 1e-1)},
        {},
        [Trial({"optimizer": "a", "lr": 0.01}, 0.9), Trial({"optimizer": "a", "lr": 0.02}, 0.8)],
        "max",
    )
    assert maximise.best().score == 0.9


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: tuning.run_round("q", {"a": [1], "b": [2]}, {"lr": Log(1e-3, 1)}, {}, 2, _bowl), "scientific"),
        (lambda: tuning.run_round("q", {"optimizer": []}, {"lr": Log(1e-3, 1)}, {}, 2, _bowl), "non-empty"),
        (lambda: tuning.run_round("q", {"optimizer": ["adam"]}, {"lr": Log(1e-3, 1)}, {"lr": 0.1}, 2, _bowl), "lr"),
        (
            lambda: tuning.run_round("q", {"optimizer": ["adam"]}, {"lr": Log(1e-3, 1)}, {}, 2, lambda c: []),
            "one Trial",
        ),
        (lambda: Round("q", "optimizer", {}, {}, [], mode="best"), "mode"),
    ],
)
def test_run_round_names_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_plot_isolation_draws_every_trial_the_best_of_each_value_and_the_seed_spread():
    import matplotlib.pyplot as plt

    spaces = {"adam": {"lr": Log(1e-3, 1.0)}, "sgd": {"lr": Log(1e-2, 1.0)}}
    study = tuning.run_round("which optimizer?", {"optimizer": ["adam", "sgd"]}, spaces, {}, 8, _bowl)
    left, right = tuning.plot_isolation(
        study, "lr", ceiling=3.0, seeds={"adam": [1.0, 1.1, 1.05]}, labels={"sgd": "SGD"}
    )
    assert left.get_xscale() == "log"
    crosses = [line for line in left.lines if line.get_marker() == "x"]
    assert crosses and all(y == 3.0 for line in crosses for y in line.get_ydata())  # failed runs at the ceiling
    stars = [line for line in right.lines if line.get_marker() == "*"]
    assert list(stars[0].get_ydata()) == pytest.approx([study.isolation()[v].score for v in ("adam", "sgd")])
    assert [t.get_text() for t in right.get_xticklabels()] == ["adam", "SGD"]
    assert len(right.containers) == 1  # one error bar: adam's seeds
    plt.close("all")


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(tuning)
    assert result.attempted > 0 and result.failed == 0
