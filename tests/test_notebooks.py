"""Every notebook is executed as a test, in the smoke size, in a fresh kernel.

papermill injects ``SIZE="smoke"`` (and a ``SEED``) after the cell tagged ``parameters`` and runs in the
notebook's own folder. Lessons run with seeds 0, 1 and 2, since a learner who changes the seed must still
see every claim hold; solutions with seed 0. ``COURSE_STRICT=1`` (set in conftest) turns every ``claims.claim`` a lesson makes about
its runs into an assertion, and every solution's exercise check into one, so a change that breaks a
lesson fails here. nbval runs the lesson notebooks a second time (``course.py test`` passes them to
pytest with ``--nbval-lax``) and compares the cells marked ``# NBVAL_CHECK_OUTPUT``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))
ARTIFACTS = ROOT / "artifacts" / "notebooks"
RUNS = [(path, seed) for path in LESSONS for seed in (0, 1, 2)] + [(path, 0) for path in SOLUTIONS]
sys.path.insert(0, str(ROOT / "tools"))
import nbtools  # noqa: E402  (the one repository address, read from pyproject.toml)


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT / "notebooks"))


@pytest.mark.notebook
@pytest.mark.parametrize("path, seed", RUNS, ids=[f"{_id(path)}-seed{seed}" for path, seed in RUNS])
def test_notebook_executes_in_smoke_size(path, seed, monkeypatch):
    import nbclient
    import papermill

    # nbclient imitates a frontend for Output widgets, sending comm messages while it waits for a cell's
    # reply, and now and then misses that reply and stalls until the timeout (jupyter/nbclient#312).
    # The tests need no widget state, so the imitation is turned off: widgets are tested headless in
    # tests/test_widget_*.py and in a real browser in tests/test_browser.py.
    monkeypatch.setattr(nbclient.NotebookClient, "on_comm_open_jupyter_widget", lambda self, msg: None)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    output = ARTIFACTS / path.name.replace(".ipynb", f".smoke-seed{seed}.ipynb")
    papermill.execute_notebook(str(path), str(output), parameters={"SIZE": "smoke", "SEED": seed}, cwd=str(path.parent),
                               kernel_name="python3", execution_timeout=300, progress_bar=False)
    executed = nbformat.read(output, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS, ids=_id)
def test_notebook_is_well_formed(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3", "save with the portable python3 kernel"
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "SIZE" in tagged[0].source and "SEED" in tagged[0].source
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and nbtools.colab_badge(path.relative_to(ROOT).as_posix()) in first.source
    assert any("google.colab" in c.source for c in notebook.cells if c.cell_type == "code")
    sources = "\n".join(c.source for c in notebook.cells)
    assert "NotImplementedError" in sources or path.parent.name == "solutions"


@pytest.mark.parametrize("path", LESSONS, ids=_id)
def test_lesson_has_widget_exercise_summary_and_solution(path):
    notebook = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    text = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "widgets" in code, "every lesson has at least one widget"
    assert "claims.exercise" in code and "Check yourself" in text
    assert "| " in text.split("## Summary")[-1], "ends with a summary table"
    assert (ROOT / "notebooks" / "solutions" / path.name.replace(".ipynb", "_solutions.ipynb")).exists()
    assert all(json.dumps(o).find('"output_type": "error"') < 0 for c in notebook.cells for o in c.get("outputs", []))


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS, ids=_id)
def test_badge_and_colab_install_use_the_one_repository_address(path):
    """pyproject's ``Repository`` is the only address; ``tools/notebooks.py sync-repository`` writes it everywhere."""
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    assert nbtools.colab_badge(path.relative_to(ROOT).as_posix()) in text
    assert nbtools.colab_install_line().strip() in text
    addresses = set(__import__("re").findall(r"github(?:\.com)?/([\w.-]+/[\w.-]+?)(?:/blob|\"|\))", text))
    assert addresses == {nbtools.REPO}, f"other addresses in {path.name}: {addresses - {nbtools.REPO}}"
