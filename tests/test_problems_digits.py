"""train_digits: one seeded digits run with one signature; show_table: the notebooks' result tables."""
import pytest
import torch

from course_lib.problems import digits
from course_lib import plots
from course_lib.lr import schedules


def weights(trainer):
    return torch.cat([p.detach().flatten() for p in trainer.model.parameters()])


def test_same_seed_same_run_other_seed_other_weights():
    a = digits.train_digits(0.1, 2, device="cpu")
    b = digits.train_digits(0.1, 2, device="cpu")
    c = digits.train_digits(0.1, 2, seed=1, device="cpu")
    assert torch.equal(weights(a), weights(b)) and a.history.epoch == {**b.history.epoch, "time": a.history.epoch["time"]}
    assert not torch.equal(weights(a), weights(c))
    assert {"train_accuracy", "valid_accuracy", "valid_loss"} <= set(a.history.epoch)


@pytest.mark.parametrize("name", list(digits.OPTIMIZERS))
def test_each_named_optimizer_trains(name):
    trainer = digits.train_digits(0.01 if name.startswith("adam") else 0.1, 1, optimizer=name, weight_decay=1e-4,
                                       device="cpu")
    assert trainer.history.status == "completed"
    assert trainer.optimizer.param_groups[0]["weight_decay"] == 1e-4


def test_schedule_scheduler_model_and_optimizer_functions():
    scheduled = digits.train_digits(0.1, 2, schedule=schedules.Constant(0.05), device="cpu")
    assert scheduled.history.step["lr"][-1] == pytest.approx(0.05)
    stepped = digits.train_digits(0.1, 2, device="cpu", schedule_interval="epoch",
                                       scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5))
    assert stepped.optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
    wide = digits.train_digits(0.1, 1, model=lambda: torch.nn.Sequential(torch.nn.Linear(64, 10)), device="cpu",
                                    optimizer=lambda model: torch.optim.SGD(model.parameters(), lr=0.5))
    assert wide.optimizer.param_groups[0]["lr"] == 0.5 and len(list(wide.model.parameters())) == 2


@pytest.mark.parametrize("kwargs, word", [
    ({"optimizer": "rmsprop"}, "optimizer"), ({"optimizer": 3}, "optimizer"),
    ({"schedule": schedules.Constant(0.1), "scheduler": lambda o: None}, "not both"), ({"scheduler": 5}, "scheduler"),
])
def test_bad_arguments_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        digits.train_digits(0.1, 1, device="cpu", **kwargs)


def test_show_table_returns_the_markdown_it_shows():
    text = plots.show_table(["run", "accuracy"], [["a", 0.912345], ["b", "97.0%"]])
    assert text.splitlines() == ["| run | accuracy |", "|---|---|", "| a | 0.9123 |", "| b | 97.0% |"]
    with pytest.raises(ValueError, match="every row needs 2 cells"):
        plots.show_table(["run", "accuracy"], [["a"]])
