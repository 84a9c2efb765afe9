import numpy as np
import pytest

from course_lib.widgets import augmentation_gallery


def tiles(box, size=48, pad=2, columns=5):
    """The tiles of the mosaic now shown: [original, view 1, view 2, ...]."""
    (image,) = [np.asarray(im.get_array()) for ax in box.figure.fig.axes for im in ax.images]
    rows, cols = (image.shape[0] + pad) // (size + pad), (image.shape[1] + pad) // (size + pad)
    return [
        image[r * (size + pad) : r * (size + pad) + size, c * (size + pad) : c * (size + pad) + size]
        for r in range(rows)
        for c in range(cols)
    ]


def test_compute_is_seeded_and_cached():
    a = augmentation_gallery.compute("chelsea", 1.0, seed=0, num_views=4, size=48)
    assert a["original"].shape == (48, 48, 3) and a["views"].shape == (4, 48, 48, 3) and a["views"].dtype == np.uint8
    assert a["kernel_size"] == 5
    assert augmentation_gallery.compute("chelsea", 1.0, seed=0, num_views=4, size=48) is a
    augmentation_gallery.compute.cache_clear()
    b = augmentation_gallery.compute("chelsea", 1.0, seed=0, num_views=4, size=48)
    assert b is not a and np.array_equal(a["views"], b["views"])  # recomputed, same pixels
    c = augmentation_gallery.compute("chelsea", 1.0, seed=1, num_views=4, size=48)
    assert not np.array_equal(a["views"], c["views"])


@pytest.mark.parametrize(
    "bad",
    [
        {"photo": "lena"},
        {"s": 3.0},
        {"s": float("nan")},
        {"s": -0.5},
        {"seed": -1},
        {"size": 8},
        {"size": 1024},
        {"num_views": 0},
    ],
)
def test_bad_input_names_the_argument(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        augmentation_gallery.compute(**{"photo": "coffee", "s": 1.0, "seed": 0, "size": 32, **bad})


def test_mosaic_places_the_original_first_then_the_views():
    result = augmentation_gallery.compute("coffee", 0.5, seed=2, num_views=6, size=32)
    canvas = augmentation_gallery.mosaic(result, columns=4, pad=2)
    assert canvas.shape == (2 * 34 - 2, 4 * 34 - 2, 3)
    assert np.array_equal(canvas[:32, :32], result["original"])
    assert np.array_equal(canvas[:32, 34:66], result["views"][0])
    assert np.array_equal(canvas[34:66, 34 * 2 : 34 * 2 + 32], result["views"][5])
    assert (canvas[34:, 34 * 3 :] == 255).all()  # the empty last tile stays white


def test_explorer_redraws_when_a_control_moves():
    box = augmentation_gallery.explorer(photo="chelsea", s=1.0, seed=0, num_views=5, size=48)
    assert set(box.controls) == {"photo", "s", "seed"}
    first, count = tiles(box), len(box.figure.log)
    assert len(first) == 10  # two rows of five: the original, five views, four empty tiles

    box.controls["s"].value = 2.0
    stronger = tiles(box)
    assert len(box.figure.log) == count + 1
    assert np.array_equal(first[0], stronger[0])  # the original does not change
    assert any(not np.array_equal(x, y) for x, y in zip(first[1:6], stronger[1:6]))
    assert "s = 2" in box.figure.fig.axes[0].get_title()

    box.controls["photo"].value = "rocket"
    assert not np.array_equal(tiles(box)[0], first[0]) and "rocket" in box.figure.fig.axes[0].get_title()

    box.controls["photo"].value = "chelsea"
    box.controls["s"].value = 1.0  # back where it started: the same grid
    assert all(np.array_equal(x, y) for x, y in zip(tiles(box), first))

    box.controls["seed"].value = 3
    assert any(not np.array_equal(x, y) for x, y in zip(tiles(box)[1:6], first[1:6]))
    texts = [t.get_text() for t in box.figure.fig.axes[0].texts]
    assert texts == ["original"] + [f"view {i}" for i in range(1, 6)]
