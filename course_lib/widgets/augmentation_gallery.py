"""Augmentation gallery: a real photograph and a grid of SimCLR views of it, with a strength slider ``s``.

The views come from :func:`course_lib.data.augment.simclr_transform` and are seeded, so the same photo, ``s`` and
seed always give the same grid, and moving ``s`` changes only how strong the colour distortion is (the
crops, flips and the coin flips of each step are the same draws).
"""

from __future__ import annotations

from functools import lru_cache

from ..device import thread_policy
from ..validate import check_choice, check_int, check_number
from . import base

COLUMNS = 5  # tiles per row of the mosaic
STRENGTHS = tuple(round(0.25 * i, 2) for i in range(11))  # 0, 0.25, ..., 2.5 (hue 0.2*s must stay <= 0.5)
FEATURED = ("photo", "s")  # what the lesson asks a reader to drag first: the static site varies these
LATENCY_CASES = (  # control changes benchmarks/widget_latency.py times, one after another
    {"s": 0.5},
    {"s": 1.5},
    {"photo": "coffee"},
    {"seed": 1},
    {"s": 2.5},
    {"photo": "chelsea"},
    {"s": 0.5},
)


@lru_cache(maxsize=8)
def _photo(name: str, short_side: int):
    """The photo scaled so its short side is ``short_side`` (cropping from a smaller image is much cheaper)."""
    from torchvision.transforms import v2

    from ..data import datasets

    return v2.functional.resize(datasets.load_photo(name), short_side, antialias=True)


@lru_cache(maxsize=128)
def compute(photo: str = "chelsea", s: float = 1.0, seed: int = 0, num_views: int = 8, size: int = 96) -> dict:
    """The photo (centre square) and ``num_views`` augmented views, as uint8 arrays (size, size, 3)."""
    from torchvision.transforms import v2

    from ..data import augment, datasets

    check_choice("photo", photo, datasets.PHOTO_NAMES)
    check_number("s", s, STRENGTHS[0], STRENGTHS[-1])
    check_int("seed", seed, 0)
    check_int("num_views", num_views, 1)
    check_int("size", size, 16)
    if size > 512:
        raise ValueError(f"size must be an int in [16, 512], got {size!r}")
    transform = augment.simclr_transform(size, s)  # checks s
    with thread_policy():
        image = _photo(photo, 2 * size)
        views = augment.augmented_views(image, transform, num_views=num_views, seed=seed)  # (V, 3, size, size)
        original = v2.functional.resize(v2.functional.center_crop(image, min(image.shape[1:])), size, antialias=True)
    return {
        "photo": photo,
        "s": s,
        "seed": seed,
        "kernel_size": augment.blur_kernel_size(size),
        "original": original.permute(1, 2, 0).numpy(),
        "views": views.permute(0, 2, 3, 1).numpy(),
    }


def mosaic(result: dict, columns: int = COLUMNS, pad: int = 2):
    """One image (H, W, 3): the original in the first tile, then the views, row by row, on white."""
    import numpy as np

    tiles = [result["original"], *result["views"]]
    size = tiles[0].shape[0]
    rows = -(-len(tiles) // columns)
    canvas = np.full((rows * (size + pad) - pad, columns * (size + pad) - pad, 3), 255, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        top, left = (i // columns) * (size + pad), (i % columns) * (size + pad)
        canvas[top : top + size, left : left + size] = tile
    return canvas


class Picture(base.Picture):
    """The mosaic as one image (one image draws far faster than a grid of axes), each tile labelled."""

    def __init__(self, fig):
        super().__init__(fig)
        self.ax = fig.add_subplot(1, 1, 1)
        self.ax.axis("off")
        self.ax.title.set_fontsize(10)
        self.image = None
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.92)
        self.moving = [self.ax.title]

    def show(self, result: dict) -> None:
        canvas = mosaic(result)
        tiles, size = 1 + len(result["views"]), result["original"].shape[0] + 2
        if self.changed("layout", (canvas.shape, tiles)):  # the labels, drawn once over the image
            if self.image is not None:
                self.image.remove()
            for text in list(self.ax.texts):
                text.remove()
            self.image = self.ax.imshow(canvas)
            self.moving = [self.image, self.ax.title]
            for i in range(tiles):  # opaque boxes: put back over each new image as they are (on_top)
                self.ax.text(
                    (i % COLUMNS) * size + 3,
                    (i // COLUMNS) * size + 3,
                    "original" if i == 0 else f"view {i}",
                    fontsize=8,
                    color="white",
                    va="top",
                    bbox={"facecolor": "black", "pad": 1, "lw": 0},
                )
            self.on_top = list(self.ax.texts)
        else:
            self.image.set_data(canvas)
        self.ax.title.set_text(
            f"{result['photo']}: SimCLR views, colour strength s = {result['s']:g}, "
            f"blur kernel {result['kernel_size']}, seed {result['seed']}"
        )


def draw(result: dict, fig):
    """The explorer's picture of ``result`` on ``fig``: its axes."""
    picture = Picture(fig)
    picture.show(result)
    return [picture.ax]


def describe(result: dict) -> str:
    """What the views were drawn with."""
    return (
        f"{len(result['views'])} random views of {result['photo']} from the SimCLR pipeline with colour strength "
        f"s = {result['s']:g} (jitter brightness, contrast and saturation {0.8 * result['s']:.2g}, hue {0.2 * result['s']:.2g}) "
        f"and a {result['kernel_size']}-pixel blur kernel; seed {result['seed']}."
    )


def explorer(photo: str = "chelsea", s: float = 1.0, seed: int = 0, num_views: int = 9, size: int = 96):
    """A photo menu, the strength slider ``s`` and a seed slider over the grid of views."""
    import ipywidgets as w

    from ..data import datasets

    compute(photo, s, seed, num_views, size)  # bad values fail here, with their names
    style = {"description_width": "initial"}
    controls = {
        "photo": w.Dropdown(options=datasets.PHOTO_NAMES, value=photo, description="photo", style=style),
        "s": w.SelectionSlider(
            options=STRENGTHS,
            value=min(STRENGTHS, key=lambda v: abs(v - s)),
            description="strength s",
            continuous_update=False,
            style=style,
        ),
        "seed": w.IntSlider(value=seed, min=0, max=9, description="seed", continuous_update=False, style=style),
    }

    def render(picture, photo, s, seed):
        result = compute(photo, s, seed, num_views, size)
        picture.show(result)
        return describe(result)

    # photographs: JPEG (a PNG of photos is several times larger, sent at every change), at 80 dpi
    figure = base.LiveFigure(render, figsize=(9, 4.2), height="460px", picture=Picture, dpi=80, image_format="jpeg")
    return base.connect(controls, figure, featured=FEATURED)
