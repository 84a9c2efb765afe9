import numpy as np
import pytest
import torch

from course_lib import device, models, profiles
from course_lib.data import datasets, loaders


def test_pick_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "_mps_available", lambda: True)
    assert device.pick_device().type == "mps"
    monkeypatch.setattr(device, "_mps_available", lambda: False)
    assert device.pick_device().type == "cpu"
    assert device.pick_device("cpu").type == "cpu"


def test_pick_device_rejects_unknown_or_missing(monkeypatch):
    with pytest.raises(ValueError, match="prefer must be one of"):
        device.pick_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA"):
        device.pick_device("cuda")


def test_seed_everything_repeats_every_generator():
    import random

    device.seed_everything(3)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    device.seed_everything(3)
    assert first == (random.random(), np.random.rand(), torch.rand(1).item())
    with pytest.raises(ValueError, match="seed"):
        device.seed_everything(-1)


def test_size_profile_from_argument_env_or_guess(monkeypatch):
    monkeypatch.delenv("COURSE_SIZE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert profiles.get_size() == "default"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert profiles.get_size() == "gpu"
    monkeypatch.setenv("COURSE_SIZE", "smoke")
    assert profiles.get_size() == "smoke"
    assert profiles.get_size("default") == "default"  # a papermill parameter wins
    assert profiles.pick("smoke", smoke=1, default=2, gpu=3) == 1
    with pytest.raises(ValueError, match="size must be one of"):
        profiles.get_size("huge")
    with pytest.raises(ValueError, match="size must be one of"):
        profiles.pick("huge", smoke=1, default=2, gpu=3)


@pytest.mark.parametrize("make", [datasets.make_spirals, datasets.make_moons])
def test_generated_classification_sets_are_seeded(make):
    X, y = make(200, seed=1)
    X2, y2 = make(200, seed=1)
    assert X.shape == (200, 2) and X.dtype == torch.float32 and y.dtype == torch.long
    assert torch.equal(X, X2) and torch.equal(y, y2)
    assert set(y.tolist()) == {0, 1}
    assert not torch.equal(X, make(200, seed=2)[0])
    with pytest.raises(ValueError, match="n_samples"):
        make(0)
    with pytest.raises(ValueError, match="noise"):
        make(10, noise=-1)


def test_poly_regression_has_known_truth():
    x, y, truth = datasets.make_poly_regression(50, degree=3, noise=0.0, seed=0)
    assert x.shape == y.shape == (50, 1)
    assert torch.allclose(truth(x), y)
    with pytest.raises(ValueError, match="degree"):
        datasets.make_poly_regression(10, degree=0)


def test_digits_split_is_fixed_and_disjoint():
    a, b = datasets.load_digits_split(), datasets.load_digits_split()
    assert torch.equal(a.X_test, b.X_test)
    assert len(a.X_train) + len(a.X_valid) + len(a.X_test) == 1797
    assert a.X_train.shape[1] == 64 and a.num_classes == 10 and float(a.X_train.max()) <= 1.0
    images = datasets.load_digits_split(images=True)
    assert images.X_train.shape[1:] == (1, 8, 8)
    ids = datasets.split_tensors(torch.arange(100), torch.arange(100), seed=0)
    parts = [set(ids.X_train.tolist()), set(ids.X_valid.tolist()), set(ids.X_test.tolist())]
    assert sum(map(len, parts)) == 100 and len(set.union(*parts)) == 100  # every sample in exactly one split
    with pytest.raises(ValueError, match="valid_fraction"):
        datasets.split_tensors(a.X_train, a.y_train, valid_fraction=1.5)
    with pytest.raises(ValueError, match="same length"):
        datasets.split_tensors(a.X_train, a.y_train[:5])


def test_photos_are_real_rgb_images():
    for name in datasets.PHOTO_NAMES:
        photo = datasets.load_photo(name)
        assert photo.dtype == torch.uint8 and photo.shape[0] == 3 and min(photo.shape[1:]) >= 256
        assert photo.float().std() > 20  # a photograph, not a constant
    with pytest.raises(ValueError, match="name must be one of"):
        datasets.load_photo("mona_lisa")


def test_device_loader_batches_shuffles_and_repeats():
    X, y = torch.arange(10.0)[:, None], torch.arange(10)
    loader = loaders.DeviceLoader(X, y, batch_size=4, seed=0)
    assert len(loader) == 3 and [len(b[0]) for b in loader] == [4, 4, 2]
    epoch = torch.cat([b[1] for b in loader])
    assert sorted(epoch.tolist()) == list(range(10)) and epoch.tolist() != list(range(10))
    again = loaders.DeviceLoader(X, y, batch_size=4, seed=0)
    assert torch.equal(
        torch.cat([b[1] for b in again]), torch.cat([b[1] for b in loaders.DeviceLoader(X, y, 4, seed=0)])
    )
    assert len(loaders.DeviceLoader(X, y, 4, drop_last=True)) == 2
    ordered = loaders.DeviceLoader(X, y, 3, shuffle=False)
    assert torch.cat([b[1] for b in ordered]).tolist() == list(range(10))
    with pytest.raises(ValueError, match="batch_size"):
        loaders.DeviceLoader(X, y, batch_size=0)
    with pytest.raises(ValueError, match="same first dimension"):
        loaders.DeviceLoader(X, y[:3])


def test_models_shapes_knobs_and_parameter_count():
    mlp = models.MLP(2, 3, width=8, depth=2, dropout=0.5, batch_norm=True)
    assert mlp(torch.zeros(4, 2)).shape == (4, 3)
    assert models.count_parameters(models.MLP(2, 3, width=8, depth=1)) == 2 * 8 + 8 + 8 * 3 + 3
    assert any(isinstance(m, torch.nn.Dropout) for m in mlp) and any(isinstance(m, torch.nn.BatchNorm1d) for m in mlp)
    cnn = models.SmallCNN(1, 10)
    assert cnn(torch.zeros(2, 1, 8, 8)).shape == (2, 10) and cnn(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="SmallCNN expects images"):
        cnn(torch.zeros(2, 64))
    with pytest.raises(ValueError, match="activation must be one of"):
        models.MLP(2, 2, activation="swishy")
    with pytest.raises(ValueError, match="dropout"):
        models.MLP(2, 2, dropout=1.0)
    with pytest.raises(ValueError, match="width"):
        models.MLP(2, 2, width=0)


def test_thread_policy_is_one_thread_unless_course_threads_says_otherwise(monkeypatch):
    monkeypatch.delenv("COURSE_THREADS", raising=False)
    assert device.thread_count() == 1
    monkeypatch.setenv("COURSE_THREADS", "3")
    assert device.thread_count() == 3
    before = torch.get_num_threads()
    try:
        assert device.apply_thread_policy() == 3 and torch.get_num_threads() == 3
        torch.set_num_threads(2)
        with device.thread_policy():
            assert torch.get_num_threads() == 3
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_thread_policy_names_the_variable_for_a_bad_value(monkeypatch, value):
    monkeypatch.setenv("COURSE_THREADS", value)
    with pytest.raises(ValueError, match="COURSE_THREADS must be a whole number >= 1"):
        device.thread_count()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: loaders.DeviceLoader(torch.tensor(1.0), torch.tensor(0)), "must have a first dimension"),
        (
            lambda: datasets.load_digits_split(valid_fraction="a"),
            "valid_fraction must be a finite number in \\[0, 1\\)",
        ),
        (lambda: datasets.split_tensors(torch.zeros(4), torch.zeros(4), test_fraction=None), "test_fraction"),
        (lambda: datasets.make_spirals(10, turns=0), "turns must be a finite number > 0"),
        (lambda: datasets.make_moons(10, noise="0.1"), "noise"),
        (lambda: models.MLP(2, 2, dropout="0.5"), "dropout"),
    ],
)
def test_wrong_types_and_degenerate_data_are_named(make, match):
    """Clear errors (were: TypeError, or all-NaN inputs from make_spirals(turns=0))."""
    with pytest.raises(ValueError, match=match):
        make()
