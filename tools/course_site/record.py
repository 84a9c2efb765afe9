"""Inside a lesson's kernel: turn every explorer the lesson builds into frames and a manifest.

The site builder puts a cell of its own first in each lesson, which calls :func:`start`. From then on,
right after each cell (IPython's ``post_run_cell`` event), every explorer that cell built
(``course_lib.widgets.base.explorers()``) goes to :func:`record`, with the arguments the notebook computed
(a trained run's trace, the notebook's variables). Over a grid of its featured controls (``box.featured``,
which each explorer declares; the rest stay at their starting values), each frame is drawn by the
explorer's own ``render`` (``LiveFigure.frame``) and saved as lossless WebP, named by its content so
repeats are stored once. ``COURSE_SITE_FRAMES`` is the folder to write to, ``COURSE_SITE_GRID`` ``full``
or ``quick``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
from itertools import product
from pathlib import Path

DPI = 96  # a 10-inch figure is 960 pixels wide: sharp on a laptop, and a projector scales it up
GRIDS = {"full": {"max_frames": 72, "max_values": None}, "quick": {"max_frames": 9, "max_values": 3}}

_count = 0  # explorers recorded in this kernel


def start(recorder=None):
    """Record each explorer a later cell builds, right after that cell: ``recorder(box)`` (default :func:`record`).

    Returns the callback registered for IPython's ``post_run_cell`` event (``events.unregister`` stops it).
    """
    from IPython import get_ipython

    from course_lib.widgets.base import explorers

    recorder = recorder or record
    seen = {id(box) for box in explorers()}  # built before this call: not the lesson's

    def after_cell(*_):
        for box in explorers():
            if id(box) not in seen:
                seen.add(id(box))
                recorder(box)

    get_ipython().events.register("post_run_cell", after_cell)
    return after_cell


def record(box) -> None:
    global _count
    from course_lib.widgets.base import snap_values

    grid = os.environ.get("COURSE_SITE_GRID", "full")
    if grid not in GRIDS:
        raise ValueError(f"COURSE_SITE_GRID must be one of {tuple(GRIDS)}, got {grid!r}")
    folder = Path(os.environ["COURSE_SITE_FRAMES"])
    (folder / "images").mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    controls, figure = box.controls, box.figure
    module = getattr(figure.render, "__module__", "__main__")
    choices = {}
    for name, control in controls.items():
        try:
            choices[name] = snap_values(control)
        except ValueError:
            choices[name] = None  # a range slider, say: held at its starting value
    varied = _varied(box, choices)
    positions = plan(
        {name: (len(choices[name]), _index(choices[name], controls[name].value)) for name in varied}, **GRIDS[grid]
    )
    images, texts, frames = [], [], {}
    start_values = {name: control.value for name, control in controls.items()}
    for combo in product(*(range(len(positions[name])) for name in varied)):
        values = dict(start_values)
        for name, position in zip(varied, combo):
            values[name] = choices[name][positions[name][position]][1]
        image, text = figure.frame(DPI, **values)
        data = encode(image)
        file = hashlib.sha256(data).hexdigest()[:16] + ".webp"
        if not (folder / "images" / file).exists():
            (folder / "images" / file).write_bytes(data)
        if file not in images:
            images.append(file)
        if text not in texts:
            texts.append(text)
        frames[",".join(map(str, combo))] = [images.index(file), texts.index(text)]
    _count += 1
    manifest = {
        "module": module,
        "grid": grid,
        "size": list(image.size),
        "controls": [
            _describe(name, control, choices[name], positions.get(name)) for name, control in controls.items()
        ],
        "varied": list(varied),
        "frames": frames,
        "images": images,
        "texts": texts,
        "seconds": round(time.perf_counter() - start, 2),
    }
    (folder / f"explorer-{_count:02d}.json").write_text(json.dumps(manifest, indent=1))


def encode(image) -> bytes:
    """WebP: lossless keeps a plot's thin lines and small text crisp; photographs (the augmentation gallery)
    take lossy, at high quality, when that is much smaller."""

    def webp(**options):
        buffer = io.BytesIO()
        image.save(buffer, "WEBP", **options)
        return buffer.getvalue()

    lossless, lossy = webp(lossless=True, method=2), webp(quality=85, method=4)
    return lossy if len(lossy) < 0.6 * len(lossless) else lossless


def plan(sizes: dict[str, tuple[int, int]], max_frames: int, max_values: int | None) -> dict[str, list[int]]:
    """For each varied control, the positions (indices into its values) to render.

    ``sizes`` maps a control to (number of values, index of its starting value). The control with the
    most values is thinned, one value at a time, until the product fits ``max_frames``; thinned
    positions are evenly spaced, keep both ends and always the starting value.
    """
    counts = {name: min(n, max_values or n) for name, (n, _) in sizes.items()}
    while math.prod(counts.values()) > max_frames and max(counts.values()) > 2:
        counts[max(counts, key=counts.get)] -= 1
    chosen = {}
    for name, (n, start) in sizes.items():
        k = counts[name]
        spaced = {round(i * (n - 1) / (k - 1)) for i in range(k)} if k > 1 else set()
        if len(spaced | {start}) > k and spaced:  # make room for the start: drop the spaced point nearest to it
            spaced.discard(min(spaced - {0, n - 1} or spaced, key=lambda i: abs(i - start)))
        chosen[name] = sorted(spaced | {start})
    return chosen


def _varied(box, choices: dict) -> tuple[str, ...]:
    """The explorer's featured controls (``connect`` checked that each has a finite list of values)."""
    names = tuple(getattr(box, "featured", None) or (n for n in box.controls if choices[n] is not None))[:2]
    missing = [n for n in names if choices.get(n) is None]
    if missing:
        raise ValueError(f"the featured controls {missing} of {box.figure.render.__module__} have no list of values")
    return names


def _index(values: list, value) -> int:
    for i, (_, v) in enumerate(values):
        if v == value or (
            isinstance(v, float) and isinstance(value, (int, float)) and math.isclose(v, value, rel_tol=1e-9)
        ):
            return i
    raise ValueError(f"{value!r} is not among {values}")


def _describe(name, control, values, positions) -> dict:
    import ipywidgets as w

    kind = (
        "menu"
        if isinstance(control, (w.Dropdown, w.ToggleButtons, w.RadioButtons))
        else "checkbox"
        if isinstance(control, (w.Checkbox, w.ToggleButton))
        else "slider"
    )
    described = {"name": name, "description": control.description or name, "kind": kind}
    if positions is None:  # held at its starting value: the page shows it, disabled
        value = control.value
        label = next((label for label, v in values if v == value), None) if values else None
        return {**described, "varied": False, "label": label if label is not None else str(value)}
    start = _index(values, control.value)
    return {**described, "varied": True, "labels": [values[i][0] for i in positions], "start": positions.index(start)}
