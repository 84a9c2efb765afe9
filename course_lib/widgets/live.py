"""The one way every widget shows a figure: :class:`LiveFigure`, an ``Output`` of fixed height, redrawn on a change.

This is the portable way (JupyterLab, Notebook 7, VS Code, Colab, Voila): no ipympl needed. With ipympl
installed and ``%matplotlib widget`` run, ``COURSE_WIDGET_BACKEND=ipympl`` (or ``interactive=True``) shows
the canvas itself, redrawn in place: broken on Colab today.
"""

from __future__ import annotations

import html
import os
import weakref
from typing import Callable

from ..validate import check_choice
from .picture import Picture, _detach, encode, palette, slots

BACKENDS = ("output", "ipympl")
IMAGE_FORMATS = ("png", "jpeg")  # png: plots, in 256 colours; jpeg: photographs


def _interactive_default() -> bool:
    backend = os.environ.get("COURSE_WIDGET_BACKEND", "output")
    if backend not in BACKENDS:
        raise ValueError(f"COURSE_WIDGET_BACKEND must be one of {BACKENDS}, got {backend!r}")
    return backend == "ipympl"


class LiveFigure:
    """A matplotlib figure inside an ``Output`` widget, redrawn by ``update(**values)``.

    ``render`` draws and returns the text shown beneath the figure (or ``None``). With ``picture`` (a
    :class:`Picture` subclass) it is ``render(picture, **values)`` on the picture laid out once;
    without, ``render(fig, **values)`` on the cleared figure. A value the render refuses (a
    ``ValueError``) is shown as its message, in place of the picture: the widget stays alive. ``log``
    records each update (values, text, seconds taken and any error), which the tests and
    ``benchmarks/widget_latency.py`` read.
    """

    def __init__(
        self,
        render: Callable,
        figsize=(9, 3.6),
        height: str = "420px",
        interactive: bool | None = None,
        *,
        picture: type[Picture] | None = None,
        dpi: float = 100,
        image_format: str = "png",
    ):
        import ipywidgets as w

        check_choice("image_format", image_format, IMAGE_FORMATS)
        interactive = _interactive_default() if interactive is None else interactive
        self.render, self.picture_class, self.interactive = render, picture, interactive
        self.image_format = image_format
        self.output = w.Output(layout=w.Layout(height=height))
        self.caption = w.HTML(layout=w.Layout(min_height="2.6em"))  # the text a render returns, beneath the figure
        if interactive:
            import matplotlib.pyplot as plt

            with plt.ioff():
                self.fig = plt.figure(figsize=figsize, dpi=dpi)
            if not isinstance(self.fig.canvas, w.DOMWidget):
                plt.close(self.fig)
                raise ValueError(
                    "interactive=True needs ipympl's canvas: pip install ipympl, then run %matplotlib widget"
                )
        else:  # no pyplot: the figure is ours alone, never shown again by a later plt.show()
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            self.fig = Figure(figsize=figsize, dpi=dpi)
            FigureCanvasAgg(self.fig)
        self.picture = picture(self.fig) if picture is not None else None
        self._background = None  # the figure without its moving artists, as last drawn
        self.slots = None  # each axes' slot, in pixels, as laid out at the last full drawing (see slots())
        self._prepared = weakref.WeakSet()  # the moving and on-top artists made animated
        self._stamps = weakref.WeakKeyDictionary()  # each on-top artist -> its pixels, as first drawn
        self._palette = None  # the 256 colours of the PNGs sent, made again at each drawing of the whole figure
        self._showed_message = False  # the last image was a refused value's message, over a cover
        self._kept = weakref.WeakKeyDictionary()  # each of the picture's kept axes -> the pixels of its slot
        self._frames: dict = {}  # dpi -> (figure, picture) for frame()
        self.log: list[dict] = []

    def update(self, **values) -> None:
        import time

        start = time.perf_counter()
        text, error = _render(self.render, self.fig, self.picture, values)
        self.caption.value = f"<div style='font-size: 0.95em; line-height: 1.35'>{html.escape(text)}</div>"
        if self.interactive:
            self.fig.canvas.draw_idle()
        else:
            from IPython.display import display

            image = self._image(showing_message=error is not None)
            with self.output:  # in a kernel, the image goes to the browser; it was encoded above, so it is timed
                self.output.clear_output(wait=True)
                display(image)
        entry = {"values": values, "text": text, "seconds": time.perf_counter() - start}
        if error is not None:
            entry["error"] = f"{type(error).__name__}: {error}"
        self.log.append(entry)
        if error is not None and not isinstance(error, ValueError):
            raise error  # a bug, not a setting: shown in the widget, and raised for the log and the tests

    def _image(self, showing_message: bool):
        """The figure as an ``IPython.display.Image``, drawing only what changed.

        A picture's moving artists are drawn over a copy of the rest (the background). When ``show`` changed
        something else, only the axes it changed are drawn again, each inside its own slot of the layout (its
        share of the figure, see :func:`~course_lib.widgets.picture.slots`); anything else (a figure-level
        text, say) draws the whole figure.
        """
        canvas, fig, picture = self.fig.canvas, self.fig, self.picture
        if picture is None:
            canvas.draw()
            return encode(canvas, self.image_format)
        redrawn = False
        if self._showed_message and not showing_message:  # the copy of the rest shows the message's cover
            self._background = None
        self._showed_message = showing_message
        for artist in [*picture.moving, *picture.on_top]:
            if artist not in self._prepared:  # a picture may replace one (a legend whose entries changed)
                artist.set_animated(True)  # left out of a full draw: drawn over the copy of the rest
                _detach(artist)
                self._prepared.add(artist)
        if self._background is not None and not fig.stale:
            canvas.restore_region(self._background)
        else:
            if self._background is None or not self._redraw_axes():
                canvas.draw()
                self.slots = slots(picture)
                for artist in (*fig.axes, fig):  # measuring the slots touched ticks: nothing changed since the draw
                    artist.stale = False
                self._background = canvas.copy_from_bbox(fig.bbox)
                self._keep_pixels()
                redrawn = True  # a new palette too (an axes drawn again alone keeps its colours)
        if not showing_message:
            renderer = canvas.get_renderer()
            stamps = []
            for artist in picture.on_top:  # drawn the first time, put back as drawn ever after
                if artist.get_visible() and artist.axes.get_visible():
                    if artist not in self._stamps:
                        artist.draw(renderer)
                        self._stamps[artist] = canvas.copy_from_bbox(artist.get_window_extent(renderer).padded(1))
                    stamps.append(self._stamps[artist])
            for artist in picture.moving:
                artist.draw(renderer)
            for stamp in stamps:
                canvas.restore_region(stamp)
        if redrawn or self._palette is None or picture.new_colours:
            self._palette = palette(canvas, picture) if self.image_format == "png" else None
            picture.new_colours = False
        return encode(canvas, self.image_format, self._palette)

    def _redraw_axes(self) -> bool:
        """Draw again only the axes whose static parts changed, each in its slot; False when that cannot be done."""
        fig = self.fig
        stale = [ax for ax in fig.axes if ax.stale]
        others = [a for a in fig.get_children() if a is not fig.patch and a not in fig.axes and a.get_visible()]
        if self.slots is None or len(self.slots) != len(fig.axes) or others or fig.get_facecolor()[3] < 1 or not stale:
            return False
        canvas = fig.canvas
        canvas.restore_region(self._background)
        renderer = canvas.get_renderer()
        for ax in stale:  # every changed slot blanked first: an axes hidden in a slot another one now shows
            _blank(fig, self.slots[fig.axes.index(ax)]).draw(renderer)
        for ax in stale:
            if ax in self._kept and ax.get_visible():
                canvas.restore_region(self._kept[ax])
            else:
                ax.draw(renderer)
            ax.stale = False  # a hidden axes draws nothing, and would stay changed
        fig.stale = False
        self._background = canvas.copy_from_bbox(fig.bbox)
        return True

    def _keep_pixels(self) -> None:
        """After a drawing of the whole figure: the pixels of each kept axes in its slot. A hidden one is drawn alone
        in its slot for that, then the drawing is put back: its first showing is as quick as the next."""
        from matplotlib.transforms import Bbox

        fig, canvas = self.fig, self.fig.canvas
        renderer = canvas.get_renderer()
        self._kept.clear()
        for ax in self.picture.kept:
            x0, y0, x1, y1 = self.slots[fig.axes.index(ax)]
            region = Bbox.from_extents(x0, y0, x1, y1)
            if ax.get_visible():
                self._kept[ax] = canvas.copy_from_bbox(region)
                continue
            stale = ax.stale
            ax.set_visible(True)
            canvas.restore_region(self._background)
            _blank(fig, (x0, y0, x1, y1)).draw(renderer)
            ax.draw(renderer)
            self._kept[ax] = canvas.copy_from_bbox(region)
            ax.set_visible(False)
            ax.stale, fig.stale = stale, False
        if self.picture.kept:
            canvas.restore_region(self._background)

    def frame(self, dpi: float = 96, **values):
        """One still of the explorer: ``(image, text)``, an RGB ``PIL.Image`` and the text beneath it.

        It is drawn by the same ``render`` as every update, on a figure of the same size kept for the
        frames (every artist drawn in full), so the live figure, its log and its ``Output`` are left as
        they are.
        """
        import numpy as np
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from PIL import Image

        if dpi not in self._frames:
            fig = Figure(figsize=self.fig.get_size_inches(), dpi=dpi)
            FigureCanvasAgg(fig)
            self._frames[dpi] = (fig, self.picture_class(fig) if self.picture_class is not None else None)
        fig, picture = self._frames[dpi]
        text, error = _render(self.render, fig, picture, values)
        if error is not None and not isinstance(error, ValueError):
            raise error
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba()).astype(np.float32) / 255
        rgb = rgba[..., :3] * rgba[..., 3:] + (1 - rgba[..., 3:])  # on white: a figure face may be transparent
        return Image.fromarray(np.round(rgb * 255).astype(np.uint8), "RGB"), text

    @property
    def text(self) -> str:
        """The text of the latest update."""
        return self.log[-1]["text"] if self.log else ""

    @property
    def view(self):
        """Where the figure shows: ipympl's canvas, or the ``Output`` it is displayed in."""
        return self.fig.canvas if self.interactive else self.output

    def widget(self):
        """The view with the text beneath it: what an explorer's layout shows."""
        import ipywidgets as w

        return w.VBox([self.view, self.caption])


def _blank(fig, slot):
    """A patch of the figure's colour over ``slot`` (pixels ``(x0, y0, x1, y1)``), to draw an axes again on."""
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import IdentityTransform

    x0, y0, x1, y1 = slot
    blank = Rectangle(
        (x0, y0),
        x1 - x0,
        y1 - y0,
        transform=IdentityTransform(),
        facecolor=fig.get_facecolor(),
        edgecolor="none",
        linewidth=0,
        antialiased=False,
    )
    blank.set_figure(fig)
    return blank


def _render(render: Callable, fig, picture: Picture | None, values: dict):
    """Draw ``values`` on ``fig`` (through ``picture`` when there is one): ``(text, None)`` or ``(message, error)``."""
    if picture is None:
        fig.clear()
    try:
        text = render(picture if picture is not None else fig, **values) or ""
    except Exception as error:  # noqa: BLE001  shown in the figure; the caller raises what is not a setting
        message = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
        _message(fig, message)
        return message, error
    _message(fig, None)
    return text, None


def _message(fig, message: str | None) -> None:
    """Show ``message`` over the picture, on a blank cover of the whole figure (``None``: the picture again). The axes
    are left as the picture set them (a picture may keep some hidden). Sets only what changes."""
    note = getattr(fig, "_course_message", None)
    if message is None and (note is None or not note.get_visible()):
        return
    if note is None:
        from matplotlib.patches import Rectangle

        cover = Rectangle((0, 0), 1, 1, transform=fig.transFigure, facecolor="white", edgecolor="none", zorder=1000)
        fig.add_artist(cover)
        note = fig._course_message = fig.text(
            0.5, 0.5, "", ha="center", va="center", wrap=True, fontsize=12, zorder=1001
        )
        note.cover = cover
    note.set_visible(message is not None)
    note.cover.set_visible(message is not None)
    if message is not None:
        note.set_text(message)
