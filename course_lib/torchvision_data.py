"""CIFAR-10 and Fashion-MNIST through torchvision, for learners online and on Colab.

Nothing here runs at import or without being asked: with ``download=True`` torchvision fetches the
files once into ``root``. The test suite writes small files in the same on-disk format and reads
them back with ``verify=False``, which skips only torchvision's checksum of the full-size CIFAR files.
"""
from __future__ import annotations

import torch


def _cifar_class(verify: bool):
    from torchvision.datasets import CIFAR10

    if verify:
        return CIFAR10

    class UnverifiedCIFAR10(CIFAR10):  # a checksum of None makes torchvision check only that each file exists
        train_list = [[name, None] for name, _ in CIFAR10.train_list]
        test_list = [[name, None] for name, _ in CIFAR10.test_list]
        meta = {**CIFAR10.meta, "md5": None}

    return UnverifiedCIFAR10


def cifar10(root="data", train: bool = True, download: bool = False, transform=None, verify: bool = True):
    """The CIFAR-10 ``train`` or test split: 32x32 colour images of ten classes."""
    if not isinstance(train, bool):
        raise ValueError(f"train must be True or False, got {train!r}")
    return _cifar_class(verify)(str(root), train=train, download=download, transform=transform)


def fashion_mnist(root="data", train: bool = True, download: bool = False, transform=None):
    """The Fashion-MNIST ``train`` or test split: 28x28 grey images of ten kinds of clothing."""
    from torchvision.datasets import FashionMNIST

    if not isinstance(train, bool):
        raise ValueError(f"train must be True or False, got {train!r}")
    return FashionMNIST(str(root), train=train, download=download, transform=transform)


def as_tensors(dataset, limit: int | None = None):
    """All images as float (N, C, H, W) in [0, 1] and labels as int64, ready for a ``DeviceLoader``.

    Reads the dataset's arrays directly instead of going sample by sample through transforms.
    """
    if limit is not None and (not isinstance(limit, int) or limit <= 0):
        raise ValueError(f"limit must be None or a positive int, got {limit!r}")
    data = torch.as_tensor(dataset.data[:limit])
    images = data.permute(0, 3, 1, 2) if data.dim() == 4 else data.unsqueeze(1)  # CIFAR is NHWC, MNIST NHW
    labels = torch.as_tensor(dataset.targets[:limit], dtype=torch.long)
    return images.float().div(255).contiguous(), labels
