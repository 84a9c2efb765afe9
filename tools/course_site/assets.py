"""The site's own files: its stylesheet and script, nbconvert's JupyterLab stylesheet, and MathJax.

MathJax 2 comes from the ``jupyter-server-mathjax`` package (the Jupyter project's copy, on PyPI), so the site
builds from registry packages alone and serves every file its pages load. That copy ships the STIX web fonts
only: ``\\mathbb``, ``\\mathcal`` and ``\\mathfrak`` still make MathJax's HTML-CSS output ask for a TeX font it
lacks (a 404 that tests/test_site.py reports), so the lessons write an expectation as ``\\mathrm{E}``.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

ASSETS = Path(__file__).parent / "assets"
MATHJAX_LEFT_OUT = ("jax/output/SVG",)  # the HTML-CSS output is the one configured (assets/mathjax-config.js)


def copy_assets(site: Path) -> None:
    import jupyter_server_mathjax
    from jupyter_core.paths import jupyter_path

    assets = site / "assets"
    shutil.copytree(ASSETS, assets)
    lab = next(
        (
            Path(p) / "lab" / "static"
            for p in jupyter_path("nbconvert", "templates")
            if (Path(p) / "lab" / "static" / "index.css").exists()
        ),
        None,
    )
    if lab is None:
        raise SystemExit("nbconvert's lab template is missing (pip install nbconvert)")
    (assets / "jupyter.css").write_text(
        (lab / "index.css").read_text(encoding="utf-8") + "\n" + (lab / "theme-light.css").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    (assets / "mathjax-blank.woff").write_bytes(blank_font())
    mathjax = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(
        mathjax,
        assets / "mathjax",
        ignore=lambda folder, names: [
            n for n in names if (Path(folder) / n).relative_to(mathjax).as_posix() in MATHJAX_LEFT_OUT
        ],
    )


def blank_font() -> bytes:
    """MathJax 2's HTML-CSS output measures text against a font with no widths, ``MathJax_Blank``, which it
    asks for at ``about:blank`` (an error in today's browsers): this one, a few hundred bytes, is served instead."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    names = [".notdef", "blank"]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({code: "blank" for code in range(0x20, 0x7F)})
    builder.setupGlyf({name: TTGlyphPen(None).glyph() for name in names})
    builder.setupHorizontalMetrics({name: (0, 0) for name in names})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "MathJax_Blank", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.font.flavor = "woff"
    buffer = io.BytesIO()
    builder.save(buffer)
    return buffer.getvalue()
