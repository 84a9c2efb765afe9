import numpy as np
import pytest

from course_lib.widgets import augmentation_gallery


def images(box):
    """The pixel arrays of every image now shown, in order."""
    return [np.asarray(im.get_array()) for ax in box.figure.fig.axes for im in ax.images]


def test_compute_is_seeded_and_cached():
    a = augmentation_gallery.compute("chelsea", 1.0, seed=0, num_views=4, size=48)
    assert a["original"].shape[2] == 3 and a["views"].shape == (4, 48, 48, 3) and a["views"].dtype == np.uint8
    assert a["kernel_size"] == 5
    assert augmentation_gallery.compute("chelsea", 1.0, seed=0, num_views=4, size=48) is a
    augmentation_gallery.compute.cache_clear()
    b = augmentation_gallery.compute("chelsea", 1.0, seed=0, num_views=4, size=48)
    assert b is not a and np.array_equal(a["views"], b["views"])  # recomputed, same pixels
    c = augmentation_gallery.compute("chelsea", 1.0, seed=1, num_views=4, size=48)
    assert not np.array_equal(a["views"], c["views"])


@pytest.mark.parametrize("bad", [{"photo": "lena"}, {"s": 3.0}, {"seed": -1}, {"size": 8}])
def test_bad_input_names_the_argument(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        augmentation_gallery.compute(**{"photo": "coffee", "s": 1.0, "seed": 0, "size": 32, **bad})


def test_explorer_redraws_when_a_control_moves():
    box = augmentation_gallery.explorer(photo="chelsea", s=1.0, seed=0, num_views=5, size=48)
    assert set(box.controls) == {"photo", "s", "seed"}
    first, count = images(box), len(box.figure.log)
    assert len(first) == 6  # the original and five views

    box.controls["s"].value = 2.0
    stronger = images(box)
    assert len(box.figure.log) == count + 1
    assert np.array_equal(first[0], stronger[0])  # the original does not change
    assert any(not np.array_equal(x, y) for x, y in zip(first[1:], stronger[1:]))
    assert "s = 2" in box.figure.fig._suptitle.get_text()

    box.controls["photo"].value = "rocket"
    assert not np.array_equal(images(box)[0], first[0]) and "rocket" in box.figure.fig.axes[0].get_title()

    box.controls["photo"].value = "chelsea"
    box.controls["s"].value = 1.0  # back where it started: the same grid
    assert all(np.array_equal(x, y) for x, y in zip(images(box), first))

    box.controls["seed"].value = 3
    assert any(not np.array_equal(x, y) for x, y in zip(images(box)[1:], first[1:]))


def test_latency_cases_name_real_controls():
    box = augmentation_gallery.explorer(num_views=2, size=32)
    for case in augmentation_gallery.LATENCY_CASES:
        assert set(case) <= set(box.controls)
