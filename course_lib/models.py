"""The models the course trains: an MLP with every knob a lesson turns, and a small CNN."""
from __future__ import annotations

import torch
from torch import nn

from .validate import check_int, check_number

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "identity": nn.Identity}


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


def _check_dropout(dropout) -> None:
    check_number("dropout", dropout, 0, 1, include_high=False)


class MLP(nn.Sequential):
    """``depth`` hidden layers of ``width`` units: Linear -> [BatchNorm] -> activation -> [Dropout].

    >>> MLP(2, 2, width=16, depth=2)(torch.zeros(5, 2)).shape
    torch.Size([5, 2])
    """

    def __init__(self, in_features: int, out_features: int, width: int = 64, depth: int = 2,
                 activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False):
        check_int("in_features", in_features, 1)
        check_int("out_features", out_features, 1)
        check_int("width", width, 1)
        check_int("depth", depth, 0)
        _check_dropout(dropout)
        layers: list[nn.Module] = []
        size = in_features
        for _ in range(depth):
            layers.append(nn.Linear(size, width))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            size = width
        layers.append(nn.Linear(size, out_features))
        super().__init__(*layers)


class SmallCNN(nn.Module):
    """Two conv blocks and a linear head; works on any image size (8x8 digits, 32x32 CIFAR)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 16, dropout: float = 0.0):
        super().__init__()
        check_int("in_channels", in_channels, 1)
        check_int("num_classes", num_classes, 1)
        check_int("width", width, 1)
        _check_dropout(dropout)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),  # any input size -> (B, 2*width, 1, 1)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"SmallCNN expects images of shape (B, C, H, W), got shape {tuple(x.shape)}")
        return self.head(self.features(x))


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """How many numbers the optimizer adjusts: the model's capacity in one figure."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
