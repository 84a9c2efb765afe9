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

from ..validate import check_choice, check_int

# the only globals a CIFAR batch refers to: numpy arrays and dtypes, and bytes written by Python 3
_PLAIN_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _PLAIN_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refused {module}.{name}: a CIFAR batch holds only arrays, lists, strings and numbers"
        )


def _read_plain(path: str) -> dict:
    """One CIFAR file, unpickled without running anything it might hold."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} is missing: a CIFAR-10 folder holds data_batch_1 to data_batch_5, "
            "test_batch and batches.meta (download=True fetches them)"
        )
    with open(path, "rb") as file:
        try:
            batch = _PlainUnpickler(file, encoding="latin1").load()
        except Exception as error:
            raise ValueError(f"{path} is not a CIFAR-10 batch ({error})") from None
    if not isinstance(batch, dict):
        raise ValueError(f"{path} is not a CIFAR-10 batch: expected a dict, got a {type(batch).__name__}")
    return batch


def _read_batch(path: str) -> tuple[np.ndarray, list[int]]:
    """A batch's images, uint8 (N, 3072) (each a 3x32x32 image, channels first), and their N labels in 0-9.

    Checked here because nothing later can tell: 5 labels for 6 images load, and every label after a missing
    one sits beside the wrong image.
    """
    batch = _read_plain(path)
    data, labels = _entry(path, batch, "data"), _entry(path, batch, "labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        raise ValueError(
            f"{path}: 'data' must be a uint8 array of shape (N, 3072), got "
            f"{f'dtype {data.dtype}' if isinstance(data, np.ndarray) else type(data).__name__}"
        )
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: 'data' must have shape (N, 3072) (N images of 3x32x32 bytes), got {data.shape}")
    if len(data) == 0:
        raise ValueError(f"{path} holds no images")
    values = np.asarray(labels) if isinstance(labels, list) else None
    if values is None or values.shape != (len(labels),):
        raise ValueError(
            f"{path}: 'labels' must be a list of {len(data)} ints, got a {type(labels).__name__} "
            f"of shape {np.shape(labels)}"
        )
    if len(values) != len(data):
        raise ValueError(
            f"{path} holds {len(data)} images but {len(values)} labels: images and labels would be paired wrongly"
        )
    if values.dtype.kind not in "iu":  # float, bool, str and mixed lists are not class indices
        raise ValueError(f"{path}: labels must be ints in 0-9, got {labels[:5]!r}{'...' if len(labels) > 5 else ''}")
    wrong = np.flatnonzero((values < 0) | (values > 9))
    if len(wrong):
        raise ValueError(f"{path}: labels must be ints in 0-9, got {int(values[wrong[0]])} at index {int(wrong[0])}")
    return data, values.tolist()


def _read_classes(path: str, key: str) -> list[str]:
    """The ten class names of ``batches.meta``."""
    names = _entry(path, _read_plain(path), key)
    if not isinstance(names, list) or len(names) != 10 or not all(isinstance(name, str) for name in names):
        raise ValueError(f"{path}: {key!r} must be a list of 10 class names (strings), got {names!r}")
    return names


def _entry(path: str, batch: dict, key: str):
    if key not in batch:
        raise ValueError(f"{path} is not a CIFAR-10 file: it has no {key!r} (its keys: {sorted(map(str, batch))})")
    return batch[key]


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
            names = [name for name, _ in (self.train_list if train else self.test_list)]
            batches = [_read_batch(os.path.join(folder, name)) for name in names]
            self.data = np.vstack([data for data, _ in batches]).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))  # NHWC
            self.targets = [label for _, labels in batches for label in labels]
            self.classes = _read_classes(os.path.join(folder, self.meta["filename"]), self.meta["key"])
            self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    return UnverifiedCIFAR10


def cifar10(root="data", train: bool = True, download: bool = False, transform=None, verify: bool = True):
    """The CIFAR-10 ``train`` or test split: 32x32 colour images of ten classes."""
    check_choice("train", train, (True, False))
    check_choice("verify", verify, (True, False))
    return _cifar_class(verify)(str(root), train=train, download=download, transform=transform)


def fashion_mnist(root="data", train: bool = True, download: bool = False, transform=None):
    """The Fashion-MNIST ``train`` or test split: 28x28 grey images of ten kinds of clothing.

    torchvision reads each idx file's own count, so an images file and a labels file that disagree (5 images,
    4 labels) would load with images and labels paired wrongly; such files, and every other break of the format,
    are refused with the file named.
    """
    from torchvision.datasets import FashionMNIST

    check_choice("train", train, (True, False))
    check_choice("download", download, (True, False))
    raw = os.path.join(str(root), "FashionMNIST", "raw")
    images, labels = (os.path.join(raw, f"{'train' if train else 't10k'}-{kind}") for kind in IDX_FILES)
    try:
        dataset = FashionMNIST(str(root), train=train, download=download, transform=transform)
    except (RuntimeError, AssertionError, ValueError, IndexError, TypeError) as error:
        if "not found" in str(error):  # torchvision's own message for missing files is clear; .gz files alone are not
            packed = [
                f"{path}.gz" for path in (images, labels) if not os.path.exists(path) and os.path.exists(f"{path}.gz")
            ]
            if packed:
                raise FileNotFoundError(
                    f"found {packed[0]} but not the unpacked file torchvision reads: unpack it "
                    "(gunzip), or pass download=True, which checks the archives and unpacks "
                    "them"
                ) from None
            raise
        for path, kind in zip((images, labels), IDX_FILES):
            _check_idx(path, kind)  # says what is wrong with which file
        raise ValueError(
            f"the Fashion-MNIST files under {raw} are not readable idx files ({type(error).__name__}: "
            f"{error}); delete them and download again"
        ) from None
    for path, kind in zip((images, labels), IDX_FILES):
        if os.path.exists(path):  # torchvision also reads an old processed/ copy when there is one
            _check_idx(path, kind)
    num_images, num_labels = len(dataset.data), len(dataset.targets)
    if num_images != num_labels:
        raise ValueError(
            f"{images} holds {num_images} images but {labels} holds {num_labels} labels: images and "
            "labels would be paired wrongly"
        )
    wrong = torch.nonzero(dataset.targets > 9).flatten()  # uint8 on disk: never below 0
    if len(wrong):
        raise ValueError(
            f"{labels}: labels must be in 0-9, got {int(dataset.targets[wrong[0]])} at index {int(wrong[0])}"
        )
    return dataset


# the idx files of a split, each with its magic number's dimension count and the shape of one item
IDX_FILES = {"images-idx3-ubyte": (3, (28, 28)), "labels-idx1-ubyte": (1, ())}


def _check_idx(path: str, kind: str) -> None:
    """Check one idx file against the format (LeCun's MNIST page): magic number 0x000008D (unsigned bytes,
    D dimensions), D big-endian 4-byte sizes, then exactly as many bytes as the sizes say."""
    dims, item_shape = IDX_FILES[kind]
    with open(path, "rb") as file:
        header = file.read(4 + 4 * dims)
    if header[:2] == b"\x1f\x8b":
        raise ValueError(
            f"{path} is gzip-compressed: torchvision reads the unpacked idx file (gunzip it, or delete it "
            "and pass download=True)"
        )
    if len(header) < 4 or header[:3] != b"\0\0\x08" or header[3] != dims:
        raise ValueError(
            f"{path} is not an idx file of unsigned bytes with {dims} dimension{'s' if dims > 1 else ''}: "
            f"magic number {header[:4].hex():0<8}, expected 0000080{dims}"
        )
    if len(header) < 4 + 4 * dims:
        raise ValueError(f"{path} ends inside its header ({len(header)} bytes)")
    shape = tuple(int.from_bytes(header[4 * i : 4 * i + 4], "big") for i in range(1, dims + 1))
    if shape[1:] != item_shape:
        raise ValueError(f"{path}: Fashion-MNIST images are 28x28, the header says {shape}")
    size, expected = os.path.getsize(path), len(header) + int(np.prod(shape))
    if size != expected:
        raise ValueError(
            f"{path} has {size} bytes but its header (shape {shape}) says {expected}: the file is "
            "truncated or has extra bytes"
        )


def as_tensors(dataset, limit: int | None = None):
    """All images as float (N, C, H, W) in [0, 1] and labels as int64, ready for a ``DeviceLoader``.

    Reads the dataset's arrays directly instead of going sample by sample through transforms.
    """
    if limit is not None:
        check_int("limit", limit, minimum=1)
    data = torch.as_tensor(dataset.data[:limit])
    images = data.permute(0, 3, 1, 2) if data.dim() == 4 else data.unsqueeze(1)  # CIFAR is NHWC, MNIST NHW
    labels = torch.as_tensor(dataset.targets[:limit], dtype=torch.long)
    return images.float().div(255).contiguous(), labels
