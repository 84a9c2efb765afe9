"""train_digits: one seeded digits run with one signature; show_table: the notebooks' result tables."""

import pytest
import torch

from course_lib import optimizers, plots
from course_lib.lr import schedules
from course_lib.problems import digits


def weights(trainer):
    return torch.cat([p.detach().flatten() for p in trainer.model.parameters()])


def test_same_seed_same_run_other_seed_other_weights():
    a = digits.train_digits(0.1, 2, device="cpu")
    b = digits.train_digits(0.1, 2, device="cpu")
    c = digits.train_digits(0.1, 2, seed=1, device="cpu")
    assert torch.equal(weights(a), weights(b)) and a.history.epoch == {
        **b.history.epoch,
        "time": a.history.epoch["time"],
    }
    assert not torch.equal(weights(a), weights(c))
    assert {"train_accuracy", "valid_accuracy", "valid_loss"} <= set(a.history.epoch)


@pytest.mark.parametrize("name", optimizers.NAMES)
def test_each_named_optimizer_trains(name):
    trainer = digits.train_digits(
        0.01 if name.startswith("adam") else 0.1, 1, optimizer=name, weight_decay=1e-4, device="cpu"
    )
    assert trainer.history.status == "completed"
    assert trainer.optimizer.param_groups[0]["weight_decay"] == 1e-4


def test_schedule_scheduler_model_and_optimizer_functions():
    scheduled = digits.train_digits(0.1, 2, schedule=schedules.Constant(0.05), device="cpu")
    assert scheduled.history.step["lr"][-1] == pytest.approx(0.05)
    stepped = digits.train_digits(
        0.1,
        2,
        device="cpu",
        schedule_interval="epoch",
        make_scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5),
    )
    assert stepped.optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
    wide = digits.train_digits(
        0.1,
        1,
        model=lambda: torch.nn.Sequential(torch.nn.Linear(64, 10)),
        device="cpu",
        optimizer=lambda model: torch.optim.SGD(model.parameters(), lr=0.5),
    )
    assert wide.optimizer.param_groups[0]["lr"] == 0.5 and len(list(wide.model.parameters())) == 2


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"optimizer": 3}, "optimizer"),
        ({"schedule": schedules.Constant(0.1), "make_scheduler": lambda o: None}, "not both"),
        ({"make_scheduler": 5}, "make_scheduler must be None or a function optimizer -> torch scheduler"),
        ({"optimizer": ["sgd"]}, "optimizer must be one of"),
    ],
)
def test_bad_arguments_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        digits.train_digits(0.1, 1, device="cpu", **kwargs)


def test_one_name_one_optimizer_in_train_digits_and_in_sweeps():
    """optimizers.NAMES is what train_digits builds and what a sweep runs; "momentum" is SGD with momentum 0.9."""
    from course_lib.lr import sweep

    parameters = [torch.zeros(2, requires_grad=True)]
    built = {name: optimizers.build(name, parameters, lr=0.1) for name in optimizers.NAMES}
    assert [type(o).__name__ for o in built.values()] == ["SGD", "SGD", "SGD", "Adam", "AdamW"]
    assert [o.defaults.get("momentum") for o in built.values()][:3] == [0.0, 0.9, 0.9] and built["nesterov"].defaults[
        "nesterov"
    ]
    X, y = torch.randn(32, 64), torch.randint(0, 10, (32,))
    for name in optimizers.NAMES:
        sweep.run_sweep(lambda: torch.nn.Linear(64, 10), X, y, name, lrs=[0.01], num_steps=1, device="cpu")
    with pytest.raises(ValueError, match="optimizer must be one of"):
        optimizers.build("rmsprop", parameters, lr=0.1)


def test_show_table_returns_the_markdown_it_shows():
    text = plots.show_table(["run", "accuracy"], [["a", 0.912345], ["b", "97.0%"]])
    assert text.splitlines() == ["| run | accuracy |", "|---|---|", "| a | 0.9123 |", "| b | 97.0% |"]
    with pytest.raises(ValueError, match="every row needs 2 cells"):
        plots.show_table(["run", "accuracy"], [["a"]])
