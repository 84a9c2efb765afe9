"""For the tests, inside a lesson's kernel: each explorer recorded as the quick site draws it, and planned as the
full site would draw it, without drawing.

The full site records up to 72 frames per explorer at the default size: minutes per lesson. What can go wrong
there, without a wrong picture, is the plan and the page: which positions a control offers and which frames
exist for them. So after :func:`tools.course_site.record.record` has drawn the quick grid, the same function
records the full grid again into ``<COURSE_SITE_FRAMES>/full-grid/``, with every frame a blank picture whose text
names the values of every control: the site test checks on those manifests that every position each control
offers has a frame of its own.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

from tools.course_site import record as recorder

FOLDER = "full-grid"


def record(box) -> None:
    recorder.record(box)
    saved = {name: os.environ.get(name) for name in ("COURSE_SITE_FRAMES", "COURSE_SITE_GRID")}
    os.environ["COURSE_SITE_FRAMES"] = os.path.join(saved["COURSE_SITE_FRAMES"], FOLDER)
    os.environ["COURSE_SITE_GRID"] = "full"
    try:
        recorder.record(
            SimpleNamespace(
                controls=box.controls,
                featured=box.featured,
                figure=SimpleNamespace(render=box.figure.render, frame=_blank),
            )
        )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _blank(dpi, **values):
    from PIL import Image

    return Image.new("RGB", (4, 4), "white"), "; ".join(f"{name}={values[name]!r}" for name in sorted(values))
