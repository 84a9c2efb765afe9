"""Widgets: thin ipywidgets layouts over pure functions.

Each widget module has a pure ``compute(...)`` (numbers in, plain data out, cached per value), a
``draw(result, ax)`` that only plots, and a ``*_explorer()`` that wires controls to them through
:class:`LiveFigure`. Tests drive the controls by setting ``.value`` and read the figure's data, since
callbacks fire synchronously without a browser. ``ipywidgets`` and ``matplotlib`` are imported here, when
a widget is built, never when ``course_lib`` is imported.
"""
