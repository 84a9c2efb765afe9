"""CIFAR-10 and Fashion-MNIST from small files in the real on-disk formats, and every way such a file can break.

A malformed file must fail with an error that names it: one that loads with 5 labels for 6 images pairs every later
label with the wrong image, and nothing downstream can tell.
"""

import gzip
import pickle

import numpy as np
import pytest
import torch

from course_lib.data import torchvision_data

CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _write_cifar(root, n=20):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in CIFAR_BATCHES:
        batch = {
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            "labels": rng.integers(0, 10, n).tolist(),
            "batch_label": name,
            "filenames": [f"{name}_{i}.png" for i in range(n)],
        }
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(
        pickle.dumps({"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": n, "num_vis": 3072})
    )
    return folder


def _idx_bytes(array, type_code=0x08):
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_idx(path, array):
    path.write_bytes(_idx_bytes(array))


def _write_fashion_mnist(root, sizes=(("train", 12), ("t10k", 6))):
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in sizes:
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))
    return raw


def test_cifar10_reads_the_real_on_disk_format(tmp_path):
    _write_cifar(tmp_path)
    train = torchvision_data.cifar10(tmp_path, train=True, verify=False)
    test = torchvision_data.cifar10(tmp_path, train=False, verify=False)
    assert len(train) == 100 and len(test) == 20 and train.classes[0] == "class0"
    X, y = torchvision_data.as_tensors(train, limit=30)
    assert X.shape == (30, 3, 32, 32) and 0 <= float(X.min()) and float(X.max()) <= 1 and y.dtype == torch.long
    with pytest.raises(RuntimeError):  # the checksums of the real files do not match these small ones
        torchvision_data.cifar10(tmp_path, train=True, verify=True)


def test_fashion_mnist_reads_the_real_on_disk_format(tmp_path):
    _write_fashion_mnist(tmp_path)
    train = torchvision_data.fashion_mnist(tmp_path, train=True)
    assert len(train) == 12 and len(torchvision_data.fashion_mnist(tmp_path, train=False)) == 6
    X, y = torchvision_data.as_tensors(train)
    assert X.shape == (12, 1, 28, 28) and y.shape == (12,)
    with pytest.raises(ValueError, match="train must be"):
        torchvision_data.fashion_mnist(tmp_path, train="yes")
    with pytest.raises(ValueError, match="download must be"):
        torchvision_data.fashion_mnist(tmp_path, download="no")


@pytest.mark.parametrize("limit", [0, -1, 2.5, True, "10"])
def test_as_tensors_names_a_bad_limit(tmp_path, limit):
    _write_fashion_mnist(tmp_path)
    with pytest.raises(ValueError, match="limit must be"):
        torchvision_data.as_tensors(torchvision_data.fashion_mnist(tmp_path), limit=limit)


class _Planted:
    """A pickle that creates a file when it is unpickled: what a planted CIFAR batch could do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_an_unverified_cifar_file_is_never_unpickled_as_code(tmp_path):
    """verify=False reads the batches with an unpickler that admits only plain data."""
    _write_cifar(tmp_path)
    marker = tmp_path / "ran"
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(pickle.dumps({"data": _Planted(str(marker))}))
    with pytest.raises(ValueError, match="data_batch_1 is not a CIFAR-10 batch"):
        torchvision_data.cifar10(tmp_path, train=True, verify=False)
    assert not marker.exists()
    with pytest.raises(ValueError, match="download=True needs verify=True"):
        torchvision_data.cifar10(tmp_path, download=True, verify=False)


def _images(n):
    return np.random.default_rng(1).integers(0, 256, (n, 3072), dtype=np.uint8)


# Each way a CIFAR-10 batch can break its format; before the checks the first one loaded silently,
# 5 labels for 6 images, every later label beside the wrong image
CIFAR_BATCH_FAULTS = {
    "fewer labels than images": ({"data": _images(6), "labels": [1, 2, 3, 4, 5]}, "6 images but 5 labels"),
    "more labels than images": ({"data": _images(4), "labels": [1, 2, 3, 4, 5]}, "4 images but 5 labels"),
    "a label of 10": ({"data": _images(3), "labels": [1, 10, 3]}, r"labels must be ints in 0-9.*10 at index 1"),
    "a negative label": ({"data": _images(3), "labels": [1, 2, -1]}, r"labels must be ints in 0-9.*-1 at index 2"),
    "float labels": ({"data": _images(2), "labels": [1.0, 2.0]}, "labels must be ints"),
    "string labels": ({"data": _images(2), "labels": ["cat", "dog"]}, "labels must be ints"),
    "bool labels": ({"data": _images(2), "labels": [True, False]}, "labels must be ints"),
    "labels as an array of images": ({"data": _images(2), "labels": _images(2)}, "'labels' must be a list of 2 ints"),
    "no labels": ({"data": _images(2)}, "has no 'labels'"),
    "no data": ({"labels": [1, 2]}, "has no 'data'"),
    "rows of the wrong length": ({"data": _images(2)[:, :3000], "labels": [1, 2]}, r"shape \(N, 3072\).*\(2, 3000\)"),
    "images already reshaped": ({"data": _images(2).reshape(2, 3, 32, 32), "labels": [1, 2]}, r"\(2, 3, 32, 32\)"),
    "no images": ({"data": _images(0), "labels": []}, "holds no images"),
    "pixels as int64": ({"data": _images(2).astype(np.int64), "labels": [1, 2]}, "uint8"),
    "pixels as a list": ({"data": _images(2).tolist(), "labels": [1, 2]}, "uint8 array"),
    "a list, not a dict": ([1, 2, 3], "expected a dict"),
}


@pytest.mark.parametrize("fault", CIFAR_BATCH_FAULTS)
@pytest.mark.parametrize("name, train", [("data_batch_3", True), ("test_batch", False)])
def test_a_malformed_cifar_batch_is_refused_and_named(tmp_path, fault, name, train):
    batch, match = CIFAR_BATCH_FAULTS[fault]
    folder = _write_cifar(tmp_path)
    (folder / name).write_bytes(pickle.dumps(batch))
    with pytest.raises(ValueError, match=match) as error:
        torchvision_data.cifar10(tmp_path, train=train, verify=False)
    assert str(folder / name) in str(error.value)


CIFAR_META_FAULTS = {
    "nine class names": ({"label_names": [f"c{i}" for i in range(9)]}, "10 class names"),
    "names that are not strings": ({"label_names": list(range(10))}, "10 class names"),
    "no label_names": ({"names": [f"c{i}" for i in range(10)]}, "has no 'label_names'"),
    "a list, not a dict": ([f"c{i}" for i in range(10)], "expected a dict"),
}


@pytest.mark.parametrize("fault", CIFAR_META_FAULTS)
def test_a_malformed_cifar_meta_file_is_refused_and_named(tmp_path, fault):
    meta, match = CIFAR_META_FAULTS[fault]
    folder = _write_cifar(tmp_path)
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    with pytest.raises(ValueError, match=match) as error:
        torchvision_data.cifar10(tmp_path, train=False, verify=False)
    assert str(folder / "batches.meta") in str(error.value)


def test_a_missing_cifar_batch_is_named(tmp_path):
    folder = _write_cifar(tmp_path)
    (folder / "data_batch_5").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_5"):
        torchvision_data.cifar10(tmp_path, train=True, verify=False)


def _rng_bytes(n):
    return np.random.default_rng(2).integers(0, 256, n, dtype=np.uint8)


# Each way a Fashion-MNIST idx file can break its format; before the checks the first one loaded
# silently, 5 images and 4 labels (torchvision reads each file's own count), and an image size other than 28x28 too
IDX_FAULTS = {  # fault: (images file, labels file, the file the error must name, what it must say)
    "5 images, 4 labels": (
        _idx_bytes(_rng_bytes(5 * 784).reshape(5, 28, 28)),
        _idx_bytes(np.arange(4)),
        "both",
        "5 images but .* 4 labels",
    ),
    "4 images, 5 labels": (
        _idx_bytes(_rng_bytes(4 * 784).reshape(4, 28, 28)),
        _idx_bytes(np.arange(5)),
        "both",
        "4 images but .* 5 labels",
    ),
    "a label of 10": (
        _idx_bytes(_rng_bytes(3 * 784).reshape(3, 28, 28)),
        _idx_bytes(np.array([1, 10, 2])),
        "labels",
        r"labels must be in 0-9.*10 at index 1",
    ),
    "images of 14x56": (
        _idx_bytes(_rng_bytes(3 * 784).reshape(3, 14, 56)),
        _idx_bytes(np.arange(3)),
        "images",
        r"28x28.*\(3, 14, 56\)",
    ),
    "a truncated images file": (
        _idx_bytes(_rng_bytes(3 * 784).reshape(3, 28, 28))[:-100],
        _idx_bytes(np.arange(3)),
        "images",
        "truncated or has extra bytes",
    ),
    "extra bytes after the labels": (
        _idx_bytes(_rng_bytes(3 * 784).reshape(3, 28, 28)),
        _idx_bytes(np.arange(3)) + b"\0\0",
        "labels",
        "truncated or has extra bytes",
    ),
    "the labels' magic number on the images": (
        _idx_bytes(_rng_bytes(3 * 784)),
        _idx_bytes(np.arange(3)),
        "images",
        "magic number 00000801, expected 00000803",
    ),
    "images stored as floats": (
        _idx_bytes(_rng_bytes(3 * 784).reshape(3, 28, 28), type_code=0x0D),
        _idx_bytes(np.arange(3)),
        "images",
        "magic number 00000d03, expected 00000803",
    ),
    "labels with two dimensions": (
        _idx_bytes(_rng_bytes(3 * 784).reshape(3, 28, 28)),
        _idx_bytes(np.arange(6).reshape(3, 2)),
        "labels",
        "magic number 00000802",
    ),
    "random bytes": (_rng_bytes(3000).tobytes(), _idx_bytes(np.arange(3)), "images", "magic number"),
    "a header cut short": (b"\0\0\x08\x03\0\0", _idx_bytes(np.arange(3)), "images", "header"),
    "gzip under the unpacked name": (
        gzip.compress(_idx_bytes(_rng_bytes(3 * 784).reshape(3, 28, 28))),
        _idx_bytes(np.arange(3)),
        "images",
        "gzip-compressed",
    ),
}


@pytest.mark.parametrize("fault", IDX_FAULTS)
@pytest.mark.parametrize("prefix, train", [("train", True), ("t10k", False)])
def test_a_malformed_fashion_mnist_file_is_refused_and_named(tmp_path, fault, prefix, train):
    images, labels, named, match = IDX_FAULTS[fault]
    raw = _write_fashion_mnist(tmp_path)
    (raw / f"{prefix}-images-idx3-ubyte").write_bytes(images)
    (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(labels)
    with pytest.raises(ValueError, match=match) as error:
        torchvision_data.fashion_mnist(tmp_path, train=train)
    for kind in ("images", "labels") if named == "both" else (named,):
        assert str(raw / f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte") in str(error.value)


def test_gzipped_fashion_mnist_files_without_the_unpacked_ones_are_explained(tmp_path):
    """torchvision reads the unpacked idx files; a learner who fetched only the .gz files is told what to do."""
    raw = _write_fashion_mnist(tmp_path)
    for path in raw.iterdir():
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz.*unpack"):
        torchvision_data.fashion_mnist(tmp_path, train=True)
    for path in raw.iterdir():
        path.unlink()
    with pytest.raises(RuntimeError, match="not found"):  # nothing there at all: torchvision's own message
        torchvision_data.fashion_mnist(tmp_path, train=True)
