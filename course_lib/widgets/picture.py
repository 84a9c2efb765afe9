"""A figure laid out once, and the fast way to show it again: only what changed is drawn, then sent as an image.

Drawing a figure from scratch and encoding it to PNG takes a slow CPU half a second, mostly for text (ticks,
labels, legends). A :class:`Picture` keeps its axes and artists; ``show(result)`` sets their data. What moves
at almost every change (curves, markers, titles: ``Picture.moving``) is drawn over a copy of the rest; an
axes whose static parts changed (a limit) is drawn again alone, inside its slot (:func:`slots`); legends and
labels over the curves (``Picture.on_top``) are drawn once and their pixels put back. The image goes out
as a PNG in 256 colours (:func:`encode`, :func:`palette`). :class:`~course_lib.widgets.live.LiveFigure`
does the drawing; ``tests/test_widget_cases.py`` checks that it shows exactly the whole picture.
"""

from __future__ import annotations

import math

SPINE = 4  # pixels an axes' spine and its ticks take beyond its box


class Picture:
    """A figure laid out once, whose ``show(result)`` changes only what the result changes.

    A subclass makes its axes and artists in ``__init__(fig)`` (calling ``super().__init__(fig)``) and
    lists in ``moving`` those that change at almost every update, in drawing order. ``show`` sets data
    freely on those; anything else it sets (a limit, a tick, a static line) makes its axes be drawn
    again, so it sets such things only when :meth:`changed` says their value did. ``on_top`` lists
    artists that cover the moving ones and do not change (a legend over the curves, with an opaque
    frame): each is drawn once, and its pixels are put back over the moving artists at every update. To
    change one, make a new one in its place (:meth:`legend` does). A change that brings colours the picture
    did not have (new series) sets ``new_colours``: the PNGs' 256 colours are chosen again from the new drawing.
    ``kept`` lists axes whose drawing never changes once made, shown and hidden in turn (several kept in one
    place, one shown at a time): their pixels are kept, and showing one again puts them back.
    """

    def __init__(self, fig):
        self.fig = fig
        self.moving: list = []
        self.on_top: list = []
        self.kept: list = []
        self.new_colours = False
        self._last: dict = {}

    def show(self, result: dict) -> None:
        raise NotImplementedError

    def legend(self, ax, entries, **options):
        """A legend of ``entries`` (``(artist, label)`` pairs) on ``ax``, over the moving artists (``on_top``).

        It is made again only when the entries change, and then drawn once: keep labels constant where the
        numbers can go in a title or the text beneath the figure.
        """
        handles, labels = [h for h, _ in entries], [label for _, label in entries]
        old = ax.get_legend()
        if old is not None and not self.changed(f"legend {id(ax)}", ([id(h) for h in handles], labels)):
            return old
        self._last[f"legend {id(ax)}"] = ([id(h) for h in handles], labels)
        stale = ax.stale, self.fig.stale
        legend = ax.legend(handles, labels, **{"framealpha": 1, **options})
        ax.stale, self.fig.stale = stale  # making a legend marks its axes changed; on top, it is drawn on its own
        if old in self.on_top:
            self.on_top[self.on_top.index(old)] = legend
        else:
            self.on_top.append(legend)
        return legend

    def changed(self, key: str, value) -> bool:
        """Whether ``value`` differs from the one last given for ``key`` (NaN equals NaN); remembers it."""
        if key in self._last and _same(self._last[key], value):
            return False
        self._last[key] = value
        return True


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def slots(picture: Picture) -> list[tuple[int, int, int, int]]:
    """Each axes' slot, in pixels ``(x0, y0, x1, y1)``, in the order of ``fig.axes``: the part of the figure that is
    cleared and drawn again when only that axes changed.

    A slot holds what its axes draws itself (its box, ticks, tick and axis labels, static titles and texts), as
    drawn last: it reaches halfway across the gap to each neighbour's, and to the figure's edges where there is
    none. ``tests/test_widget_cases.py`` checks that after every change each axes still lies inside the slot it had.
    """
    fig, renderer = picture.fig, picture.fig.canvas.get_renderer()
    extents = [_extent(ax, picture, renderer) for ax in fig.axes]
    width, height = fig.bbox.width, fig.bbox.height
    found = []
    for b in extents:
        rows = [o for o in extents if o is not b and o[1] < b[3] and b[1] < o[3]]  # beside it
        columns = [o for o in extents if o is not b and o[0] < b[2] and b[0] < o[2]]  # above or below it
        x0 = max([(o[2] + b[0]) / 2 for o in rows if o[2] <= b[0]], default=0.0)
        x1 = min([(o[0] + b[2]) / 2 for o in rows if o[0] >= b[2]], default=width)
        y0 = max([(o[3] + b[1]) / 2 for o in columns if o[3] <= b[1]], default=0.0)
        y1 = min([(o[1] + b[3]) / 2 for o in columns if o[1] >= b[3]], default=height)
        found.append((math.floor(x0), math.floor(y0), math.ceil(x1), math.ceil(y1)))
    return found


def fits(picture: Picture, slots: list) -> bool:
    """Whether every axes of ``picture``, as drawn last, lies inside its slot in ``slots`` (for the tests)."""
    renderer = picture.fig.canvas.get_renderer()
    width, height = picture.fig.bbox.width, picture.fig.bbox.height
    for ax, (x0, y0, x1, y1) in zip(picture.fig.axes, slots):
        e = _extent(ax, picture, renderer)
        if max(e[0], 0) < x0 or max(e[1], 0) < y0 or min(e[2], width) > x1 or min(e[3], height) > y1:
            return False
    return True


def _extent(ax, picture: Picture, renderer) -> tuple[float, float, float, float]:
    """What ``ax`` draws itself, but its picture's moving and on-top artists (drawn on their own), in pixels. A hidden
    axes is measured as if shown: its slot is where it will be drawn when a change shows it (one of several axes
    kept in one place, say, each shown in turn)."""
    own = {id(a) for a in [*picture.moving, *picture.on_top]}
    parts = [ax.bbox.padded(SPINE)]
    if ax.axison:
        parts += [axis.get_tightbbox(renderer) for axis in (ax.xaxis, ax.yaxis)]
        parts += [
            a.get_window_extent(renderer)
            for a in (ax.title, ax._left_title, ax._right_title, *ax.texts)
            if a.get_visible() and a.get_text() and id(a) not in own
        ]
    parts = [p for p in parts if p is not None and p.width > 0]
    if not parts:
        return (0.0, 0.0, 0.0, 0.0)
    return (min(p.x0 for p in parts), min(p.y0 for p in parts), max(p.x1 for p in parts), max(p.y1 for p in parts))


def _detach(artist) -> None:
    """Keep a moving artist's parts (a legend's texts, say) from marking the whole figure for a full draw."""
    for child in artist.get_children():
        child.stale_callback = None
        _detach(child)


def encode(canvas, image_format: str = "png", colours=None):
    """The canvas's last drawing as an ``IPython.display.Image``: PNG in 256 colours (a third of the bytes of a
    full-colour one, and quick to write at compression level 1), or JPEG for photographs. ``colours`` (from
    :func:`palette`) saves finding the 256 colours again: mapping onto them takes a tenth of the time."""
    import io

    from IPython.display import Image as Display
    from PIL import Image

    image = _rgb(canvas)
    buffer = io.BytesIO()
    if image_format == "jpeg":
        image.save(buffer, "JPEG", quality=90)
    else:
        if colours is None:
            image = image.quantize(256, method=_quantize().FASTOCTREE)
        else:
            image = image.quantize(palette=colours, dither=Image.Dither.NONE if hasattr(Image, "Dither") else 0)
        image.save(buffer, "PNG", compress_level=1)
    return Display(data=buffer.getvalue(), format=image_format)


def palette(canvas, picture: Picture):
    """256 colours for this picture's PNGs: those of the drawing now on the canvas, and each colour of its moving
    artists over white at four strengths (an artist hidden now, or its antialiased edges, keeps its own colours)."""
    from matplotlib.colors import to_rgba_array
    from PIL import Image

    swatches = set()
    for artist in picture.moving:
        for name in ("get_color", "get_facecolor", "get_edgecolor", "get_markerfacecolor", "get_markeredgecolor"):
            try:
                colours = to_rgba_array(getattr(artist, name)())
            except (AttributeError, TypeError, ValueError):
                continue
            for r, g, b, a in colours:
                for strength in (1.0, 0.75, 0.5, 0.25):
                    t = a * strength
                    swatches.add(tuple(round(255 * (c * t + 1 - t)) for c in (r, g, b)))
    swatches = sorted(swatches)[:128]
    found = _rgb(canvas).quantize(256 - len(swatches), method=_quantize().FASTOCTREE)
    entries = found.getpalette()[: 3 * (256 - len(swatches))] + [c for colour in swatches for c in colour]
    colours = Image.new("P", (1, 1))
    colours.putpalette(entries)
    return colours


def _rgb(canvas):
    from PIL import Image

    width, height = canvas.get_width_height(physical=True)
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    if canvas.figure.get_facecolor()[3] < 1:  # a transparent face: on white, as the frames are
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    return image.convert("RGB")


def _quantize():
    from PIL import Image

    return getattr(Image, "Quantize", Image)  # Pillow >= 9.1 names it Image.Quantize
