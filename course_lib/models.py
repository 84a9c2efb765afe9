"""The models the course trains: an MLP with every knob a lesson turns, and a small CNN."""

from __future__ import annotations

import math

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

    def __init__(
        self,
        in_features: int,
        out_features: int,
        width: int = 64,
        depth: int = 2,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ):
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
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
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


@torch.no_grad()
def dead_units(model: nn.Module, X: torch.Tensor) -> list[float]:
    """Per ReLU of an ``nn.Sequential`` (an :class:`MLP`), the share of its units that output 0 for every row of ``X``.

    A unit dead on all the data gets no gradient and never comes back: what a too-large first step
    does to a ReLU network (notebooks 02a and 02b count them). Evaluated in eval mode; the mode is restored.

    >>> net = nn.Sequential(nn.Linear(2, 4), nn.ReLU())
    >>> with torch.no_grad():
    ...     _ = net[0].weight.zero_(), net[0].bias.copy_(torch.tensor([-1.0, 1.0, 1.0, 1.0]))
    >>> dead_units(net, torch.randn(8, 2))
    [0.25]
    """
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"model must be an nn.Sequential (such as models.MLP), got {type(model).__name__}")
    was_training, shares = model.training, []
    model.eval()
    h = X.to(next(model.parameters()).device)
    for layer in model:
        h = layer(h)
        if isinstance(layer, nn.ReLU):
            shares.append((h.amax(dim=0) <= 0).float().mean().item())
    model.train(was_training)
    return shares


@torch.no_grad()
def nudge_(model: nn.Module, ulps: int = 1) -> nn.Module:
    """Move every parameter by ``ulps`` units in its last place (toward +inf), in place; returns ``model``.

    The smallest change float32 can make to a weight: about what another CPU's rounding changes after
    one step. Training the nudged model beside the plain one shows where training is chaotic (a gap
    that grows from 1e-9 to the size of the loss) and where it is not (notebooks 01b and 02a).
    """
    check_int("ulps", ulps, 1)
    for parameter in model.parameters():
        for _ in range(ulps):
            parameter.copy_(torch.nextafter(parameter, torch.full_like(parameter, math.inf)))
    return model
