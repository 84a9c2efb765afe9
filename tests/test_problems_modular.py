"""Modular addition: the data, the member-batched embedding MLP, train_modular and grokking_curves."""
import pytest
import torch

from course_lib.problems import modular


def test_data_is_every_pair_once_labelled_by_the_sum_and_fixed_by_the_seed():
    data = modular.modular_data(p=11, train_fraction=0.3, seed=0)
    pairs = torch.cat([data.X_train, data.X_valid])
    assert len(pairs) == 121 and len({tuple(p) for p in pairs.tolist()}) == 121
    assert len(data.X_train) == round(0.3 * 121)
    assert torch.equal((pairs[:, 0] + pairs[:, 1]) % 11, torch.cat([data.y_train, data.y_valid]))
    again, other = modular.modular_data(11, 0.3, seed=0), modular.modular_data(11, 0.3, seed=1)
    assert torch.equal(data.X_train, again.X_train) and not torch.equal(data.X_train, other.X_train)


@pytest.mark.parametrize("kwargs, word", [({"p": 1}, "p"), ({"train_fraction": 1.0}, "train_fraction"),
                                          ({"train_fraction": 0.001, "p": 5}, "train_fraction"), ({"seed": -1}, "seed")])
def test_bad_data_arguments_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        modular.modular_data(**{"p": 7, "train_fraction": 0.5, **kwargs})


def test_members_are_independent_networks_each_as_its_seed_draws_it():
    X = modular.modular_data(7, 0.5).X_train
    batched = modular.EmbeddingMLP(7, 8, 16, seeds=[0, 1, 0])
    out = batched(X)
    assert out.shape == (3, len(X), 7)
    torch.testing.assert_close(out[0], out[2])
    torch.manual_seed(1)
    single = modular.EmbeddingMLP(7, 8, 16)  # the global generator seeded alike draws the same weights
    torch.testing.assert_close(single(X), out[1])
    per_member = batched(torch.stack([X, X.flip(0), X]))  # (K, B, 2): each member its own pairs
    torch.testing.assert_close(per_member[1], out[1].flip(0))
    # the first layer applied to the p embeddings equals the textbook concat -> Linear
    e = single.embedding[0]
    h = torch.relu(torch.cat([e[X[:, 0]], e[X[:, 1]]], 1) @ single.weight1[0] + single.bias1[0])
    torch.testing.assert_close(single(X), h @ single.weight2[0] + single.bias2[0])


@pytest.mark.parametrize("kwargs, word", [({"seeds": []}, "seeds"), ({"seeds": [0, -2]}, "seeds"), ({"hidden": 0}, "hidden")])
def test_bad_model_arguments_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        modular.EmbeddingMLP(**{"p": 7, **kwargs})
    with pytest.raises(ValueError, match="pairs of ints"):
        modular.EmbeddingMLP(7)(torch.zeros(4, 2))


def test_train_modular_learns_the_training_pairs_and_repeats_itself():
    a = modular.train_modular(lr=1e-2, num_steps=100, size="smoke", device="cpu")
    b = modular.train_modular(lr=1e-2, num_steps=100, size="smoke", device="cpu")
    assert a.history.status == "completed" and a.history.num_steps == 100 and a.history.num_epochs == 10
    assert a.history.epoch["train_accuracy"][-1] > 0.9  # memorised: the first thing a grokking run does
    assert a.history.step["loss"] == b.history.step["loss"]
    assert a.optimizer.param_groups[0]["weight_decay"] == modular.SETTINGS["smoke"]["weight_decay"]


@pytest.mark.parametrize("kwargs, word", [({"optimizer": "lion"}, "optimizer"), ({"num_steps": 15}, "multiple"),
                                          ({"size": "huge"}, "size"), ({"lr": 0}, "lr"), ({"weight_decay": -1}, "weight_decay")])
def test_bad_training_arguments_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        modular.train_modular(**{"num_steps": 10, "device": "cpu", **kwargs})


def test_grokking_curves_match_torch_optim_and_log_every_member():
    curves = modular.grokking_curves((0.0, 1.0), seeds=(0, 1), size="smoke", num_steps=20, eval_every=10, device="cpu")
    assert curves.steps == [0, 10, 20] and curves.seed == [0, 0, 1, 1] and curves.weight_decay == [0.0, 1.0, 0.0, 1.0]
    assert len(curves.valid_accuracy) == 4 and all(len(v) == 3 for v in curves.valid_accuracy)
    assert curves.members(1.0) == [1, 3] and curves.seconds > 0
    # member (seed 1, wd 1) is the run train_modular makes with torch.optim.AdamW, up to rounding
    trainer = modular.train_modular(num_steps=20, steps_per_epoch=10, seed=1, weight_decay=1.0, size="smoke", device="cpu")
    assert trainer.history.step["loss"][10] == pytest.approx(curves.train_loss[3][1], rel=1e-4)
    with pytest.raises(ValueError, match="weight_decay must be one of"):
        curves.members(3.0)
    with pytest.raises(ValueError, match="overrides"):
        modular.grokking_curves(num_steps=1, size="smoke", depth=3)
    with pytest.raises(ValueError, match="key"):
        curves.first_step("loss", 0.5)


def test_weight_decay_makes_the_smoke_run_generalise():
    """The claim in miniature (smoke size): with decay validation accuracy rises, without it stays near chance."""
    curves = modular.grokking_curves((0.0, 1.0), seeds=(0,), size="smoke", device="cpu", eval_every=100)
    without, with_decay = curves.valid_accuracy[0][-1], curves.valid_accuracy[1][-1]
    assert curves.train_accuracy[0][-1] == 1.0
    assert with_decay > without + 0.2, (without, with_decay)


def test_docstring_examples_run():
    import doctest

    from course_lib.problems import modular as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_early_stopping_with_a_usual_patience_stops_while_the_network_memorises():
    """07's claim in miniature: read every 10 steps, the validation loss peaks at memorisation (step ~50) and is back
    below its first reading only after ~300 steps, so a patience of 10 readings stops at step 110 with chance accuracy."""
    from course_lib.training.early_stopping import EarlyStopping

    stopper = EarlyStopping(monitor="valid_loss", patience=10)
    trainer = modular.train_modular(num_steps=300, size="smoke", steps_per_epoch=10, callbacks=[stopper], device="cpu")
    assert trainer.history.num_steps == 110 and stopper.best_epoch == 1
    assert trainer.history.epoch["train_accuracy"][-1] == 1.0 and max(trainer.history.epoch["valid_accuracy"]) < 0.05
