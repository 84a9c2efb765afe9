"""Checkpoints: exact resumes (also part-way through an epoch), atomic saves, loads that check before they change."""

import pickle

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from trainer_support import make_run, same_weights

from course_lib import Callback, EarlyStopping, Trainer, models
from course_lib.data import loaders
from course_lib.lr import schedules
from course_lib.training import checkpoint


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
    trainer, train, valid = make_run(
        amp="bf16", schedule=schedules.Cosine(0.05, 40), callbacks=[EarlyStopping(patience=1)]
    )
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
    """Saved after update 7 (epoch 2 of 5 updates each), resumed by a fresh trainer, with any kind of loader."""
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
    """A state that cannot be written, or Ctrl-C in the middle of writing."""
    path = tmp_path / "run.pt"
    trainer, train, valid = make_run(callbacks=[EarlyStopping(patience=50)])
    trainer.fit(train, valid, num_epochs=1)
    trainer.save_checkpoint(path)
    good = path.read_bytes()

    trainer.callbacks[0].state_dict = lambda: {"unpicklable": lambda: None}
    with pytest.raises((pickle.PicklingError, AttributeError), match="pickle"):
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
    return Trainer(
        model,
        opt,
        schedule=schedule(opt) if schedule else None,
        schedule_interval="epoch",
        amp=amp,
        callbacks=list(callbacks),
        progress=False,
        device="cpu",
    )


@pytest.mark.parametrize(
    "saved, loading, match",
    [
        ({}, {"depth": 3}, "model weights missing from it"),
        ({"depth": 3}, {"depth": 2}, "weights the model lacks"),
        ({}, {"optimizer": torch.optim.AdamW}, "optimizer.class: 'Adam' in the checkpoint, 'AdamW' in this trainer"),
        (
            {},
            {"schedule": lambda o: torch.optim.lr_scheduler.StepLR(o, 1)},
            "scheduler: None in the checkpoint, StepLR in this trainer",
        ),
        (
            {"schedule": lambda o: torch.optim.lr_scheduler.StepLR(o, 1)},
            {},
            "scheduler: StepLR in the checkpoint, None in this trainer",
        ),
        (
            {},
            {"callbacks": [EarlyStopping()]},
            "callbacks: \\[\\] in the checkpoint, \\['EarlyStopping'\\] in this trainer",
        ),
        ({"amp": "fp16"}, {"amp": "bf16"}, "trainer.amp: 'fp16' in the checkpoint, 'bf16' in this trainer"),
    ],
)
def test_a_checkpoint_that_does_not_fit_is_refused_before_anything_changes(tmp_path, saved, loading, match):
    """One ValueError naming the file and the mismatch; the trainer is left as it was."""
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
    """Truncated, empty or random bytes; and a malicious pickle is still refused."""
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


class CutAt(Callback):
    """Ctrl-C (or another error) once, at micro-batch ``micro`` of the run, in hook ``hook``, after dropout has drawn."""

    def __init__(self, micro, hook, error=KeyboardInterrupt):
        self.micro, self.error, self.seen, self.done = micro, error, 0, False
        setattr(self, hook, self._maybe_cut)

    def _maybe_cut(self, trainer):
        self.seen += 1
        if self.seen == self.micro and not self.done:
            self.done = True
            raise self.error()


def cut_runs(kind, steps, hook, micro, tmp_path, dropout=0.2):
    """The straight run, the same run cut once and fitted again, and a fresh trainer resumed from the cut."""

    def run(cut=None, seed=0):
        cut = CutAt(micro, hook) if cut is None else cut
        trainer, train, valid = make_run(
            seed=seed, callbacks=[EarlyStopping(patience=50), cut], accumulation_steps=steps, dropout=dropout
        )
        return trainer, loader_of_kind(kind, train), valid

    never = CutAt(0, hook)
    straight, train, valid = run(never)
    straight.fit(train, valid, num_epochs=3)
    cut, train, valid = run()
    assert cut.fit(train, valid, num_epochs=3).status == "interrupted"
    cut.save_checkpoint(tmp_path / "cut.pt")
    torch.rand(10)  # disturb the global generator
    cut.fit(train, valid, num_epochs=3)
    resumed, train, valid = run(never, seed=123)
    resumed.load_checkpoint(tmp_path / "cut.pt")  # puts back every generator, so load right before fit
    resumed.fit(train, valid, num_epochs=3)
    return straight, cut, resumed


@pytest.mark.parametrize("kind", ["DeviceLoader", "DataLoader"])
@pytest.mark.parametrize(
    "steps, hook, micro",
    [
        (2, "on_batch_start", 9),  # micro-batch 2 of epoch 2's second update: micro-batch 1's dropout already drew
        (2, "on_after_backward", 3),  # epoch 1's short last group, after its backward
        (1, "on_after_backward", 7),  # update 7, after its forward and backward: the update was not taken
        (1, "on_after_backward", 6),  # the first update of epoch 2 (a DataLoader draws its order at its first batch)
    ],
)
@pytest.mark.parametrize("dropout", [0.2, 0.0], ids=["dropout", "no-dropout"])
def test_a_run_cut_inside_an_update_resumes_exactly(tmp_path, kind, steps, hook, micro, dropout):
    """The cut update is replayed from the random state its first micro-batch started with, in place and from a file:
    kept per batch when a step draws (dropout), taken at the cut when none does."""
    straight, cut, resumed = cut_runs(kind, steps, hook, micro, tmp_path, dropout)
    assert cut.state.position.keep_torch is (dropout > 0)
    for other in (cut, resumed):
        assert other.history.step["loss"] == straight.history.step["loss"]
        assert other.history.epoch["valid_loss"] == straight.history.epoch["valid_loss"]
        assert same_weights(other, straight)


def loader_with_batch(train, batch_size):
    return loaders.DeviceLoader(train.X, train.y, batch_size=batch_size, seed=0)


def test_a_part_way_position_is_refused_with_a_loader_of_another_shape(tmp_path):
    """Mid-epoch, 'batches done' means other samples with other batches: refused, named, before anything changes."""
    path = tmp_path / "step7.pt"
    first, train, valid = make_run(callbacks=[EarlyStopping(patience=50), SaveAt(7, path)])
    first.fit(train, valid, num_epochs=2)
    resumed, train, valid = make_run(callbacks=[EarlyStopping(patience=50), SaveAt(7, path)])
    resumed.load_checkpoint(path)
    before = {k: v.clone() for k, v in resumed.model.state_dict().items()}
    for batch_size in (32, 128):
        with pytest.raises(ValueError, match="train_loader.*part-way through epoch 2") as error:
            resumed.fit(loader_with_batch(train, batch_size), valid, num_epochs=2)
        assert "64" in str(error.value) and str(batch_size) in str(error.value)
        assert resumed.global_step == 7 and all(
            torch.equal(before[k], v) for k, v in resumed.model.state_dict().items()
        )
    assert resumed.history.num_steps == 7  # nothing ran
    resumed.fit(train, valid, num_epochs=2)  # the loader it was saved with goes on
    assert resumed.history.status == "completed" and resumed.global_step == 10

    cut, train, valid = make_run(callbacks=[EarlyStopping(patience=50), CutAt(8, "on_batch_start")])  # update 8
    cut.fit(train, valid, num_epochs=3)  # in place too: cut in epoch 2
    with pytest.raises(ValueError, match="part-way through epoch 2"):
        cut.fit(loader_with_batch(train, 32), valid, num_epochs=3)
    at_boundary, train, valid = make_run()
    at_boundary.fit(train, valid, num_epochs=1)
    at_boundary.fit(loader_with_batch(train, 32), valid, num_epochs=2)  # at an epoch's end the position means the same
    assert at_boundary.global_step == 5 + 10


@pytest.mark.parametrize("error, status", [(KeyboardInterrupt, "interrupted"), (OSError, "failed")])
def test_an_epoch_counts_only_when_it_is_complete(tmp_path, error, status):
    """Cut during epoch 1's validation: epoch 1 is not counted or logged; the next fit validates it and goes on."""

    class FailingValidation:
        def __init__(self, loader):
            self.loader, self.failed = loader, False

        def __len__(self):
            return len(self.loader)

        def __iter__(self):
            if not self.failed:
                self.failed = True
                raise error("the disk went away")
            return iter(self.loader)

    straight, train, valid = make_run()
    straight.fit(train, valid, num_epochs=3)
    cut, train, valid = make_run()
    flaky = FailingValidation(valid)
    if error is KeyboardInterrupt:
        cut.fit(train, flaky, num_epochs=3)
    else:
        with pytest.raises(OSError):
            cut.fit(train, flaky, num_epochs=3)
    assert cut.history.status == status and cut.epoch == 0 and cut.history.num_epochs == 0 and cut.global_step == 5
    assert "epoch 1" in cut.history.message
    cut.save_checkpoint(tmp_path / "cut.pt")
    cut_history = cut.fit(train, flaky, num_epochs=3)
    resumed, train, valid = make_run(seed=9)
    resumed.load_checkpoint(tmp_path / "cut.pt")
    for history, other in ((cut_history, cut), (resumed.fit(train, valid, num_epochs=3), resumed)):
        assert history.epoch["epoch"] == [1, 2, 3] and history.num_steps == 15
        assert history.epoch["valid_loss"] == straight.history.epoch["valid_loss"] and same_weights(other, straight)


def early_stopping_checkpoint(tmp_path, **options):
    trainer, train, valid = make_run(callbacks=[EarlyStopping(**options)])
    trainer.fit(train, valid, num_epochs=1)
    trainer.save_checkpoint(tmp_path / "es.pt")
    return tmp_path / "es.pt"


@pytest.mark.parametrize(
    "saved, loading, match",
    [
        ({"monitor": "valid_loss", "mode": "min"}, {"monitor": "valid_accuracy", "mode": "max"}, "monitor"),
        ({"patience": 5}, {"patience": 6}, "patience"),
        ({"min_delta": 0.0}, {"min_delta": 0.01}, "min_delta"),
        ({"restore_best_weights": True}, {"restore_best_weights": False}, "restore_best_weights"),
    ],
)
def test_a_callback_of_another_configuration_is_refused(tmp_path, saved, loading, match):
    path = early_stopping_checkpoint(tmp_path, **saved)
    target, *_ = make_run(callbacks=[EarlyStopping(**loading)])
    with pytest.raises(ValueError, match=f"callbacks\\[EarlyStopping\\]\\.{match}: .* in the checkpoint"):
        target.load_checkpoint(path)
    assert target.global_step == 0 and target.callbacks[0].best_epoch == 0


@pytest.mark.parametrize(
    "saved, loading, match",
    [
        ({"schedule": schedules.Cosine(0.05, 40)}, {"schedule": schedules.Cosine(0.05, 80)}, "schedule"),
        ({}, {"t_max": 90}, "T_max"),
        ({}, {"accumulation_steps": 2}, "accumulation_steps"),
        ({}, {"amp": "bf16"}, "amp"),
        ({}, {"grad_clip": 1.0}, "grad_clip"),
        ({}, {"lr": 0.01}, "lr"),
        ({}, {"schedule_interval": "epoch"}, "schedule_interval"),
    ],
)
def test_a_trainer_of_another_configuration_is_refused(tmp_path, saved, loading, match):
    """Each part's settings are compared, not only its class, before anything changes."""
    source, *_ = make_run(**saved)
    _, train, valid = make_run()
    source.fit(train, valid, num_epochs=1)
    source.save_checkpoint(tmp_path / "c.pt")
    target, *_ = make_run(**loading)
    before = {k: v.clone() for k, v in target.model.state_dict().items()}
    with pytest.raises(ValueError, match=match):
        target.load_checkpoint(tmp_path / "c.pt")
    assert target.global_step == 0 and all(torch.equal(before[k], v) for k, v in target.model.state_dict().items())


@pytest.mark.parametrize(
    "hook, micro", [("on_batch_end", 7), ("on_validation_end", 1), ("on_epoch_end", 2), ("on_epoch_start", 2)]
)
@pytest.mark.parametrize("options", [{}, {"accumulation_steps": 2, "amp": "fp16"}], ids=["plain", "accumulation+fp16"])
def test_a_run_cut_at_any_moment_goes_on_as_if_it_had_not_been(tmp_path, hook, micro, options):
    """Ctrl-C in a hook after the update's schedule step is due (on_batch_end), during an epoch's end or start: the
    schedule, the counters and early stopping go on exactly, in place and from a checkpoint saved after the cut."""

    def run(cut, seed=0):
        return make_run(seed=seed, callbacks=[EarlyStopping(patience=50), cut], **options)

    straight, train, valid = run(CutAt(0, hook))
    straight.fit(train, valid, num_epochs=3)
    cut, train, valid = run(CutAt(micro, hook))
    assert cut.fit(train, valid, num_epochs=3).status == "interrupted"
    cut.save_checkpoint(tmp_path / "cut.pt")
    cut.fit(train, valid, num_epochs=3)
    resumed, train, valid = run(CutAt(0, hook), seed=7)
    resumed.load_checkpoint(tmp_path / "cut.pt")
    resumed.fit(train, valid, num_epochs=3)
    for other in (cut, resumed):
        assert other.history.step["loss"] == straight.history.step["loss"]
        assert other.history.step["lr"] == straight.history.step["lr"]
        assert other.history.epoch["valid_loss"] == straight.history.epoch["valid_loss"] and same_weights(
            other, straight
        )
        assert other.callbacks[0].best_epoch == straight.callbacks[0].best_epoch
