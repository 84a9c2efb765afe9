"""CIFAR-10 and Fashion-MNIST through torchvision, for learners online and on Colab.

Nothing here runs at import or without being asked: with ``download=True`` torchvision fetches the
files once into ``root``. The test suite writes small files in the same on-disk format and reads
them back with ``verify=False``, which skips torchvision's checksum of the full-size CIFAR files.
CIFAR's batches are Python pickles, and unpickling can run code; so a file whose checksum was not
verified is read with an unpickler that admits only what a batch holds (dicts, lists, strings,
numbers and numpy arrays of bytes), never with ``pickle.load``.
"""
from __future__ import annotations

import os
import pickle

import numpy as np
import torch

from ..validate import check_choice

# the only globals a CIFAR batch refers to: numpy arrays and dtypes, and bytes written by Python 3
_PLAIN_GLOBALS = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                  ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
                  ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _PLAIN_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused {module}.{name}: a CIFAR batch holds only arrays, lists, strings and numbers")


def _read_plain(path: str) -> dict:
    """One CIFAR file, unpickled without running anything it might hold."""
    with open(path, "rb") as file:
        try:
            batch = _PlainUnpickler(file, encoding="latin1").load()
        except Exception as error:
            raise ValueError(f"{path} is not a CIFAR-10 batch ({error})") from None
    arrays = [v for v in batch.values() if isinstance(v, np.ndarray)] if isinstance(batch, dict) else [None]
    if any(a is None or a.dtype != np.uint8 for a in arrays):
        raise ValueError(f"{path} is not a CIFAR-10 batch (expected a dict with uint8 pixel arrays)")
    return batch


def _cifar_class(verify: bool):
    from torchvision.datasets import CIFAR10, VisionDataset

    if verify:
        return CIFAR10

    class UnverifiedCIFAR10(CIFAR10):
        """CIFAR10 from files whose checksums are not checked, read with :class:`_PlainUnpickler`."""

        def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
            if download:
                raise ValueError("download=True needs verify=True: a downloaded file is checked against its checksum")
            VisionDataset.__init__(self, root, transform=transform, target_transform=target_transform)
            self.train, folder = train, os.path.join(self.root, self.base_folder)
            batches = [_read_plain(os.path.join(folder, name)) for name, _ in (self.train_list if train else self.test_list)]
            self.data = np.vstack([batch["data"] for batch in batches]).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))
            self.targets = [label for batch in batches for label in batch["labels"]]
            self.classes = _read_plain(os.path.join(folder, self.meta["filename"]))[self.meta["key"]]
            self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    return UnverifiedCIFAR10


def cifar10(root="data", train: bool = True, download: bool = False, transform=None, verify: bool = True):
    """The CIFAR-10 ``train`` or test split: 32x32 colour images of ten classes."""
    check_choice("train", train, (True, False))
    check_choice("verify", verify, (True, False))
    return _cifar_class(verify)(str(root), train=train, download=download, transform=transform)


def fashion_mnist(root="data", train: bool = True, download: bool = False, transform=None):
    """The Fashion-MNIST ``train`` or test split: 28x28 grey images of ten kinds of clothing."""
    from torchvision.datasets import FashionMNIST

    check_choice("train", train, (True, False))
    try:
        return FashionMNIST(str(root), train=train, download=download, transform=transform)
    except (AssertionError, ValueError, IndexError, RuntimeError) as error:
        if "not found" in str(error):  # torchvision's own message for missing files is clear
            raise
        raise ValueError(f"the Fashion-MNIST files under {os.path.join(str(root), 'FashionMNIST', 'raw')} are not "
                         f"readable idx files ({type(error).__name__}: {error}); delete them and download again") from None


def as_tensors(dataset, limit: int | None = None):
    """All images as float (N, C, H, W) in [0, 1] and labels as int64, ready for a ``DeviceLoader``.

    Reads the dataset's arrays directly instead of going sample by sample through transforms.
    """
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0):
        raise ValueError(f"limit must be None or a positive int, got {limit!r}")
    data = torch.as_tensor(dataset.data[:limit])
    images = data.permute(0, 3, 1, 2) if data.dim() == 4 else data.unsqueeze(1)  # CIFAR is NHWC, MNIST NHW
    labels = torch.as_tensor(dataset.targets[:limit], dtype=torch.long)
    return images.float().div(255).contiguous(), labels
