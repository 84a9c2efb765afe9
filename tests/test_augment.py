import pytest
import torch
from torchvision.transforms import v2

from course_lib import Trainer, models
from course_lib.data import augment, datasets, loaders


@pytest.fixture(scope="module")
def photo():
    return v2.functional.resize(datasets.load_photo("chelsea"), 128, antialias=True)


def test_blur_kernel_is_odd_and_about_a_tenth_of_the_size():
    assert [augment.blur_kernel_size(s) for s in (8, 32, 96, 224)] == [1, 3, 9, 23]
    for size in range(8, 300):
        k = augment.blur_kernel_size(size)
        assert k % 2 == 1 and abs(k - 0.1 * size) <= 1
    with pytest.raises(ValueError, match="size"):
        augment.blur_kernel_size(0)


def test_simclr_transform_has_the_papers_settings():
    steps = augment.simclr_transform(224, s=0.5).transforms
    crop, flip, jitter, gray, blur = steps
    assert tuple(crop.size) == (224, 224) and crop.scale == (0.08, 1.0) and crop.ratio == pytest.approx((3 / 4, 4 / 3))
    assert flip.p == 0.5 and jitter.p == 0.8 and gray.p == 0.2 and blur.p == 0.5
    colour = jitter.transforms[0]
    assert colour.brightness == pytest.approx((0.6, 1.4)) and colour.contrast == pytest.approx((0.6, 1.4))
    assert colour.saturation == pytest.approx((0.6, 1.4)) and colour.hue == pytest.approx((-0.1, 0.1))
    assert tuple(blur.transforms[0].kernel_size) == (23, 23) and list(blur.transforms[0].sigma) == [0.1, 2.0]
    assert len(augment.simclr_transform(224, blur=False).transforms) == 4


@pytest.mark.parametrize("bad", [{"s": -0.1}, {"s": 2.6}, {"s": "1"}, {"size": 4}, {"size": 32.0}])
def test_simclr_transform_rejects_bad_input(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        augment.simclr_transform(**{"size": 32, **bad})


def test_views_are_seeded_and_leave_the_global_random_state_alone(photo):
    transform = augment.simclr_transform(64, s=1.0)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = augment.augmented_views(photo, transform, num_views=6, seed=3)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = augment.augmented_views(photo, transform, num_views=6, seed=3)
    c = augment.augmented_views(photo, transform, num_views=6, seed=4)
    assert a.shape == (6, 3, 64, 64) and a.dtype == torch.uint8
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len({v.float().mean().item() for v in a}) == 6  # six different views
    with pytest.raises(ValueError, match="num_views"):
        augment.augmented_views(photo, transform, num_views=0)
    with pytest.raises(ValueError, match="image"):
        augment.augmented_views(photo[None], transform)


def test_strength_zero_changes_no_colours_but_still_crops(photo):
    views = augment.augmented_views(photo, augment.simclr_transform(64, s=0.0, blur=False), num_views=20, seed=0)
    coloured = [v for v in views if not (v[0] == v[1]).all()]  # not turned grey
    assert coloured, "some views keep their colours at p_grayscale = 0.2"
    strong = augment.augmented_views(photo, augment.simclr_transform(64, s=2.0, blur=False), num_views=20, seed=0)
    # s changes only the colour factors: mean brightness varies more across strong views
    assert strong.float().mean(dim=(1, 2, 3)).std() > views.float().mean(dim=(1, 2, 3)).std()


def test_affine_matches_torchvision_and_rot90():
    x = torch.rand(3, 2, 12, 20)
    angles, shifts, scales = (
        torch.tensor([30.0, -17.0, 0.0]),
        torch.tensor([[1.0, -1.0], [2.0, 1.0], [0.0, 0.0]]),
        torch.tensor([1.2, 0.9, 1.0]),
    )
    moved = augment.affine(x, angles, shifts, scales, torch.zeros(3, dtype=torch.bool))
    for i in range(3):  # torchvision's affine turns clockwise, rotate counter-clockwise
        expected = v2.functional.affine(
            x[i],
            angle=-angles[i].item(),
            translate=shifts[i].tolist(),
            scale=scales[i].item(),
            shear=[0.0, 0.0],
            interpolation=v2.InterpolationMode.BILINEAR,
        )
        torch.testing.assert_close(moved[i], expected, atol=1e-5, rtol=0)
    square = torch.rand(2, 1, 8, 8)
    quarter = augment.affine(
        square, torch.full((2,), 90.0), torch.zeros(2, 2), torch.ones(2), torch.zeros(2, dtype=torch.bool)
    )
    torch.testing.assert_close(quarter, torch.rot90(square, 1, dims=(2, 3)), atol=1e-5, rtol=0)
    mirrored = augment.affine(square, torch.zeros(2), torch.zeros(2, 2), torch.ones(2), torch.tensor([True, False]))
    torch.testing.assert_close(mirrored[0], square[0].flip(-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(mirrored[1], square[1], atol=1e-5, rtol=0)


def test_padding_modes_fill_the_border_differently():
    images = torch.ones(1, 1, 8, 8)
    shift = lambda mode: augment.affine(
        images,
        torch.zeros(1),
        torch.tensor([[3.0, 0.0]]),
        torch.ones(1),  # noqa: E731
        torch.zeros(1, dtype=torch.bool),
        padding_mode=mode,
    )
    assert shift("zeros")[..., :3].abs().max() == 0  # what came from outside is black
    torch.testing.assert_close(shift("reflection"), images)  # a constant image reflects into itself
    torch.testing.assert_close(shift("border"), images)
    with pytest.raises(ValueError, match="padding_mode"):
        augment.random_affine(images, padding_mode="wrap")


def test_colour_matches_torchvision_image_by_image(photo):
    images = v2.functional.resize(photo, 24, antialias=True)[None].float().div(255).repeat(4, 1, 1, 1)  # (4, 3, 24, 36)
    images[1] = images[1].flip(0)  # other colours
    b, c, s, h = (
        torch.tensor([0.6, 1.4, 1.0, 1.2]),
        torch.tensor([1.3, 0.7, 1.0, 0.6]),
        torch.tensor([0.6, 1.4, 0.0, 1.1]),
        torch.tensor([0.1, -0.1, 0.0, 0.5]),
    )
    out = augment.colour(images, b, c, s, h)
    F = v2.functional
    for i in range(4):
        expected = F.adjust_hue(
            F.adjust_saturation(
                F.adjust_contrast(F.adjust_brightness(images[i], b[i].item()), c[i].item()), s[i].item()
            ),
            h[i].item(),
        )
        torch.testing.assert_close(out[i], expected, atol=1e-5, rtol=0)  # the same steps in another arithmetic order
    with pytest.raises(ValueError, match="images"):
        augment.colour(images[:, :1], b, c, s, h)


def test_random_colour_draws_per_image_and_keeps_its_probabilities():
    images = torch.rand(1, 3, 6, 6).expand(200, 3, 6, 6).contiguous()  # one image, two hundred times
    a = augment.random_colour(images, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, augment.random_colour(images, generator=torch.Generator().manual_seed(0)))
    untouched = (a == images).flatten(1).all(1)
    grey = (a[:, 0] == a[:, 1]).flatten(1).all(1) & (a[:, 1] == a[:, 2]).flatten(1).all(1)
    assert 0.1 < untouched.float().mean() < 0.3  # no jitter (p 0.2) and no grayscale (p 0.8): about 16%
    assert 0.1 < grey.float().mean() < 0.3  # grayscale with p 0.2
    assert len({tuple(v.flatten().tolist()) for v in a[~untouched & ~grey]}) == int(
        (~untouched & ~grey).sum()
    )  # each its own
    torch.testing.assert_close(augment.random_colour(images, p_jitter=0.0, p_grayscale=0.0), images)
    for bad in ({"brightness": -0.1}, {"hue": 0.6}, {"saturation": "0.4"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            augment.random_colour(images, **bad)


def test_random_affine_draws_per_image_and_is_repeatable():
    images = torch.rand(1, 1, 8, 8).expand(16, 1, 8, 8).contiguous()  # one image, sixteen times
    a = augment.random_affine(images, degrees=20, generator=torch.Generator().manual_seed(0))
    b = augment.random_affine(images, degrees=20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert len({tuple(v.flatten().tolist()) for v in a}) == 16  # every copy moved differently
    same = augment.random_affine(images, degrees=0, translate=0, scale=(1, 1))
    torch.testing.assert_close(same, images, atol=1e-5, rtol=0)
    for bad in ({"degrees": -1}, {"translate": 1.0}, {"scale": (1.2, 0.9)}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            augment.random_affine(images, **bad)


def test_a_v2_transform_on_a_batch_draws_once_for_all_images():
    batch = torch.rand(8, 1, 6, 6)
    torch.manual_seed(0)
    outcomes = set()
    for _ in range(10):
        flipped = v2.RandomHorizontalFlip(p=0.5)(batch)
        per_image = {bool(torch.equal(flipped[i], batch[i].flip(-1))) for i in range(8)}
        assert len(per_image) == 1  # all flipped or none
        outcomes |= per_image
    assert outcomes == {True, False}


def test_batch_augmentation_changes_training_batches_only():
    seen = []

    class Spy(Trainer):
        def training_step(self, batch):
            seen.append((self.model.training, batch[0].clone()))
            return super().training_step(batch)

    split = datasets.load_digits_split(images=True)
    X, y = split.X_train[:32], split.y_train[:32]
    model = models.SmallCNN(1, 10, width=4)
    callback = augment.BatchAugmentation(augment.random_affine, seed=1, degrees=30)
    trainer = Spy(
        model, torch.optim.SGD(model.parameters(), lr=0.01), callbacks=[callback], progress=False, device="cpu"
    )
    trainer.fit(
        loaders.DeviceLoader(X, y, batch_size=32, shuffle=False),
        loaders.DeviceLoader(X, y, batch_size=32, shuffle=False),
        num_epochs=2,
    )
    train_inputs = [x for training, x in seen if training]
    valid_inputs = [x for training, x in seen if not training]
    assert len(train_inputs) == 2 and len(valid_inputs) == 2
    assert not torch.allclose(train_inputs[0], X) and not torch.allclose(train_inputs[0], train_inputs[1])
    assert all(torch.equal(x, X) for x in valid_inputs)
    state = callback.state_dict()
    again = augment.BatchAugmentation(augment.random_affine, seed=99)
    again.load_state_dict(state)
    assert torch.equal(again.generator.get_state(), callback.generator.get_state())
    with pytest.raises(ValueError, match="augment"):
        augment.BatchAugmentation("flip")


def test_augmented_dataset_applies_the_transform_per_sample():
    X, y = torch.rand(10, 1, 8, 8), torch.arange(10)
    data = augment.AugmentedDataset(X, y, v2.RandomHorizontalFlip(p=1.0))
    image, label = data[3]
    assert len(data) == 10 and label == 3 and torch.equal(image, X[3].flip(-1))
    assert torch.equal(augment.AugmentedDataset(X, y)[2][0], X[2])
    with pytest.raises(ValueError, match="same length"):
        augment.AugmentedDataset(X, y[:5])
