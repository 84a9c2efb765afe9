import math

import numpy as np
import pytest
import torch

from course_lib import History, Trainer, datasets, diagnosis, loaders, models
from course_lib.device import seed_everything


# ---------------------------------------------------------------- generated curves
noise = np.random.default_rng(0)


def steps(values, scale=0.02):
    """A per-update history from a clean curve plus multiplicative mini-batch noise."""
    values = np.asarray(values, float) * (1 + scale * noise.standard_normal(len(values)))
    return History(step={"step": list(range(len(values))), "loss": values.tolist()}, status="completed")


def epochs(train, valid):
    return History(epoch={"epoch": list(range(1, len(train) + 1)), "train_loss": list(train), "valid_loss": list(valid)},
                   status="completed")


t = np.arange(300)
GENERATED = {
    "healthy": steps(0.05 + 2.25 * np.exp(-t / 40)),
    "too slow": steps(2.3 - 0.3 * t / 300),
    "plateau high": steps(np.where(t < 60, 2.3 - 1.5 * t / 60, 0.8 + 0.5 * np.abs(np.sin((t - 60) / 20)))),
    "exploded": steps(np.where(t < 20, 2.3 + 0.4 * t, 1.0 + 2.0 * np.exp(-(t - 20) / 30))),
    "diverged": History(step={"loss": [2.3, 2.1, 5.0, math.nan]}, status="diverged", diverged_at_step=3),
    "overfitting": epochs(2 * np.exp(-np.arange(30) / 5) + 0.05,
                          [0.3 + 2 * math.exp(-e / 5) + 0.02 * max(0, e - 12) for e in range(30)]),
    "underfitting": epochs(np.r_[2.3 - 0.1 * np.arange(5), np.full(25, 1.8)] + 0.01 * noise.standard_normal(30),
                           np.r_[2.3 - 0.1 * np.arange(5), np.full(25, 1.85)]),
    "too short": steps([2.3, 2.0, 1.8]),
}


@pytest.mark.parametrize("label", GENERATED)
def test_generated_curves(label):
    result = diagnosis.diagnose(GENERATED[label])
    assert result.label == label, result
    assert len(result.sentence) > 40 and result.label in diagnosis.LABELS


def test_overfitting_names_the_turning_epoch_and_bouncy_low_curves_stay_healthy():
    result = diagnosis.diagnose(GENERATED["overfitting"])
    valid = GENERATED["overfitting"].epoch["valid_loss"]
    assert result.details["turning_epoch"] == int(np.argmin(valid)) + 1
    assert f"epoch {result.details['turning_epoch']}" in result.sentence
    bouncy = diagnosis.diagnose(steps(0.05 + 2.25 * np.exp(-t / 20) + 0.35 * np.abs(np.sin(t / 20))))
    assert bouncy.label == "healthy" and "jumps" in bouncy.sentence
    falling = diagnosis.diagnose(steps(0.02 + 2.3 * np.exp(-t / 120)))
    assert falling.label == "healthy" and "still falling" in falling.sentence


def test_only_a_history_is_accepted():
    with pytest.raises(ValueError, match="history"):
        diagnosis.diagnose({"loss": [1.0, 0.5]})


# ---------------------------------------------------------------- real runs, learning rates picked for each case
spirals = datasets.split_tensors(*datasets.make_spirals(1200, seed=0), valid_fraction=0.25, test_fraction=0.0, seed=0)
digits = datasets.load_digits_split()


def run(optimizer, lr, data="spirals", model=None, num_epochs=20, batch_size=64, num_samples=None, **options):
    seed_everything(0)
    split = spirals if data == "spirals" else digits
    model = model or (models.MLP(2, 2, width=64) if data == "spirals" else models.MLP(64, 10, width=64))
    make = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer]
    trainer = Trainer(model, make(model.parameters(), lr=lr, **options), progress=False, device="cpu")
    X, y = split.X_train[:num_samples], split.y_train[:num_samples]
    return trainer.fit(loaders.DeviceLoader(X, y, batch_size, seed=0),
                       loaders.DeviceLoader(split.X_valid, split.y_valid, 512, shuffle=False), num_epochs)


REAL = {  # (label, run): each a real Trainer run on spirals or digits
    "sgd lr 20 diverges": ("diverged", lambda: run("sgd", 20.0)),
    "adam lr 0.3 explodes at the start": ("exploded", lambda: run("adam", 0.3)),
    "sgd lr 1e-3 is too slow": ("too slow", lambda: run("sgd", 1e-3)),
    "digits sgd lr 1e-3 is too slow": ("too slow", lambda: run("sgd", 1e-3, data="digits", num_epochs=10)),
    "momentum lr 0.05 is healthy": ("healthy", lambda: run("sgd", 0.05, momentum=0.9)),
    "adam lr 1e-2 is healthy": ("healthy", lambda: run("adam", 1e-2)),
    "digits adam lr 1e-3 is healthy": ("healthy", lambda: run("adam", 1e-3, data="digits", num_epochs=10)),
    "momentum lr 0.5 plateaus high": ("plateau high", lambda: run("sgd", 0.5, momentum=0.9)),
    "sgd lr 2 plateaus high": ("plateau high", lambda: run("sgd", 2.0)),
    "a 2-unit model underfits": ("underfitting", lambda: run("adam", 1e-2, model=models.MLP(2, 2, width=2, depth=1))),
    "a big MLP on 60 digits overfits": ("overfitting", lambda: run(
        "adam", 3e-3, data="digits", model=models.MLP(64, 10, width=256), num_epochs=60, batch_size=20, num_samples=60)),
}


@pytest.mark.parametrize("case", REAL)
def test_real_runs(case):
    label, make_run = REAL[case]
    result = diagnosis.diagnose(make_run())
    assert result.label == label, result


def test_real_overfitting_turns_where_the_validation_loss_is_lowest():
    history = REAL["a big MLP on 60 digits overfits"][1]()
    result = diagnosis.diagnose(history)
    assert result.details["turning_epoch"] == history.best("valid_loss")[0]
    assert history.epoch["valid_loss"][-1] > 1.1 * history.best("valid_loss")[1]
