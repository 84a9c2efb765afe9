"""Digits that move: the canvas, the moves, the models and train_moved_digits."""
import pytest
import torch

from course_lib.problems import moved_digits


def test_place_centres_and_shifts_whole_digits():
    digit = torch.rand(2, 1, 8, 8)
    out = moved_digits.place(digit, 16, torch.tensor([[0, 0], [4, -4]]))
    assert out.shape == (2, 1, 16, 16)
    assert torch.equal(out[0, :, 4:12, 4:12], digit[0]) and torch.equal(out[1, :, 0:8, 8:16], digit[1])
    assert out.sum() == pytest.approx(digit.sum().item(), rel=1e-5)
    with pytest.raises(ValueError, match="shifts"):
        moved_digits.place(digit, 16, torch.tensor([[5, 0], [0, 0]]))


def test_data_trains_centred_and_tests_moved_repeatably():
    data = moved_digits.moved_digits_data(16, 4, seed=0)
    assert data.X_train.shape[1:] == (1, 16, 16) and len(data.X_test) == len(data.y_test)
    centred_mass = data.X_train[:, :, 4:12, 4:12].sum() / data.X_train.sum()
    moved_mass = data.X_test[:, :, 4:12, 4:12].sum() / data.X_test.sum()
    assert centred_mass == 1.0 and moved_mass < 0.8
    assert torch.equal(data.X_test, moved_digits.moved_digits_data(16, 4, seed=0).X_test)
    assert not torch.equal(data.X_test, moved_digits.moved_digits_data(16, 4, seed=1).X_test)
    rotated = moved_digits.moved_digits_data(16, 4, move="rotate", seed=0)
    assert rotated.X_test.shape == data.X_test.shape and not torch.equal(rotated.X_test, data.X_test)


@pytest.mark.parametrize("kwargs, word", [({"move": "flip"}, "move"), ({"max_shift": 5}, "max_shift"),
                                          ({"canvas": 4}, "canvas")])
def test_bad_data_arguments_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        moved_digits.moved_digits_data(**kwargs)


@pytest.mark.parametrize("kind", moved_digits.MODELS)
def test_both_models_learn_the_centred_digits_and_repeat_themselves(kind):
    data = moved_digits.moved_digits_data(16, 4, seed=0)
    a = moved_digits.train_moved_digits(kind, lr=3e-3, num_epochs=2, data=data, device="cpu", size="smoke")
    b = moved_digits.train_moved_digits(kind, lr=3e-3, num_epochs=2, data=data, device="cpu", size="smoke")
    assert a.history.status == "completed" and a.history.step["loss"] == b.history.step["loss"]
    assert a.history.epoch["train_loss"][-1] < 0.9 * a.history.step["loss"][0]  # ln 10 = 2.3 at the start
    if kind == "mlp":
        assert moved_digits.test_accuracy(a, data, centred=True) > 0.5
    assert 0.0 <= moved_digits.test_accuracy(a, data) <= 1.0


def test_augmentation_changes_the_batches_only():
    data = moved_digits.moved_digits_data(16, 4, seed=0)
    plain = moved_digits.train_moved_digits("mlp", num_epochs=1, data=data, device="cpu", size="smoke")
    shifted = moved_digits.train_moved_digits("mlp", num_epochs=1, data=data, device="cpu", size="smoke", augment_shift=4)
    assert plain.history.step["loss"][0] != shifted.history.step["loss"][0]
    assert torch.equal(data.X_train, moved_digits.moved_digits_data(16, 4, seed=0).X_train)  # the data untouched


@pytest.mark.parametrize("kwargs, word", [({"model": "rnn"}, "kind"), ({"augment_shift": 5}, "augment_shift"),
                                          ({"optimizer": "adam"}, "optimizer"), ({"lr": -1.0}, "lr")])
def test_bad_training_arguments_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        moved_digits.train_moved_digits(**{"num_epochs": 1, "device": "cpu", "size": "smoke", **kwargs})


def test_docstring_examples_run():
    import doctest

    from course_lib.problems import moved_digits as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
