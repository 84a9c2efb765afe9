"""Widgets: thin ipywidgets layouts over pure functions.

Each widget module has a pure ``compute(...)`` (numbers in, plain data out, cached per value), a ``Picture``
that lays its figure out once and shows a result by setting its artists' data, a ``describe(result)`` that
says it in a sentence, and an ``explorer()`` that wires controls to them through :class:`LiveFigure`
(:mod:`course_lib.widgets.base` states the contract). Tests drive the controls by setting ``.value`` and read
the figure's data, since callbacks fire synchronously without a browser. ``ipywidgets`` and ``matplotlib``
are imported when a widget is built, never when ``course_lib`` is imported.
"""
