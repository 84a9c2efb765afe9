"""Every notebook run the suite makes, made once, two at a time, and shared by the tests that read it.

A lesson runs at the smoke size for seeds 0, 1 and 2, a solution for seed 0, each in a fresh kernel with
``COURSE_STRICT=1`` (a claim that does not hold, or a wrong exercise answer, is an error). The seed-0 run
of a lesson serves three tests, so the lesson runs once for them, as a learner's Run All does:

- its errors (``test_notebook_executes_in_smoke_size``);
- the cells marked ``# NBVAL_CHECK_OUTPUT`` against the stored notebook, with nbval's own comparison
  (``test_checked_outputs_match_the_stored_notebook``; nbval used to run every lesson again for it);
- after the lesson's own cells, cells appended to the run define each exercise's answer (the solutions
  notebook's function) and run every exercise check again, as a learner who writes an answer after Run
  All does; they may fail without stopping the run (``test_exercise_checks_hold_again_after_run_all``);
- its explorers are recorded for the static site while it runs (the quick grid, and the full grid's plan
  without its pictures: ``tools/course_site/full_grid.py``), so the site test builds from them instead of
  running the lessons again. Recording draws frames through the explorers' own code inside the kernel;
  that the lesson's outputs stay the same with it was checked when it was introduced (only printed
  timings differed).

Runs go to a pool of two processes (one per core of the machine the suite is budgeted on), all submitted
when the session starts, in the order the tests need them, so that they run while the unit tests do; each
test waits for its own. The executed copies are kept in ``artifacts/notebooks/``.
"""

from __future__ import annotations

import ast
import multiprocessing
import re
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("*.ipynb"))
SOLUTIONS = sorted((NOTEBOOKS / "solutions").glob("*.ipynb"))
ARTIFACTS = ROOT / "artifacts" / "notebooks"
RECHECK = "exercise-recheck"  # the tag of the cells appended to a lesson's seed-0 run
CELL_TIMEOUT = 300  # seconds a cell may take at the smoke size
JOBS = 2


def solutions_of(lesson: Path) -> Path:
    return NOTEBOOKS / "solutions" / lesson.name.replace(".ipynb", "_solutions.ipynb")


def _tree(source: str):
    """The cell's Python, its IPython lines (``%pip``, ``!ls``) blanked; ``None`` if it still does not parse."""
    try:
        return ast.parse(re.sub(r"(?m)^\s*[%!].*$", "", source))
    except SyntaxError:
        return None


def _raises_not_implemented(function: ast.FunctionDef) -> bool:
    return any(
        isinstance(node, ast.Raise) and node.exc is not None and "NotImplementedError" in ast.unparse(node.exc)
        for node in ast.walk(function)
    )


def exercise_stubs(lesson) -> list[str]:
    """Names of the lesson's functions a learner writes: those whose body raises ``NotImplementedError``."""
    names = []
    for cell in lesson.cells:
        tree = _tree(cell.source) if cell.cell_type == "code" else None
        names += [
            node.name
            for node in (tree.body if tree else [])
            if isinstance(node, ast.FunctionDef) and _raises_not_implemented(node)
        ]
    return names


def answers(solutions, names: list[str]) -> str:
    """The solutions' definitions of ``names``, with the imports of the cells they stand in."""
    found, imports = {}, []
    for cell in solutions.cells:
        tree = _tree(cell.source) if cell.cell_type == "code" else None
        for node in tree.body if tree else []:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                found[node.name] = ast.unparse(node)
                imports += [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    missing = [name for name in names if name not in found]
    if missing:
        raise ValueError(f"the solutions define no {missing}")
    return "\n".join(dict.fromkeys(imports)) + "\n\n" + "\n\n".join(found[name] for name in names)


def with_exercise_rechecks(path: Path):
    """The lesson with cells appended that answer every exercise and run every exercise check again.

    Each appended cell is tagged ``raises-exception`` (the run goes on past an error) and :data:`RECHECK`.
    """
    lesson = nbformat.read(path, as_version=4)
    checks = [cell.source for cell in lesson.cells if cell.cell_type == "code" and "claims.exercise(" in cell.source]
    added = [answers(nbformat.read(solutions_of(path), as_version=4), exercise_stubs(lesson)), *checks]
    for source in added:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = ["raises-exception", RECHECK]
        lesson.cells.append(cell)
    return lesson


def run(path: str, seed: int, frames: str | None) -> dict:
    """Execute one notebook at the smoke size (in a pool's process); what the tests read of it.

    ``frames``: record the lesson's explorers there, and append the exercise re-checks (the seed-0 run).
    """
    from tools.course_site.build import record_lesson
    from tools.execution import execute_notebook

    path = Path(path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    output = ARTIFACTS / path.name.replace(".ipynb", f".smoke-seed{seed}.ipynb")
    parameters, env = {"SIZE": "smoke", "SEED": seed}, {"COURSE_SIZE": "smoke", "COURSE_STRICT": "1"}
    recording = None
    if frames:
        try:
            notebook = with_exercise_rechecks(path)
        except ValueError as error:
            return {"errors": [(-1, f"the exercise re-checks cannot be made: {error}")], "output": None, "seconds": 0}
        result = record_lesson(
            path,
            Path(frames) / path.stem,
            "quick",
            notebook=notebook,
            parameters=parameters,
            env=env,
            output=output,
            timeout=CELL_TIMEOUT,
            hook="tools.course_site.full_grid:record",
        )
        executed = result.pop("run")
        recording = {**result, "folder": str(Path(frames) / path.stem)}
    else:
        executed = execute_notebook(path, output, cwd=path.parent, parameters=parameters, env=env, timeout=CELL_TIMEOUT)
    return {
        "errors": executed.errors,
        "output": str(output),
        "seconds": executed.seconds,
        "recording": recording,
        "rechecks": [i for i, cell in enumerate(executed.notebook.cells) if RECHECK in cell.metadata.get("tags", [])],
        "outside": executed.errors_outside(RECHECK),
    }


class NotebookRuns:
    """The runs the selected tests need, started together in a pool at the first request."""

    def __init__(self, needed: list[tuple[Path, int]], frames: Path):
        self.needed, self.frames = list(dict.fromkeys(needed)), frames
        self.futures: dict[tuple[Path, int], Future] = {}
        self.pool = None

    def start(self) -> None:
        """Submit every needed run (at the session's start: they run beside the tests that need none)."""
        if self.pool is None:
            self.pool = ProcessPoolExecutor(JOBS, mp_context=multiprocessing.get_context("spawn"))
            for key in self.needed:
                self._submit(*key)

    def get(self, path: Path, seed: int = 0) -> dict:
        self.start()
        if (path, seed) not in self.futures:
            self._submit(path, seed)
        return self.futures[(path, seed)].result()

    def _submit(self, path: Path, seed: int) -> None:
        records = path.parent == NOTEBOOKS and seed == 0
        self.futures[(path, seed)] = self.pool.submit(run, str(path), seed, str(self.frames) if records else None)

    def close(self) -> None:
        if self.pool is not None:
            for future in self.futures.values():
                future.cancel()
            self.pool.shutdown(wait=True)


def needed_by(item) -> list[tuple[Path, int]]:
    """The runs a collected test reads: its ``path`` and ``seed`` parameters (seed 0 without one), or, for a
    test with neither (the site test), every lesson's seed-0 run."""
    params = getattr(item, "callspec", None)
    params = params.params if params else {}
    if "path" in params:
        return [(params["path"], params.get("seed", 0))]
    return [(path, 0) for path in LESSONS]
