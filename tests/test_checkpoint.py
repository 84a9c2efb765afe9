"""Checkpoints: exact resumes (also part-way through an epoch), atomic saves, loads that check before they change."""
import math
import pickle

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from course_lib import Callback, EarlyStopping, Trainer, models
from course_lib.training import checkpoint
from course_lib.data import datasets, loaders
from course_lib.lr import schedules
from trainer_support import make_run, same_weights

def test_resumed_run_is_bitwise_equal_to_uninterrupted(tmp_path):
    straight, train, valid = make_run()
    straight.fit(train, valid, num_epochs=6)

    first, train, valid = make_run()
    first.fit(train, valid, num_epochs=3)
    first.save_checkpoint(tmp_path / "run.pt")
    torch.rand(100)  # disturb every generator before resuming
    resumed, train, valid = make_run(seed=123)  # other init and other loader seed: all must come from the file
    resumed.load_checkpoint(tmp_path / "run.pt")
    resumed.fit(train, valid, num_epochs=6)

    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert straight.history.step["loss"] == resumed.history.step["loss"]
    assert straight.history.epoch["valid_loss"] == resumed.history.epoch["valid_loss"]
    assert resumed.callbacks[0].best_epoch == straight.callbacks[0].best_epoch
    assert straight.optimizer.param_groups[0]["lr"] == resumed.optimizer.param_groups[0]["lr"]




def test_checkpoint_loads_with_weights_only(tmp_path):
    trainer, train, valid = make_run(amp="bf16", schedule=schedules.Cosine(0.05, 40), callbacks=[EarlyStopping(patience=1)])
    trainer.fit(train, valid, num_epochs=2)
    trainer.save_checkpoint(tmp_path / "c.pt")
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert set(state) >= {"model", "optimizer", "scheduler", "scaler", "callbacks", "counters", "history", "rng"}
    assert state["counters"]["epoch"] == 2
    other, *_ = make_run(callbacks=[])
    with pytest.raises(ValueError, match="callbacks"):
        other.load_checkpoint(tmp_path / "c.pt")


class SaveAt(Callback):
    """Save a checkpoint after update ``step`` (from on_batch_end: part-way through an epoch)."""

    def __init__(self, step, path):
        self.step, self.path = step, path

    def on_batch_end(self, trainer):
        if trainer.global_step == self.step:
            trainer.save_checkpoint(self.path)


def loader_of_kind(kind, train):
    if kind == "DeviceLoader":
        return train
    if kind == "DataLoader":  # shuffled by torch's global generator: the checkpoint's random state deals it again
        return DataLoader(TensorDataset(train.X, train.y), batch_size=64, shuffle=True)
    return [(train.X[i : i + 64], train.y[i : i + 64]) for i in range(0, len(train.X), 64)]  # a plain list of batches


@pytest.mark.parametrize("kind", ["DeviceLoader", "DataLoader", "list"])
def test_a_checkpoint_saved_part_way_through_an_epoch_resumes_exactly(tmp_path, kind):
    """Issue 10 items 1 and 8: saved after update 7 (epoch 2 of 5 updates each), resumed by a fresh trainer."""
    path = tmp_path / "step7.pt"
    straight, train, valid = make_run(callbacks=[EarlyStopping(patience=50), SaveAt(7, path)])
    straight.fit(loader_of_kind(kind, train), valid, num_epochs=4)
    torch.rand(10)  # disturb the global generator
    resumed, train, valid = make_run(seed=123, callbacks=[EarlyStopping(patience=50), SaveAt(7, path)])
    resumed.load_checkpoint(path)
    assert resumed.global_step == 7 and resumed.epoch == 1
    resumed.fit(loader_of_kind(kind, train), valid, num_epochs=4)
    assert resumed.history.num_steps == straight.history.num_steps == 20
    assert resumed.history.step["loss"] == straight.history.step["loss"]
    assert resumed.history.epoch["train_loss"] == straight.history.epoch["train_loss"]  # the part-epoch's sums too
    assert same_weights(resumed, straight)


def test_a_fit_cut_short_goes_on_with_the_batch_where_it_stopped():
    """Ctrl-C before update 7, then fit again in the same process: the same run as without the interrupt."""

    class InterruptOnce(Callback):
        def __init__(self):
            self.done = False

        def on_batch_start(self, trainer):
            if trainer.global_step == 7 and not self.done:
                self.done = True
                raise KeyboardInterrupt

    straight, train, valid = make_run(callbacks=[EarlyStopping(patience=50), InterruptOnce()])
    straight.callbacks[1].done = True
    straight.fit(train, valid, num_epochs=3)
    cut, train, valid = make_run(callbacks=[EarlyStopping(patience=50), InterruptOnce()])
    assert cut.fit(train, valid, num_epochs=3).status == "interrupted" and cut.global_step == 7
    assert cut.fit(train, valid, num_epochs=3).status == "completed"
    assert cut.history.step["loss"] == straight.history.step["loss"] and same_weights(cut, straight)


def test_state_dict_round_trip_in_memory():
    first, train, valid = make_run(schedule=schedules.warmup_cosine(0.05, 5, 30))
    first.fit(train, valid, num_epochs=2)
    second, *_ = make_run(seed=5, schedule=schedules.warmup_cosine(0.05, 5, 30))
    second.load_state_dict(first.state_dict())
    assert same_weights(first, second) and second.global_step == 10
    assert second.optimizer.param_groups[0]["lr"] == first.optimizer.param_groups[0]["lr"]  # the LambdaLR's position


def test_a_failed_save_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    """Issue 10 item 2: a state that cannot be written, or Ctrl-C in the middle of writing."""
    path = tmp_path / "run.pt"
    trainer, train, valid = make_run(callbacks=[EarlyStopping(patience=50)])
    trainer.fit(train, valid, num_epochs=1)
    trainer.save_checkpoint(path)
    good = path.read_bytes()

    trainer.callbacks[0].state_dict = lambda: {"unpicklable": lambda: None}
    with pytest.raises(Exception):
        trainer.save_checkpoint(path)
    del trainer.callbacks[0].state_dict

    real_save = torch.save

    def interrupted_save(state, file):
        real_save({"half": torch.zeros(10)}, file)  # some bytes are written, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        trainer.save_checkpoint(path)
    assert path.read_bytes() == good and [p.name for p in tmp_path.iterdir()] == ["run.pt"]
    other, *_ = make_run(callbacks=[EarlyStopping(patience=50)])
    other.load_checkpoint(path)
    assert same_weights(other, trainer)  # the earlier checkpoint loads whole


def mlp_trainer(depth=2, optimizer=torch.optim.Adam, schedule=None, amp=None, callbacks=()):
    model = models.MLP(4, 3, width=8, depth=depth)
    opt = optimizer(model.parameters(), lr=0.01)
    return Trainer(model, opt, schedule=schedule(opt) if schedule else None, schedule_interval="epoch", amp=amp,
                   callbacks=list(callbacks), progress=False, device="cpu")


@pytest.mark.parametrize("saved, loading, match", [
    ({}, {"depth": 3}, "model weights missing from it"),
    ({"depth": 3}, {"depth": 2}, "weights the model lacks"),
    ({}, {"optimizer": torch.optim.AdamW}, "optimizer: the checkpoint has 'Adam', the trainer 'AdamW'"),
    ({}, {"schedule": lambda o: torch.optim.lr_scheduler.StepLR(o, 1)}, "scheduler: the checkpoint has None, the trainer 'StepLR'"),
    ({"schedule": lambda o: torch.optim.lr_scheduler.StepLR(o, 1)}, {}, "scheduler: the checkpoint has 'StepLR', the trainer None"),
    ({}, {"callbacks": [EarlyStopping()]}, "callbacks: the checkpoint has \\[\\], the trainer \\['EarlyStopping'\\]"),
    ({"amp": "fp16"}, {"amp": "bf16"}, "saved with amp='fp16'"),
])
def test_a_checkpoint_that_does_not_fit_is_refused_before_anything_changes(tmp_path, saved, loading, match):
    """Issue 10 item 3: one ValueError naming the file and the mismatch; the trainer is left as it was."""
    X, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    source = mlp_trainer(**saved)
    source.fit([(X, y)], num_epochs=1)
    source.save_checkpoint(tmp_path / "other.pt")
    target = mlp_trainer(**loading)
    before = {k: v.clone() for k, v in target.model.state_dict().items()}
    optimizer_before = target.optimizer.state_dict()
    with pytest.raises(ValueError, match=match) as error:
        target.load_checkpoint(tmp_path / "other.pt")
    assert "other.pt" in str(error.value)
    assert all(torch.equal(before[k], v) for k, v in target.model.state_dict().items())
    assert target.optimizer.state_dict()["param_groups"] == optimizer_before["param_groups"] and target.global_step == 0


@pytest.mark.parametrize("content", [b"", b"\x00garbage" * 50, "truncate"])
def test_an_unreadable_checkpoint_is_a_clear_error_naming_the_file(tmp_path, content):
    """Issue 10 item 10: truncated, empty or random bytes; and a malicious pickle is still refused."""
    path = tmp_path / "bad.pt"
    if content == "truncate":
        trainer = mlp_trainer()
        trainer.save_checkpoint(path)
        path.write_bytes(path.read_bytes()[:600])
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match="bad.pt is not a readable course_lib checkpoint") as error:
        mlp_trainer().load_checkpoint(path)
    assert "weights_only=False" not in str(error.value)


def test_a_planted_pickle_in_a_checkpoint_runs_nothing(tmp_path):
    marker = tmp_path / "ran"

    class Planted:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"format": checkpoint.FORMAT, "model": Planted()}, protocol=2))
    with pytest.raises(ValueError, match="evil.pt is not a readable"):
        mlp_trainer().load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()
