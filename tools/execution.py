"""Run a notebook in a fresh kernel: the one place the course's tools and tests execute notebooks.

papermill injects the parameters after the cell tagged ``parameters`` and runs the notebook with nbclient.
nbclient imitates a frontend for Output widgets, sending comm messages while it waits for a cell's reply,
and now and then misses that reply and stalls until the timeout (jupyter/nbclient#312). Nothing here needs
widget state (widgets are tested headless and in a real browser), so importing this module turns the
imitation off, for every run in this process.
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbclient
import nbformat

nbclient.NotebookClient.on_comm_open_jupyter_widget = lambda self, msg: None


@dataclass
class Run:
    """An executed notebook: its cells with their outputs, the errors they show and how long it took."""

    notebook: nbformat.NotebookNode
    errors: list[tuple[int, str]] = field(default_factory=list)  # (cell index, "Name: message"), in order
    seconds: float = 0.0

    def errors_outside(self, tag: str) -> list[tuple[int, str]]:
        """The errors of cells not tagged ``tag`` (cells that may fail carry ``raises-exception`` and a tag of their
        own)."""
        return [(i, e) for i, e in self.errors if tag not in self.notebook.cells[i].metadata.get("tags", [])]


def execute_notebook(
    notebook: str | Path | nbformat.NotebookNode,
    output: str | Path | None = None,
    *,
    cwd: str | Path,
    parameters: dict | None = None,
    env: dict | None = None,
    kernel_name: str = "python3",
    timeout: int = 900,
    on_cell_executed: Callable | None = None,
) -> Run:
    """Execute ``notebook`` (a path or a notebook) in a fresh kernel started in ``cwd``; return the :class:`Run`.

    ``parameters`` go after the cell tagged ``parameters`` (none given: the notebook runs as stored).
    ``env`` is added to this process's environment for the kernel (a value of ``None`` removes a variable).
    Execution stops at the first error, except in cells tagged ``raises-exception``; the run is returned
    either way, its errors listed. ``output``, if given, receives the executed notebook.
    ``on_cell_executed(cell=..., cell_index=..., execute_reply=...)`` is called after every cell.
    """
    import papermill

    target = Path(output) if output else Path(tempfile.mkstemp(suffix=".ipynb")[1])
    extra = {"on_cell_executed": on_cell_executed} if on_cell_executed else {}
    start = time.perf_counter()
    try:
        with environment(env or {}):
            papermill.execute_notebook(
                notebook if isinstance(notebook, nbformat.NotebookNode) else str(notebook),
                str(target),
                parameters=parameters,
                cwd=str(cwd),
                kernel_name=kernel_name,
                execution_timeout=timeout,
                progress_bar=False,
                **extra,
            )
    except papermill.PapermillExecutionError:
        pass  # the executed notebook, saved before papermill raised, shows the error
    seconds = time.perf_counter() - start
    try:
        executed = nbformat.read(str(target), as_version=4)
    finally:
        if not output:
            target.unlink(missing_ok=True)
    errors = [
        (i, f"{o['ename']}: {o['evalue']}")
        for i, cell in enumerate(executed.cells)
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    return Run(executed, errors, seconds)


@contextmanager
def environment(changes: dict):
    """``os.environ`` with ``changes`` applied (``None`` removes a variable), restored afterwards."""
    saved = {name: os.environ.get(name) for name in changes}
    try:
        for name, value in changes.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = str(value)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
