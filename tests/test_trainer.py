import math

import pytest
import torch
from trainer_support import make_run, same_weights

from course_lib import Callback, EarlyStopping, LambdaCallback, Trainer, metrics, models
from course_lib.data import datasets, loaders
from course_lib.device import seed_everything
from course_lib.lr import schedules


def test_fit_learns_digits_and_logs_plain_history():
    trainer, train, valid = make_run(schedule=None, lr=0.01, dropout=0.0)
    history = trainer.fit(train, valid, num_epochs=8)
    assert history.status == "completed" and history.num_epochs == 8 and history.num_steps == 8 * 5
    assert history.epoch["valid_accuracy"][-1] > 0.8
    assert history.epoch["train_loss"][-1] < history.epoch["train_loss"][0]
    assert set(history.step) == {"step", "loss", "lr", "time"}
    assert all(isinstance(v, float) for v in history.epoch["valid_loss"])
    assert history.step["time"] == sorted(history.step["time"])


def test_training_metrics_are_opt_in():
    X, y = datasets.make_moons(64)
    model = models.MLP(2, 2)
    trainer = Trainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.1),
        metrics={"accuracy": metrics.accuracy},
        progress=False,
        device="cpu",
    )
    history = trainer.fit(loaders.DeviceLoader(X, y, 16), loaders.DeviceLoader(X, y, 64), num_epochs=1)
    assert set(history.epoch) == {"epoch", "train_loss", "valid_loss", "valid_accuracy", "lr", "time"}


def test_callback_added_after_construction_is_called():
    calls = []
    trainer, train, valid = make_run(schedule=None, callbacks=[])
    trainer.callbacks.append(LambdaCallback(on_epoch_end=lambda t: calls.append(t.epoch)))
    trainer.fit(train, valid, num_epochs=2)
    assert calls == [1, 2]


@pytest.mark.parametrize("lr", [1e3])
def test_divergence_ends_run_keeps_history_and_weights(lr):
    trainer, train, valid = make_run(lr=lr, schedule=None, dropout=0.0)
    history = trainer.fit(train, valid, num_epochs=5)
    assert history.status == "diverged" and history.diverged_at_step is not None
    assert history.num_steps == history.diverged_at_step + 1
    assert "at step" in history.message
    bad = history.step["loss"][-1]
    assert not math.isfinite(bad) or bad > 1e3 * history.step["loss"][0]
    assert all(math.isfinite(v) for v in history.step["loss"][:-1])
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())  # the bad step was not taken


def test_nan_loss_is_reported_as_diverged():
    class NaNAfter(Callback):
        def on_batch_start(self, trainer):
            if trainer.global_step == 3:
                trainer.batch = [torch.full_like(trainer.batch[0], float("nan")), trainer.batch[1]]

    trainer, train, valid = make_run(schedule=None, callbacks=[NaNAfter()])
    history = trainer.fit(train, valid, num_epochs=3)
    assert history.status == "diverged" and history.diverged_at_step == 3 and math.isnan(history.step["loss"][-1])
    assert "nan" in history.message


def test_keyboard_interrupt_returns_history_so_far():
    class Interrupt(Callback):
        def on_batch_start(self, trainer):
            if trainer.global_step == 7:
                raise KeyboardInterrupt

    trainer, train, valid = make_run(schedule=None, callbacks=[Interrupt()])
    history = trainer.fit(train, valid, num_epochs=5)
    assert history.status == "interrupted" and history.num_steps == 7 and history.num_epochs == 1
    assert trainer.global_step == 7


def test_early_stopping_stops_and_restores_best_weights():
    stopper = EarlyStopping(monitor="valid_loss", patience=2)
    snapshots = []
    trainer, train, valid = make_run(
        schedule=None,
        lr=0.05,
        dropout=0.0,
        callbacks=[
            stopper,
            LambdaCallback(on_epoch_end=lambda t: snapshots.append([p.detach().clone() for p in t.model.parameters()])),
        ],
    )
    # a validation set whose labels are shuffled gets worse as the model learns the true ones
    split = datasets.load_digits_split()
    noisy = loaders.DeviceLoader(
        split.X_valid,
        split.y_valid[torch.randperm(len(split.y_valid), generator=torch.Generator().manual_seed(0))],
        256,
        shuffle=False,
    )
    history = trainer.fit(train, noisy, num_epochs=40)
    assert history.status == "stopped early" and "did not improve for 2 epochs" in history.message
    assert history.num_epochs == stopper.best_epoch + 2
    best = snapshots[stopper.best_epoch - 1]
    assert all(torch.equal(p, q) for p, q in zip(trainer.model.parameters(), best))


def test_early_stopping_update_is_pure_and_counts_like_keras():
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    decisions = [stopper.update(v)[0] for v in [1.0, 0.95, 0.85, 0.84, 0.83]]
    assert decisions == [False, False, False, False, True] and stopper.best_epoch == 3 and stopper.best == 0.85
    for bad in (math.nan, math.inf):
        assert EarlyStopping(patience=5).update(bad) == (True, f"valid_loss is {bad} at epoch 1")
    maximize = EarlyStopping(mode="max", patience=0)
    assert [maximize.update(v)[0] for v in [0.5, 0.6, 0.6]] == [False, False, True]
    for kwargs, match in [({"patience": -1}, "patience"), ({"mode": "auto"}, "mode"), ({"min_delta": -1}, "min_delta")]:
        with pytest.raises(ValueError, match=match):
            EarlyStopping(**kwargs)


def test_unknown_monitor_lists_known_metrics():
    trainer, train, valid = make_run(schedule=None, callbacks=[EarlyStopping(monitor="val_loss")])
    with pytest.raises(
        ValueError, match=r"known metrics: \['train_loss', 'train_accuracy', 'valid_loss', 'valid_accuracy'\]"
    ):
        trainer.fit(train, valid, num_epochs=1)


def test_misspelt_hook_is_an_error():
    with pytest.raises(ValueError, match="on_epoch_ends is not a hook"):

        class Typo(Callback):
            def on_epoch_ends(self, trainer):
                pass

    with pytest.raises(ValueError, match="unknown hook"):
        LambdaCallback(on_batch_ended=print)


def test_step_schedule_sets_lr_and_keeps_group_ratios():
    seed_everything(0)
    model = models.MLP(64, 10, width=16, depth=1)
    body, head = list(model[0].parameters()), list(model[2].parameters())
    optimizer = torch.optim.SGD([{"params": body, "lr": 0.1}, {"params": head, "lr": 1.0}])
    schedule = schedules.warmup_cosine(0.1, warmup_steps=5, total_steps=25)
    seen = []
    trainer = Trainer(
        model,
        optimizer,
        schedule=schedule,
        progress=False,
        device="cpu",
        callbacks=[LambdaCallback(on_batch_end=lambda t: seen.append([g["lr"] for g in t.optimizer.param_groups]))],
    )
    split = datasets.load_digits_split()
    history = trainer.fit(loaders.DeviceLoader(split.X_train[:320], split.y_train[:320], 64), num_epochs=5)
    assert history.step["lr"] == pytest.approx(schedules.lr_curve(schedule, 25))
    assert all(head_lr == pytest.approx(10 * body_lr) for body_lr, head_lr in seen)
    assert [body_lr for body_lr, _ in seen] == history.step["lr"]  # on_batch_end sees the lr its update used
    assert isinstance(trainer.scheduler, torch.optim.lr_scheduler.LambdaLR)  # a callable is driven through LambdaLR


def test_epoch_schedule_and_torch_scheduler_and_plateau():
    trainer, train, valid = make_run(
        schedule=schedules.StepDecay(0.05, step_size=1, gamma=0.5), schedule_interval="epoch"
    )
    history = trainer.fit(train, valid, num_epochs=3)
    assert history.epoch["lr"] == pytest.approx([0.05, 0.025, 0.0125])

    seed_everything(0)
    model = models.MLP(64, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=0, threshold=10.0)
    trainer = Trainer(
        model,
        optimizer,
        metrics={"accuracy": metrics.accuracy},
        schedule=plateau,
        schedule_interval="epoch",
        schedule_metric="valid_accuracy",
        progress=False,
        device="cpu",
    )
    history = trainer.fit(train, valid, num_epochs=3)
    # epoch 1 sets the best; threshold=10 means no later epoch counts as better, so each later one halves
    # the lr; the history logs the lr each epoch trained with
    assert history.epoch["lr"] == pytest.approx([0.1, 0.1, 0.05])


def test_amp_bf16_and_fp16_and_clipping_run_on_cpu():
    class GradientNorms(Callback):
        def __init__(self):
            self.norms = []

        def on_after_backward(self, trainer):  # unscaled already, so clipping and this see true gradients
            self.norms.append(float(torch.cat([p.grad.flatten() for p in trainer.model.parameters()]).norm()))

    scaler_used = []
    for amp in ("bf16", "fp16"):
        norms = GradientNorms()
        trainer, train, valid = make_run(schedule=None, amp=amp, grad_clip=0.5, callbacks=[norms])
        history = trainer.fit(train, valid, num_epochs=2)
        assert history.status == "completed" and history.epoch["valid_accuracy"][-1] > 0.3
        assert len(norms.norms) == history.num_steps and max(norms.norms) < 1e3  # not multiplied by the loss scale
        scaler_used.append(trainer.scaler.is_enabled())
    assert scaler_used == [False, True]  # the scaler is only for fp16


def tiny_trainer(**kwargs):
    model = models.MLP(2, 2)
    return Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), **{"progress": False, "device": "cpu", **kwargs})


def moons(batch_size=16):
    X, y = datasets.make_moons(64)
    return loaders.DeviceLoader(X, y, batch_size)


OTHER_OPTIMIZER = torch.optim.SGD(models.MLP(2, 2).parameters(), lr=0.1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(schedule_interval="batch"), "schedule_interval must be one of"),
        (dict(amp="fp8"), "amp must be one of"),
        (dict(amp=["fp16"]), "amp must be one of"),  # unhashable: was a TypeError
        (dict(grad_clip=0), "grad_clip"),
        (dict(grad_clip="1"), "grad_clip must be None or a finite number > 0, got '1'"),
        (dict(divergence_factor=0.5), "divergence_factor"),
        (dict(schedule=torch.optim.lr_scheduler.StepLR(OTHER_OPTIMIZER, 1)), "same optimizer"),
        (dict(schedule="cosine"), "schedule must be None"),
        (dict(callbacks=[print]), "callbacks must be a list of Callback instances"),
        (dict(callbacks=None), "callbacks must be a list of Callback instances"),
        (dict(callbacks=EarlyStopping()), "callbacks must be a list of Callback instances"),
        (dict(metrics={"acc": 1}), "metric 'acc'"),
        (dict(metrics=[metrics.accuracy]), "metrics must be None or a dict"),
        (dict(loss_fn="mse"), "loss_fn must be a callable"),
        (dict(valid_loss_fn="cross_entropy"), "valid_loss_fn"),
        (dict(accumulation_steps=0), "accumulation_steps"),
    ],
    ids=lambda value: str(value)[:40] if isinstance(value, str) else None,
)
def test_bad_arguments_name_the_argument(kwargs, match):
    """Wrong types are named at once, not a TypeError later."""
    with pytest.raises(ValueError, match=match):
        tiny_trainer(**kwargs)


def test_bad_models_optimizers_and_fit_arguments_name_the_argument():
    model = models.MLP(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="schedule_interval='epoch'"):
        Trainer(model, optimizer, schedule=torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer), progress=False)
    with pytest.raises(ValueError, match="model must be"):
        Trainer("mlp", optimizer)
    with pytest.raises(ValueError, match="optimizer must be"):
        Trainer(model, "sgd")
    trainer = tiny_trainer(schedule=schedules.warmup_cosine(0.1, 10, 20))
    with pytest.raises(ValueError, match="num_epochs"):
        trainer.fit(moons(), num_epochs=0)
    with pytest.raises(ValueError, match=r"warmup_steps \(10\) must be shorter than the run \(8 steps\)"):
        trainer.fit(moons(), num_epochs=2)
    with pytest.raises(ValueError, match="train_loader"):
        trainer.fit(None)
    with pytest.raises(ValueError, match="valid_loader must be an iterable of batches"):
        tiny_trainer().fit(moons(), valid_loader=5)  # not an error after a whole epoch of training


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda t: t.fit(iter(list(moons())), num_epochs=2), "train_loader is an iterator .* 2 epochs"),
        (lambda t: t.fit((batch for batch in moons()), num_epochs=2), "can be read only once"),
        (lambda t: t.fit([], num_epochs=1), "train_loader is empty"),
        (lambda t: t.fit(moons(), [], num_epochs=1), "valid_loader is empty"),
        (lambda t: t.fit(iter([]), num_epochs=1), "train_loader yielded no batches in epoch 1"),
        (lambda t: t.evaluate(iter([])), "the validation loader yielded no batches"),
    ],
)
def test_empty_or_used_up_loaders_are_clear_errors(call, match):
    """Not a ZeroDivisionError, nor a second epoch that silently trains nothing."""
    trainer = tiny_trainer()
    with pytest.raises(ValueError, match=match):
        call(trainer)
    assert trainer.global_step == 0


def test_one_epoch_over_a_generator_is_fine():
    history = tiny_trainer().fit((batch for batch in moons()), num_epochs=1)
    assert history.status == "completed" and history.num_steps == 4


def test_training_step_override_and_evaluate():
    class Regression(Trainer):
        def training_step(self, batch):
            x, y = batch
            out = self.model(x)
            return torch.nn.functional.mse_loss(out, y), out

    x, y, _ = datasets.make_poly_regression(200, degree=2, noise=0.05)
    model = models.MLP(1, 1, width=32)
    trainer = Regression(model, torch.optim.Adam(model.parameters(), 0.01), progress=False, device="cpu")
    history = trainer.fit(loaders.DeviceLoader(x, y, 32), num_epochs=30)
    assert history.epoch["train_loss"][-1] < 0.2 * history.epoch["train_loss"][0]
    assert set(trainer.evaluate(loaders.DeviceLoader(x, y, 64, shuffle=False))) == {"loss"}


def test_valid_loss_fn_measures_validation_with_its_own_loss():
    """A flooded training loss does not change what validation reports."""
    from torch.nn import functional as F

    from course_lib.regularization import Flooding

    runs = {}
    for name, valid_loss_fn in (("flooded", None), ("plain", F.cross_entropy)):
        seed_everything(0)
        model = models.MLP(2, 2, width=16)
        trainer = Trainer(
            model,
            torch.optim.SGD(model.parameters(), lr=0.1),
            loss_fn=Flooding(F.cross_entropy, 5.0),
            valid_loss_fn=valid_loss_fn,
            progress=False,
            device="cpu",
        )
        X, y = datasets.make_moons(64)
        trainer.fit(loaders.DeviceLoader(X, y, 16), loaders.DeviceLoader(X, y, 64, shuffle=False), num_epochs=2)
        with torch.no_grad():
            runs[name] = (trainer.history.epoch["valid_loss"][-1], F.cross_entropy(model(X), y).item())
    flooded, by_hand = runs["flooded"]
    assert flooded == pytest.approx(2 * 5.0 - by_hand, rel=1e-6)  # |loss - 5| + 5 with loss < 5: what training sees
    plain, by_hand = runs["plain"]
    assert plain == pytest.approx(by_hand, rel=1e-6)  # the same weights (validation changes no update), the plain loss
    with pytest.raises(ValueError, match="valid_loss_fn"):
        Trainer(model, torch.optim.SGD(model.parameters(), lr=0.1), valid_loss_fn="cross_entropy")


@pytest.mark.parametrize("grad_clip", [None, 0.5])
def test_accumulated_micro_batches_make_the_update_of_the_big_batch(grad_clip):
    """4 micro-batches of 8 make one update over their 32 samples.

    90 samples in order: three updates per epoch over 32, 32 and 26 samples (the last group is short:
    its gradient is the mean over its 26 samples, as the big loader's short last batch). The two runs
    add the same per-sample gradients in another order and grouping, so they agree to float32
    rounding: a few ulps (1e-7 relative) per gradient; over 6 updates of lr 0.1 with momentum that
    stays far below the 1e-5 allowed here (measured: below 1e-8).
    """
    X, y = datasets.make_moons(90, seed=3)
    runs, calls = {}, {}
    for name, batch_size, steps in (("big", 32, 1), ("micro", 8, 4)):
        seed_everything(0)
        model = models.MLP(2, 2, width=16)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        counts = calls[name] = {"start": 0, "end": 0}
        counter = LambdaCallback(
            on_batch_start=lambda t, c=counts: c.__setitem__("start", c["start"] + 1),
            on_batch_end=lambda t, c=counts: c.__setitem__("end", c["end"] + 1),
        )
        trainer = Trainer(
            model,
            optimizer,
            schedule=schedules.StepDecay(0.1, step_size=2),
            grad_clip=grad_clip,
            accumulation_steps=steps,
            callbacks=[counter],
            progress=False,
            device="cpu",
        )
        runs[name] = trainer
        trainer.fit(loaders.DeviceLoader(X, y, batch_size, shuffle=False), num_epochs=2)
    big, micro = runs["big"], runs["micro"]
    assert micro.global_step == big.global_step == 6 and micro.history.num_steps == 6
    assert calls["micro"] == {"start": 2 * 12, "end": 6} and calls["big"] == {"start": 6, "end": 6}
    assert micro.history.step["lr"] == big.history.step["lr"]  # a schedule step is an update
    assert micro.history.step["loss"] == pytest.approx(big.history.step["loss"], rel=1e-5)
    assert micro.history.epoch["train_loss"] == pytest.approx(big.history.epoch["train_loss"], rel=1e-5)
    for a, b in zip(micro.model.parameters(), big.model.parameters()):
        assert torch.allclose(a, b, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="accumulation_steps"):
        Trainer(big.model, big.optimizer, accumulation_steps=0)


def noisy_valid_loader():
    """A validation set with shuffled labels: its loss gets worse as the model learns the true ones."""
    split = datasets.load_digits_split()
    shuffled = split.y_valid[torch.randperm(len(split.y_valid), generator=torch.Generator().manual_seed(0))]
    return loaders.DeviceLoader(split.X_valid, shuffled, 256, shuffle=False)


def early_stopping_run(restore=True):
    snapshots = []
    stopper = EarlyStopping(patience=100, restore_best_weights=restore)
    keep = LambdaCallback(
        on_epoch_end=lambda t: snapshots.append({k: v.clone() for k, v in t.model.state_dict().items()})
    )
    trainer, train, _ = make_run(schedule=None, lr=0.05, callbacks=[stopper, keep])
    return trainer, train, snapshots


def test_early_stopping_restores_the_best_weights_at_the_epoch_cap_too(tmp_path):
    """The run reaches num_epochs before patience runs out; the best epoch comes back."""
    trainer, train, snapshots = early_stopping_run()
    history = trainer.fit(train, noisy_valid_loader(), num_epochs=6)
    stopper = trainer.callbacks[0]
    assert history.status == "completed" and stopper.best_epoch < 6
    assert all(torch.equal(v, snapshots[stopper.best_epoch - 1][k]) for k, v in trainer.model.state_dict().items())

    kept, train, snapshots = early_stopping_run(restore=False)
    kept.fit(train, noisy_valid_loader(), num_epochs=6)
    assert all(torch.equal(v, snapshots[-1][k]) for k, v in kept.model.state_dict().items())

    # the run goes on from its last epoch, not from the restored one: in parts, or resumed, as in one go
    straight, train, _ = early_stopping_run()
    straight.fit(train, noisy_valid_loader(), num_epochs=9)
    in_parts, train, _ = early_stopping_run()
    in_parts.fit(train, noisy_valid_loader(), num_epochs=6)
    in_parts.save_checkpoint(tmp_path / "six.pt")
    in_parts.fit(train, noisy_valid_loader(), num_epochs=9)
    resumed, train, _ = early_stopping_run()
    resumed.load_checkpoint(tmp_path / "six.pt")
    resumed.fit(train, noisy_valid_loader(), num_epochs=9)
    for other in (in_parts, resumed):
        assert other.history.step["loss"] == straight.history.step["loss"]
        assert all(
            torch.equal(a, b) for a, b in zip(other.model.state_dict().values(), straight.model.state_dict().values())
        )


def test_one_divergence_rule_and_one_set_of_statuses(monkeypatch):
    """Trainer, sweep and lr_finder decide divergence with statuses.diverged (the Trainer with its limits, computed
    once per run: statuses.loss_limits), and end with its names."""
    from course_lib.lr import lr_finder, sweep
    from course_lib.training import statuses

    callers = []
    rule = statuses.loss_limits

    def spy(reference, factor):
        callers.append(factor)
        return rule(reference, factor)

    monkeypatch.setattr(statuses, "loss_limits", spy)
    X, y = datasets.make_moons(64)
    model = models.MLP(2, 2)
    history = Trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.1), progress=False, device="cpu", divergence_factor=7.0
    ).fit(loaders.DeviceLoader(X, y, 16), num_epochs=1)
    assert 7.0 in callers and history.status == statuses.COMPLETED
    result = sweep.run_sweep(
        lambda: models.MLP(2, 2), X, y, lrs=[0.1, 1e5], num_steps=3, divergence_factor=9.0, device="cpu"
    )
    assert 9.0 in callers and result.status == [statuses.COMPLETED, statuses.DIVERGED]
    lr_finder.lr_find(
        model, torch.optim.SGD(model.parameters(), lr=0.1), loaders.DeviceLoader(X, y, 16), num_steps=3, stop_factor=5.0
    )
    assert 5.0 in callers
    assert set(statuses.STATUSES) >= {history.status, *result.status} and statuses.DIVERGED == "diverged"


class PoisonGradientAt(Callback):
    """A NaN in one gradient at update ``step``, once, with a finite loss (as a sqrt at 0 gives)."""

    def __init__(self, step):
        self.step, self.done = step, False

    def on_after_backward(self, trainer):
        if trainer.global_step == self.step and not self.done:
            self.done = True
            next(trainer.model.parameters()).grad[0, 0] = float("nan")


@pytest.mark.parametrize("grad_clip", [None, 1.0])
def test_a_nan_gradient_with_a_finite_loss_is_divergence_and_spares_the_weights(grad_clip):
    """The update is not taken, the weights are those before it (with or without clipping)."""
    snapshots = {}
    keep = LambdaCallback(
        on_batch_end=lambda t: snapshots.__setitem__(t.global_step, [p.detach().clone() for p in t.model.parameters()])
    )
    trainer, train, valid = make_run(
        schedule=None, dropout=0.0, grad_clip=grad_clip, callbacks=[PoisonGradientAt(3), keep]
    )
    history = trainer.fit(train, valid, num_epochs=2)
    assert history.status == "diverged" and history.diverged_at_step == 3 and "gradient" in history.message
    assert math.isfinite(history.step["loss"][-1])
    assert all(
        torch.equal(p, q) for p, q in zip(trainer.model.parameters(), snapshots[3])
    )  # after update 2, i.e. step 3's start


def test_fitting_again_after_a_divergence_starts_a_clean_status():
    """No stale diverged_at_step, and the refused step is not logged twice."""
    trainer, train, valid = make_run(schedule=None, dropout=0.0, callbacks=[PoisonGradientAt(3)])
    assert trainer.fit(train, valid, num_epochs=2).status == "diverged"
    history = trainer.fit(train, valid, num_epochs=2)
    assert history.status == "completed" and history.diverged_at_step is None and history.message == ""
    assert history.step["step"] == list(range(10)) and trainer.global_step == 10
    straight, train, valid = make_run(schedule=None, dropout=0.0, callbacks=[])
    straight.fit(train, valid, num_epochs=2)
    assert same_weights(trainer, straight)  # the refused update was taken on the second try, from the same batch


def test_an_error_is_recorded_runs_on_fit_end_keeps_the_history_and_is_raised_again():
    """Any exception but Ctrl-C, during a batch."""

    class Broken(Callback):
        def on_batch_start(self, trainer):
            if trainer.global_step == 4:
                raise RuntimeError("the data went away")

    ended = []
    trainer, train, valid = make_run(
        schedule=None, callbacks=[Broken(), LambdaCallback(on_fit_end=lambda t: ended.append(t.history.status))]
    )
    with pytest.raises(RuntimeError, match="the data went away"):
        trainer.fit(train, valid, num_epochs=3)
    history = trainer.history
    assert ended == ["failed"] and history.status == "failed" and "RuntimeError: the data went away" in history.message
    assert history.num_steps == 4 and history.num_epochs == 0


class Raise(Callback):
    """Raise ``error`` in hook ``hook`` once it is armed."""

    def __init__(self, hook, error):
        self.error, self.armed = error, False
        setattr(self, hook, self._raise)

    def _raise(self, trainer):
        if self.armed:
            self.armed = False
            raise self.error


class BreakingMetric:
    """Accuracy, until it is armed: then validation breaks."""

    armed = False

    def __call__(self, outputs, targets):
        if self.armed and len(targets) > 64:  # a validation batch (256 samples), not a training one
            raise ArithmeticError("the metric broke")
        return metrics.accuracy(outputs, targets)


@pytest.mark.parametrize(
    "phase",
    [
        "on_fit_start",
        "on_epoch_start",
        "on_batch_start",
        "on_after_backward",
        "on_batch_end",
        "validation",
        "on_validation_end",
        "on_epoch_end",
        "checkpoint",
        "on_fit_end",
    ],
)
def test_every_exception_ends_as_failed_runs_on_fit_end_keeps_the_history_and_is_raised(tmp_path, phase):
    """A second fit breaks at ``phase``: status 'failed', on_fit_end ran, the first fit's history kept, error raised."""
    ended = []
    watcher = LambdaCallback(on_fit_end=lambda t: ended.append(t.history.status))
    metric = BreakingMetric()
    if phase == "validation":
        breaker = metric
    elif phase == "checkpoint":  # a save that fails in the middle of the run: the path is a folder
        breaker = Raise("on_batch_end", None)
        breaker._raise = lambda t: breaker.armed and t.save_checkpoint(tmp_path)
        breaker.on_batch_end = breaker._raise
    else:
        breaker = Raise(phase, ArithmeticError("boom"))
    callbacks = [EarlyStopping(patience=50)] + ([] if phase == "validation" else [breaker]) + [watcher]
    trainer, train, valid = make_run(schedule=None, callbacks=callbacks, metrics={"accuracy": metric})
    trainer.fit(train, valid, num_epochs=1)  # a first fit that completes: its history is kept
    breaker.armed = True
    with pytest.raises((ArithmeticError, OSError)):
        trainer.fit(train, valid, num_epochs=2)
    assert trainer.history.status == "failed" and ended == ["completed", "failed"]
    assert trainer.history.epoch["epoch"][0] == 1 and trainer.history.num_steps >= 5
    assert "during epoch" in trainer.history.message


def test_an_unknown_monitor_fails_the_fit_cleanly():
    ended = []
    trainer, train, valid = make_run(
        schedule=None,
        callbacks=[
            EarlyStopping(monitor="valid_acc"),
            LambdaCallback(on_fit_end=lambda t: ended.append(t.history.status)),
        ],
    )
    with pytest.raises(ValueError, match="monitor='valid_acc'"):
        trainer.fit(train, valid, num_epochs=1)
    assert trainer.history.status == "failed" and ended == ["failed"] and trainer.global_step == 0


def per_sample(outputs, targets):
    return (outputs.argmax(1) == targets).float()


@pytest.mark.parametrize(
    "options, match",
    [
        ({"metrics": {"hits": per_sample}}, r"metric 'hits' must return one number .*shape \(64,\)"),
        ({"metrics": {"hits": lambda o, t: 0.5}}, r"metric 'hits' must return one number .*float"),
        (
            {"valid_loss_fn": lambda o, t: torch.nn.functional.cross_entropy(o, t, reduction="none")},
            r"valid_loss_fn must return one number .*shape \(64,\)",
        ),
        ({"valid_loss_fn": lambda o, t: 1.0}, r"valid_loss_fn must return one number .*float"),
        (
            {"loss_fn": lambda o, t: torch.nn.functional.cross_entropy(o, t, reduction="none")},
            r"loss_fn .* must return one number .*shape \(64,\)",
        ),
    ],
)
def test_metrics_and_losses_that_return_more_than_one_number_are_named_at_the_first_batch(options, match):
    trainer, train, valid = make_run(schedule=None, callbacks=[], **options)
    with pytest.raises(ValueError, match=match):
        trainer.fit(train, valid, num_epochs=3)
    assert trainer.global_step == 0 and trainer.history.status == "failed"


def test_evaluate_names_a_metric_that_returns_a_vector():
    trainer, train, valid = make_run(schedule=None, callbacks=[], metrics={"hits": per_sample})
    with pytest.raises(ValueError, match="metric 'hits'"):
        trainer.evaluate(valid)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(train_metrics="no"), "train_metrics must be one of"),
        (dict(progress="yes"), "progress must be one of"),
        (dict(schedule_metric=5), "schedule_metric must be"),
        (dict(divergence_factor=True), "divergence_factor"),
        (dict(accumulation_steps=True), "accumulation_steps"),
        (dict(device=3), "device"),
    ],
)
def test_more_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_trainer(**kwargs)


@pytest.mark.parametrize(
    "loader, match",
    [
        (torch.zeros(64, 2), "train_loader must be an iterable of batches .*got a tensor of shape \\(64, 2\\)"),
        ({"x": 1}, "train_loader must be an iterable of batches"),
        ("batches", "train_loader must be an iterable of batches"),
    ],
)
def test_a_tensor_or_a_dict_is_not_a_loader(loader, match):
    trainer = tiny_trainer()
    with pytest.raises(ValueError, match=match):
        trainer.fit(loader, num_epochs=1)
    with pytest.raises(ValueError, match=match.replace("train_loader", "valid_loader")):
        trainer.fit(moons(), loader, num_epochs=1)
    assert trainer.global_step == 0


class SGDWithItsOwnZeroGrad(torch.optim.SGD):
    def zero_grad(self, set_to_none=True):
        super().zero_grad(set_to_none)


@pytest.mark.parametrize("optimizer_class", [torch.optim.SGD, SGDWithItsOwnZeroGrad])
def test_gradients_are_cleared_for_every_group_also_one_added_during_the_fit(optimizer_class):
    """The Trainer clears gradients itself (zero_grad without its profiler label): a group added by a callback part-way
    (a head unfrozen) must be cleared too, exactly as the optimizer's own zero_grad does."""

    def run(optimizer_class):
        seed_everything(0)
        body, head = torch.nn.Linear(64, 16), torch.nn.Linear(16, 10)
        model = torch.nn.Sequential(body, torch.nn.ReLU(), head)
        optimizer = optimizer_class(body.parameters(), lr=0.05)
        unfreeze = LambdaCallback(
            on_epoch_end=lambda t: t.epoch == 1 and t.optimizer.add_param_group({"params": head.parameters()})
        )
        split = datasets.load_digits_split()
        trainer = Trainer(model, optimizer, callbacks=[unfreeze], progress=False, device="cpu")
        trainer.fit(loaders.DeviceLoader(split.X_train[:256], split.y_train[:256], 32), num_epochs=3)
        return trainer, head

    reference, _ = run(SGDWithItsOwnZeroGrad)
    trainer, head = run(optimizer_class)
    assert trainer.history.step["loss"] == reference.history.step["loss"] and same_weights(trainer, reference)
    for group in trainer.optimizer.param_groups:
        group["lr"] = 0.0  # the weights stay: the same batch gives the same gradient, unless it accumulates
    grads_seen = []
    trainer.callbacks.append(LambdaCallback(on_after_backward=lambda t: grads_seen.append(head.weight.grad.clone())))
    trainer.fit(loaders.DeviceLoader(torch.zeros(64, 64), torch.zeros(64, dtype=torch.long), 32), num_epochs=4)
    assert len(grads_seen) == 2 and torch.equal(grads_seen[0], grads_seen[1])  # cleared, not accumulated
