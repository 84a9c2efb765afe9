"""Digits that move: scikit-learn's 8x8 digits on a larger blank canvas, trained centred, tested moved.

A network trained on centred digits meets them shifted (or rotated) at test time. An MLP has learned
"this pixel means that class" and fails on the moved digits; a CNN shares its filters across positions
and pools over them, so it carries over much better; translation augmentation (random shifts of the
training digits, :func:`~course_lib.data.augment.random_affine` through ``BatchAugmentation``) teaches
either of them what the test will ask. The split is the course's fixed digits split; the moves of the
validation and test digits are drawn from ``seed``.

>>> data = moved_digits_data(canvas=16, max_shift=4, seed=0)
>>> data.X_train.shape[1:], data.X_test.shape[1:]
(torch.Size([1, 16, 16]), torch.Size([1, 16, 16]))
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import metrics, models, profiles
from ..data import augment, datasets, loaders
from ..device import pick_device, seed_everything
from ..training.trainer import Trainer
from ..validate import check_choice, check_int, check_number
from .digits import digits_split

MOVES = ("shift", "rotate")
MODELS = ("mlp", "cnn")

SETTINGS = {  # canvas, largest test shift, the models and the budget at each size
    "smoke": {"canvas": 16, "max_shift": 4, "num_epochs": 4, "mlp_width": 128, "cnn_width": 8, "batch_size": 64},
    "default": {"canvas": 16, "max_shift": 4, "num_epochs": 15, "mlp_width": 128, "cnn_width": 8, "batch_size": 64},
    "gpu": {"canvas": 32, "max_shift": 12, "num_epochs": 40, "mlp_width": 512, "cnn_width": 32, "batch_size": 128},
}


def settings(size: str = "default") -> dict:
    check_choice("size", size, profiles.SIZES)
    return dict(SETTINGS[size])


@dataclass
class MovedDigits:
    """Images ``(N, 1, canvas, canvas)``: ``X_train`` centred; ``X_valid``/``X_test`` moved, ``X_valid_centred`` not."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_valid_centred: torch.Tensor
    X_valid: torch.Tensor
    y_valid: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    move: str
    max_shift: int


def place(images: torch.Tensor, canvas: int, shifts: torch.Tensor | None = None) -> torch.Tensor:
    """Put 8x8 images ``(N, 1, 8, 8)`` on a blank ``canvas``, centred and moved by integer ``shifts (N, 2)`` (right, down)."""
    n, size = len(images), images.shape[-1]
    out = torch.zeros(n, 1, canvas, canvas, dtype=images.dtype)
    centre = (canvas - size) // 2
    shifts = torch.zeros(n, 2, dtype=torch.long) if shifts is None else shifts.long()
    if (centre + shifts.min() < 0) or (centre + shifts.max() + size > canvas):
        raise ValueError(f"shifts must keep the digit on the canvas: |shift| <= {centre} at canvas={canvas}")
    for i in range(n):  # 360 digits at most: a loop is clearer than a scatter
        x, y = centre + int(shifts[i, 0]), centre + int(shifts[i, 1])
        out[i, :, y:y + size, x:x + size] = images[i]
    return out


def moved_digits_data(canvas: int = 16, max_shift: int = 4, move: str = "shift", seed: int = 0,
                      max_angle: float = 30.0) -> MovedDigits:
    """The digits on a ``canvas``: training digits centred; validation and test digits moved.

    ``move="shift"``: each moved digit is shifted by whole pixels, uniform in ``[-max_shift, max_shift]`` on each
    axis. ``move="rotate"``: each is rotated (bilinear) by an angle uniform in ``[-max_angle, max_angle]`` degrees.
    """
    check_int("canvas", canvas, 8)
    check_int("max_shift", max_shift, 0)
    check_choice("move", move, MOVES)
    check_int("seed", seed, 0)
    check_number("max_angle", max_angle, 0, 180)
    if max_shift > (canvas - 8) // 2:
        raise ValueError(f"max_shift must be <= (canvas - 8) // 2 = {(canvas - 8) // 2} so that moved digits stay whole, got {max_shift}")
    split = digits_split()
    images = {name: getattr(split, f"X_{name}").view(-1, 1, 8, 8) for name in ("train", "valid", "test")}
    generator = torch.Generator().manual_seed(seed)

    def moved(x):
        if move == "shift":
            return place(x, canvas, torch.randint(-max_shift, max_shift + 1, (len(x), 2), generator=generator))
        angles = (torch.rand(len(x), generator=generator) * 2 - 1) * max_angle
        zeros = torch.zeros(len(x))
        return augment.affine(place(x, canvas), angles, torch.zeros(len(x), 2), zeros + 1, zeros.bool())

    return MovedDigits(place(images["train"], canvas), split.y_train, place(images["valid"], canvas), moved(images["valid"]),
                       split.y_valid, moved(images["test"]), split.y_test, move, max_shift)


def make_model(kind: str, canvas: int, width: int | None = None, size: str = "default") -> nn.Module:
    """``"mlp"``: flatten, two hidden layers; ``"cnn"``: the course's ``SmallCNN`` (pools over positions)."""
    check_choice("kind", kind, MODELS)
    conf = settings(size)
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), models.MLP(canvas * canvas, 10, width=width or conf["mlp_width"], depth=2))
    return models.SmallCNN(1, 10, width=width or conf["cnn_width"])


def train_moved_digits(model: str = "cnn", lr: float = 3e-3, num_epochs: int | None = None, *, augment_shift: int = 0,
                       seed: int = 0, size: str = "default", move: str = "shift", data: MovedDigits | None = None,
                       optimizer: str = "adamw", weight_decay: float = 0.0, device=None, **trainer_options) -> Trainer:
    """Train an MLP or a CNN on the centred digits; validation is on *moved* digits. Returns the trainer.

    ``augment_shift``: random shifts of up to this many pixels of every training batch (``0``: none). Score the
    test digits with :func:`test_accuracy`. ``optimizer`` is "adamw" or "momentum" (SGD, momentum 0.9).
    """
    conf = settings(size)
    check_choice("optimizer", optimizer, ("adamw", "momentum"))
    check_int("augment_shift", augment_shift, 0)
    check_number("lr", lr, 0, include_low=False)
    num_epochs = check_int("num_epochs", conf["num_epochs"] if num_epochs is None else num_epochs, 1)
    data = data if data is not None else _cached_data(size, move, seed)
    canvas = data.X_train.shape[-1]
    if augment_shift > (canvas - 8) // 2:
        raise ValueError(f"augment_shift must be <= {(canvas - 8) // 2} at canvas={canvas}, got {augment_shift}")
    device = pick_device(device.type if isinstance(device, torch.device) else device)
    seed_everything(seed)
    net = make_model(model, canvas, size=size)
    opt = (torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay) if optimizer == "adamw"
           else torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay))
    callbacks = list(trainer_options.pop("callbacks", []))
    if augment_shift:  # whole-canvas fraction for random_affine: shifts up to augment_shift pixels, no turn, no zoom
        callbacks.append(augment.BatchAugmentation(augment.random_affine, seed=seed, degrees=0.0,
                                                   translate=augment_shift / canvas, scale=(1.0, 1.0)))
    options = {"metrics": {"accuracy": metrics.accuracy}, "progress": False, **trainer_options}
    trainer = Trainer(net, opt, device=device, callbacks=callbacks, **options)
    train = loaders.DeviceLoader(data.X_train, data.y_train, batch_size=conf["batch_size"], seed=seed, device=trainer.device)
    valid = loaders.DeviceLoader(data.X_valid, data.y_valid, batch_size=1024, shuffle=False, device=trainer.device)
    trainer.fit(train, valid, num_epochs=num_epochs)
    return trainer


def test_accuracy(trainer: Trainer, data: MovedDigits, centred: bool = False) -> float:
    """Accuracy on the moved test digits (``centred=True``: on the centred validation digits instead)."""
    X, y = (data.X_valid_centred, data.y_valid) if centred else (data.X_test, data.y_test)
    return trainer.evaluate(loaders.DeviceLoader(X, y, batch_size=1024, shuffle=False, device=trainer.device))["accuracy"]


test_accuracy.__test__ = False  # not a pytest test

_DATA: dict = {}


def _cached_data(size: str, move: str, seed: int) -> MovedDigits:
    conf = settings(size)
    key = (conf["canvas"], conf["max_shift"], move, seed)
    if key not in _DATA:
        _DATA[key] = moved_digits_data(conf["canvas"], conf["max_shift"], move, seed)
    return _DATA[key]
