"""The shared helpers the lessons use for numbers over seeds and for timing."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib import models, regularization, stats, timing
from course_lib.data import datasets
from course_lib.metrics import accuracy_of
from course_lib.training.history import History


def test_paired_matches_scipy_and_counts_seeds():
    from scipy.stats import ttest_rel

    a, b = [0.91, 0.88, 0.93, 0.90], [0.89, 0.87, 0.90, 0.91]
    result = stats.paired(a, b)
    assert result.t == pytest.approx(ttest_rel(a, b).statistic, rel=1e-9)
    assert (result.ahead, result.behind) == (3, 1)
    assert result.beyond(0.5) and not result.beyond(3)


def test_paired_with_no_spread_and_bad_input():
    assert stats.paired([1.0, 1.0], [1.0, 1.0]).t == 0
    assert stats.paired([2.0, 2.0], [1.0, 1.0]).beyond(100)
    with pytest.raises(ValueError, match="same seeds"):
        stats.paired([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="at least two"):
        stats.standard_error([1.0])


def test_tail_mean_reads_a_history():
    history = History()
    for value in [1.0, 2.0, 3.0, 4.0]:
        history.log_epoch(valid_loss=value)
    assert stats.tail_mean(history, "valid_loss", 2) == 3.5
    with pytest.raises(ValueError, match="unknown epoch key"):
        stats.tail_mean(history, "valid_accuracy")


def test_flip_labels_moves_exactly_that_share_to_another_class():
    y = torch.arange(100) % 10
    flipped = datasets.flip_labels(y, 0.2, seed=3)
    assert int((flipped != y).sum()) == 20 and torch.equal(y, torch.arange(100) % 10)
    assert torch.equal(flipped, datasets.flip_labels(y, 0.2, seed=3))
    with pytest.raises(ValueError, match="fraction"):
        datasets.flip_labels(y, 1.5)


def test_decay_groups_leave_biases_and_norm_scales_alone():
    model = models.MLP(4, 3, width=8, depth=1, batch_norm=True)
    decayed, kept = regularization.decay_groups(model, 0.5)
    assert all(p.dim() == 2 for p in decayed["params"]) and all(p.dim() == 1 for p in kept["params"])
    assert len(decayed["params"]) + len(kept["params"]) == len(list(model.parameters()))


def test_dead_units_counts_units_silent_on_every_row():
    model = models.MLP(2, 2, width=4, depth=1)
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.copy_(torch.tensor([-1.0, -1.0, 1.0, 1.0]))
    model.train()
    assert models.dead_units(model, torch.randn(16, 2)) == [0.5] and model.training


def test_nudge_moves_every_weight_by_one_ulp():
    model = models.MLP(2, 2, width=4, depth=1)
    before = [p.detach().clone() for p in model.parameters()]
    models.nudge_(model)
    for old, new in zip(before, model.parameters()):
        assert torch.all(new > old) and torch.equal(new, torch.nextafter(old, torch.full_like(old, math.inf)))


def test_accuracy_of_restores_the_mode():
    model = models.MLP(2, 2, width=4, depth=1, dropout=0.5)
    model.train()
    X, y = torch.randn(10, 2), torch.zeros(10, dtype=torch.long)
    assert accuracy_of(model, X, y) == accuracy_of(model, X, y) and model.training


def test_timing_repeats_and_warms_up():
    calls = []
    times = timing.seconds(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(times) == 3 and len(calls) == 5 and all(t >= 0 for t in times)
    assert timing.fastest(lambda: None, repeats=2) <= timing.median(lambda: sum(range(1000)), repeats=3) + 1
    with pytest.raises(ValueError, match="repeats"):
        timing.seconds(lambda: None, repeats=0)
