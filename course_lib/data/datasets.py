"""Data that needs no network: generated sets with a known truth, scikit-learn's digits, real photos.

Every generator takes a ``seed`` and returns float32 inputs and int64 class labels (or float32
targets for regression), so the same call always gives the same tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..validate import check_choice, check_int, check_number


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(check_int("seed", seed, 0))


def _check_positive_int(name: str, value) -> None:
    check_int(name, value, 1)


def _check_noise(noise) -> None:
    check_number("noise", noise, 0)


def make_spirals(n_samples: int = 1000, noise: float = 0.2, turns: float = 1.5, seed: int = 0):
    """Two interleaved spirals in 2-D: X (N, 2) float32, y (N,) int64 in {0, 1}.

    Not separable by a line, so a model needs hidden units and a reasonable learning rate.
    """
    _check_positive_int("n_samples", n_samples)
    _check_noise(noise)
    check_number("turns", turns, 0, include_low=False)  # 0 turns would divide by zero: all-NaN inputs
    g = _generator(seed)
    y = torch.arange(n_samples) % 2
    t = torch.rand(n_samples, generator=g).sqrt() * turns * 2 * math.pi  # radius grows with angle
    angle = t + math.pi * y
    X = torch.stack([t * torch.cos(angle), t * torch.sin(angle)], dim=1) / (turns * 2 * math.pi)
    X = X * 2 + noise * torch.randn(n_samples, 2, generator=g) / 2
    return X.float(), y.long()


def make_moons(n_samples: int = 1000, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles: X (N, 2) float32, y (N,) int64 in {0, 1}."""
    _check_positive_int("n_samples", n_samples)
    _check_noise(noise)
    g = _generator(seed)
    y = torch.arange(n_samples) % 2
    t = torch.rand(n_samples, generator=g) * math.pi
    upper = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)
    X = torch.where(y[:, None] == 0, upper, lower) + noise * torch.randn(n_samples, 2, generator=g)
    return X.float(), y.long()


def make_poly_regression(n_samples: int = 30, degree: int = 3, noise: float = 0.1, seed: int = 0):
    """Noisy samples of a fixed polynomial on [-1, 1]: x (N, 1), y (N, 1), and the true function.

    The truth is known, so a notebook can show a fit that follows the noise instead of the curve.
    """
    _check_positive_int("n_samples", n_samples)
    _check_positive_int("degree", degree)
    _check_noise(noise)
    g = _generator(seed)
    coefficients = torch.randn(degree + 1, generator=g)

    def truth(x: torch.Tensor) -> torch.Tensor:
        return sum(c * x**k for k, c in enumerate(coefficients))

    x = torch.rand(n_samples, 1, generator=g) * 2 - 1
    y = truth(x) + noise * torch.randn(n_samples, 1, generator=g)
    return x.float(), y.float(), truth


@dataclass
class DataSplit:
    """Train, validation and test tensors; ``test`` is for the final score only."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_valid: torch.Tensor
    y_valid: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def num_features(self) -> int:
        return self.X_train[0].numel()

    @property
    def num_classes(self) -> int:
        return int(torch.cat([self.y_train, self.y_valid, self.y_test]).max()) + 1


def split_tensors(X, y, valid_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0) -> DataSplit:
    """Shuffle once with ``seed`` and cut into train / validation / test."""
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        check_number(name, value, 0, 1, include_high=False)
    if valid_fraction + test_fraction >= 1:
        raise ValueError("valid_fraction + test_fraction must be < 1, leaving data to train on")
    order = torch.randperm(len(X), generator=_generator(seed))
    n_valid, n_test = int(len(X) * valid_fraction), int(len(X) * test_fraction)
    test, valid, train = order[:n_test], order[n_test : n_test + n_valid], order[n_test + n_valid :]
    return DataSplit(X[train], y[train], X[valid], y[valid], X[test], y[test])


def flip_labels(y: torch.Tensor, fraction: float, num_classes: int = 10, seed: int = 0) -> torch.Tensor:
    """A copy of ``y`` with ``round(fraction * len(y))`` labels, chosen at random, moved to another class.

    Label noise for the overfitting lessons. The new class is never the true one (an offset of 1 to
    ``num_classes - 1``), so exactly that share of the labels is wrong. Draw with a seed other than the
    loader's (notebook 05 uses ``1000 + SEED``), or the loader's first permutation, drawn from the same
    seed, puts exactly the flipped samples first.

    >>> flip_labels(torch.zeros(10, dtype=torch.long), 0.3, seed=0).ne(0).sum().item()
    3
    """
    check_number("fraction", fraction, 0, 1)
    check_int("num_classes", num_classes, 2)
    check_int("seed", seed)
    generator = _generator(seed)
    y = y.clone()
    chosen = torch.randperm(len(y), generator=generator)[: round(fraction * len(y))]
    offset = torch.randint(
        1, num_classes, (len(chosen),), generator=generator
    )  # 1..num_classes-1: never the true class
    y[chosen] = (y[chosen] + offset) % num_classes
    return y


def load_digits_split(images: bool = False, valid_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0):
    """scikit-learn's 1,797 handwritten digits (8x8, ten classes), scaled to [0, 1], split once.

    ``images=False`` gives X (N, 64) for an MLP; ``images=True`` gives X (N, 1, 8, 8) for a CNN.
    The same ``seed`` always gives the same split, so the test set stays unseen across notebooks.
    """
    from sklearn.datasets import load_digits

    check_choice("images", images, (True, False))
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        check_number(name, value, 0, 1, include_high=False)  # before the (slow) load
    digits = load_digits()
    X = torch.tensor(digits.images / 16.0, dtype=torch.float32)  # (N, 8, 8)
    X = X.unsqueeze(1) if images else X.flatten(1)
    y = torch.tensor(digits.target, dtype=torch.long)
    return split_tensors(X, y, valid_fraction, test_fraction, seed)


PHOTO_NAMES = ("astronaut", "coffee", "chelsea", "rocket", "china", "flower")


def load_photo(name: str = "chelsea") -> torch.Tensor:
    """A real RGB photograph shipped with scikit-image or scikit-learn, as uint8 (3, H, W)."""
    if name not in PHOTO_NAMES:
        raise ValueError(f"name must be one of {PHOTO_NAMES}, got {name!r}")
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        array = load_sample_image(f"{name}.jpg")
    else:
        import skimage.data

        array = getattr(skimage.data, name)()
    return torch.from_numpy(np.array(array)).permute(2, 0, 1).contiguous()
