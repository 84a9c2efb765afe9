"""Augmentation gallery: a real photograph and a grid of SimCLR views of it, with a strength slider ``s``.

The views come from :func:`course_lib.augment.simclr_transform` and are seeded, so the same photo, ``s`` and
seed always give the same grid, and moving ``s`` changes only how strong the colour distortion is (the
crops, flips and the coin flips of each step are the same draws).
"""
from __future__ import annotations

from functools import lru_cache

STRENGTHS = tuple(round(0.25 * i, 2) for i in range(11))  # 0, 0.25, ..., 2.5 (hue 0.2*s must stay <= 0.5)
LATENCY_CASES = [{"s": 0.5}, {"s": 1.5}, {"photo": "coffee"}, {"seed": 1}, {"s": 2.5}, {"photo": "chelsea"}, {"s": 0.5}]


@lru_cache(maxsize=8)
def _photo(name: str, short_side: int):
    """The photo scaled so its short side is ``short_side`` (cropping from a smaller image is much cheaper)."""
    from torchvision.transforms import v2

    from .. import datasets

    return v2.functional.resize(datasets.load_photo(name), short_side, antialias=True)


@lru_cache(maxsize=128)
def compute(photo: str = "chelsea", s: float = 1.0, seed: int = 0, num_views: int = 8, size: int = 96) -> dict:
    """The photo and ``num_views`` augmented views, as uint8 arrays (H, W, 3) ready for ``imshow``."""
    from .. import augment, datasets

    if photo not in datasets.PHOTO_NAMES:
        raise ValueError(f"photo must be one of {datasets.PHOTO_NAMES}, got {photo!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not isinstance(size, int) or isinstance(size, bool) or not 16 <= size <= 512:
        raise ValueError(f"size must be an int in [16, 512], got {size!r}")
    image = _photo(photo, 2 * size)
    transform = augment.simclr_transform(size, s)  # checks s
    views = augment.augmented_views(image, transform, num_views=num_views, seed=seed)  # (V, 3, size, size)
    return {"photo": photo, "s": s, "seed": seed, "kernel_size": augment.blur_kernel_size(size),
            "original": image.permute(1, 2, 0).numpy(), "views": views.permute(0, 2, 3, 1).numpy()}


def draw(result: dict, fig, columns: int = 5) -> list:
    """The original in the first cell, then the views, in a grid of ``columns``."""
    count = 1 + len(result["views"])
    rows = -(-count // columns)
    axes = fig.subplots(rows, columns).ravel()
    for ax in axes:
        ax.axis("off")
    axes[0].imshow(result["original"])
    axes[0].set_title(f"{result['photo']} (original)", fontsize=9)
    for i, (ax, view) in enumerate(zip(axes[1:], result["views"]), start=1):
        ax.imshow(view)
        ax.set_title(f"view {i}", fontsize=9)
    fig.suptitle(f"SimCLR views, colour strength s = {result['s']:g}, blur kernel {result['kernel_size']}, "
                 f"seed {result['seed']}", fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.86, wspace=0.05, hspace=0.2)
    return list(axes)


def explorer(photo: str = "chelsea", s: float = 1.0, seed: int = 0, num_views: int = 9, size: int = 96):
    """A photo menu, the strength slider ``s`` and a seed slider over the grid of views."""
    import ipywidgets as w

    from .. import datasets
    from .base import LiveFigure, connect

    compute(photo, s, seed, num_views, size)  # bad values fail here, with their names
    style = {"description_width": "initial"}
    controls = {
        "photo": w.Dropdown(options=datasets.PHOTO_NAMES, value=photo, description="photo", style=style),
        "s": w.SelectionSlider(options=STRENGTHS, value=min(STRENGTHS, key=lambda v: abs(v - s)),
                               description="strength s", continuous_update=False, style=style),
        "seed": w.IntSlider(value=seed, min=0, max=9, description="seed", continuous_update=False, style=style),
    }

    def render(fig, photo, s, seed):
        draw(compute(photo, s, seed, num_views, size), fig)

    return connect(controls, LiveFigure(render, figsize=(9, 4.2), height="460px"))
