"""Every notebook is executed as a test, in the smoke size, in a fresh kernel; the lessons' stored outputs are
compared where they are marked, and every exercise check is run again after Run All.

papermill injects ``SIZE="smoke"`` and a ``SEED`` after the cell tagged ``parameters`` and runs in the
notebook's own folder (``tests/notebook_runs.py`` makes every run once, two at a time). Lessons run with
seeds 0, 1 and 2, since a learner who changes the seed must still see every claim hold; solutions with
seed 0. ``COURSE_STRICT=1`` turns every ``claims.claim`` a lesson makes about its runs into an assertion,
and every exercise check into one, so a change that breaks a lesson fails here.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import nbformat
import pytest
from nbval import plugin as nbval
from notebook_runs import LESSONS, NOTEBOOKS, ROOT, SOLUTIONS, solutions_of

from tools import repository

RUNS = [(path, seed) for path in LESSONS for seed in (0, 1, 2)] + [(path, 0) for path in SOLUTIONS]


def _id(path) -> str:
    return str(path.relative_to(NOTEBOOKS))


def _errors(notebook_runs, path, seed) -> str:
    result = notebook_runs.get(path, seed)
    return "; ".join(f"cell {index}: {error}" for index, error in result.get("outside", result["errors"]))


@pytest.mark.notebook
@pytest.mark.parametrize("path, seed", RUNS, ids=[f"{_id(path)}-seed{seed}" for path, seed in RUNS])
def test_notebook_executes_in_smoke_size(path, seed, notebook_runs):
    errors = _errors(notebook_runs, path, seed)
    assert not errors, f"{_id(path)} at seed {seed}: {errors} ({notebook_runs.get(path, seed)['output']})"


# --- nbval's comparison of the marked cells, on the seed-0 run -----------------------------------------------

# nbval 0.11 in lax mode compares only the cells marked NBVAL_CHECK_OUTPUT (a comment or a cell tag), and in
# them every output field except these (its IPyNbFile defaults without --nbdime); no sanitizers are configured.
NBVAL_SKIP_COMPARE = (
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
    "image/jpeg",
)


class _Cell:
    """What nbval's ``IPyNbCell.compare_outputs`` reads of the cell it runs in, as nbval sets it up in lax mode."""

    colors = nbval.nocolors
    compare_outputs = nbval.IPyNbCell.compare_outputs
    format_output_compare = nbval.IPyNbCell.format_output_compare
    ihook = SimpleNamespace(pytest_assertrepr_compare=lambda **_: [])  # nbval's plain fallback report
    config = None

    def __init__(self):
        self.parent = SimpleNamespace(skip_compare=NBVAL_SKIP_COMPARE, sanitize_patterns={})

    def sanitize(self, text):
        return text


def checked(cell) -> bool:
    """Whether nbval in lax mode compares this cell's outputs (its comment markers win over its tags)."""
    options = dict(nbval.find_metadata_tags(cell.metadata))
    options.update(dict(nbval.find_comment_markers(cell.source)))
    return cell.cell_type == "code" and bool(options.get("check")) and not options.get("skip")


def output_differences(stored, executed) -> list[str]:
    """nbval's verdict on every checked cell of ``stored``, against the cell with the same id in ``executed``."""
    by_id = {cell.get("id"): cell for cell in executed.cells}
    problems = []
    for index, cell in enumerate(stored.cells):
        if cell.cell_type != "code":
            continue
        if cell.execution_count is None and cell.outputs:
            problems.append(f"cell {index}: Unrun reference cell has outputs")  # nbval's check of the stored file
        if not checked(cell) or cell.execution_count is None:
            continue
        ran = by_id.get(cell.get("id"))
        if ran is None or "execution_count" not in ran or ran.execution_count is None:
            problems.append(f"cell {index}: not run")
            continue
        comparison = _Cell()
        if not comparison.compare_outputs(nbval.coalesce_streams(ran.outputs), nbval.coalesce_streams(cell.outputs)):
            problems.append(
                f"cell {index} (# NBVAL_CHECK_OUTPUT) differs from the stored output:\n"
                + "\n".join(map(str, comparison.comparison_traceback))
            )
    return problems


@pytest.mark.notebook
@pytest.mark.parametrize("path", LESSONS, ids=_id)
def test_checked_outputs_match_the_stored_notebook(path, notebook_runs):
    """What ``pytest --nbval-lax`` checked, without running the lesson again: the seed-0 smoke run's marked cells
    against the stored outputs (made at the default size: a marked cell prints what does not depend on size)."""
    result = notebook_runs.get(path, 0)
    stored = nbformat.read(path, as_version=4)
    problems = output_differences(stored, nbformat.read(result["output"], as_version=4))
    assert not problems, "\n".join(problems)


def test_output_comparison_finds_a_changed_marked_cell():
    stored = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)"), nbformat.v4.new_code_cell("print(2)")]
    )
    for cell, text in zip(stored.cells, ("1\n", "2\n")):
        cell.execution_count = 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    executed = nbformat.from_dict(json.loads(json.dumps(stored)))
    assert output_differences(stored, executed) == []
    executed.cells[1].outputs[0].text = "3\n"  # not marked: not compared
    assert output_differences(stored, executed) == []
    executed.cells[0].outputs[0].text = "1.0\n"
    assert "cell 0 (# NBVAL_CHECK_OUTPUT) differs" in output_differences(stored, executed)[0]
    executed.cells[0].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="1"),
        nbformat.v4.new_output("stream", name="stdout", text="\n"),
    ]
    assert output_differences(stored, executed) == []  # streams are joined, as nbval joins them


# --- every exercise check, again after Run All -----------------------------------------------------------


@pytest.mark.notebook
@pytest.mark.parametrize("path", LESSONS, ids=[_id(p) for p in LESSONS])
def test_exercise_checks_hold_again_after_run_all(path, notebook_runs):
    """A learner runs the whole lesson, then writes an exercise's answer and runs its check again: no later cell
    may have taken a name the check needs. The seed-0 run goes on, after its last cell, with the solutions'
    answers and every exercise check of the lesson (see ``tests/notebook_runs.py``)."""
    result = notebook_runs.get(path, 0)
    assert not result.get("outside", result["errors"]), f"the lesson did not run: {_errors(notebook_runs, path, 0)}"
    assert len(result["rechecks"]) >= 2, "an answer cell and at least one exercise check"
    failed = [f"cell {index}: {error}" for index, error in result["errors"] if index in result["rechecks"]]
    executed = nbformat.read(result["output"], as_version=4)
    unchecked = [i for i in result["rechecks"][1:] if not re.search("\N{CHECK MARK}", _text(executed.cells[i]))]
    assert not failed, f"exercise checks fail after Run All ({solutions_of(path).name}'s answers): {failed}"
    assert not unchecked, f"no passed check in cells {unchecked}: {[_text(executed.cells[i]) for i in unchecked]}"


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


# --- the files themselves --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS, ids=_id)
def test_notebook_is_well_formed(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3", "save with the portable python3 kernel"
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "SIZE" in tagged[0].source and "SEED" in tagged[0].source
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and repository.colab_badge(path.relative_to(ROOT).as_posix()) in first.source
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
    assert solutions_of(path).exists()
    assert all(json.dumps(o).find('"output_type": "error"') < 0 for c in notebook.cells for o in c.get("outputs", []))


@pytest.mark.parametrize("path", LESSONS + SOLUTIONS, ids=_id)
def test_badge_and_colab_install_use_the_one_repository_address(path):
    """pyproject's ``Repository`` is the only address; ``python -m tools.notebooks sync-repository`` writes it
    everywhere."""
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    assert repository.colab_badge(path.relative_to(ROOT).as_posix()) in text
    assert repository.colab_install_line().strip() in text
    addresses = set(re.findall(r"github(?:\.com)?/([\w.-]+/[\w.-]+?)(?:/blob|\"|\))", text))
    assert addresses == {repository.REPO}, f"other addresses in {path.name}: {addresses - {repository.REPO}}"
