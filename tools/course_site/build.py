"""Build the static site: run the lessons to record their explorers, then write every page.

1. Each lesson with an explorer runs in a fresh kernel (two at a time, one per core here) at the default
   size with its stored seed, as its stored outputs were made, with a first cell of the builder's own that
   records every explorer it builds (:func:`course_site.record.start`; the cell is taken out of the executed
   notebook again). ``quick`` runs them at the smoke size over a coarse grid (three values per control), for
   the tests (which record while they run the lessons anyway, and pass those recordings in).
2. Every notebook, lesson or solutions, becomes a page from its stored outputs (:mod:`course_site.pages`);
   an explorer's frames go to ``frames/<notebook>/``; each explorer also gets a full-screen page.
3. The home page maps the course; stylesheets, scripts and MathJax are copied into ``assets/``, so the
   pages load nothing from elsewhere. The sizes are checked against the budgets below.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat

from tools import repository
from tools.course_site import assets, home, pages
from tools.notebooks import widget_cells

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
MARKER = ".course-site"  # in every folder this builder writes: only such a folder is ever replaced
EXPLORER_BUDGET = 4_000_000  # bytes of frames per explorer
SITE_BUDGET = 60_000_000  # bytes for the whole site


RECORD = "tools.course_site.record:record"  # what records each explorer: its frames and manifest
RECORDER_TAG = "course-site-recorder"  # the builder's first cell, taken out of the executed notebook


def recording_env(folder: Path, grid: str) -> dict:
    """The environment of a kernel whose explorers are recorded into ``folder``."""
    return {
        "COURSE_SITE_FRAMES": str(folder),
        "COURSE_SITE_GRID": grid,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
    }


def recorder_cell(hook: str = RECORD):
    """The cell the builder puts first in a lesson: from then on, each explorer a cell builds goes to ``hook``."""
    module, function = hook.split(":")
    source = f"import tools.course_site.record, {module}\ntools.course_site.record.start({module}.{function})"
    return nbformat.v4.new_code_cell(source, metadata={"tags": [RECORDER_TAG]})


def record_lesson(
    path: Path,
    folder: Path,
    grid: str,
    *,
    notebook=None,
    parameters: dict | None = None,
    env: dict | None = None,
    output: Path | None = None,
    timeout: int = 900,
    hook: str = RECORD,
) -> dict:
    """Run the lesson at ``path`` (or ``notebook``, a changed copy of it) with its explorers recorded into ``folder``.

    Returns the :class:`tools.execution.Run` (``run``, without the recorder's cell: its cell indexes are the
    lesson's), the manifests, each with ``cell``: the index of the stored lesson's cell that built it (found by
    cell id, so injected or added cells do not shift it), and the seconds it took (``seconds``, and
    ``cpu_seconds`` of the kernel).
    """
    from tools.execution import Run, execute_notebook

    folder.mkdir(parents=True, exist_ok=True)
    stored = {cell.get("id"): index for index, cell in enumerate(nbformat.read(path, as_version=4).cells)}
    lesson = copy.deepcopy(notebook) if notebook is not None else nbformat.read(path, as_version=4)
    lesson.cells.insert(0, recorder_cell(hook))
    cells = {}  # manifest file -> index of the stored cell that wrote it

    def executed(cell, cell_index, **_):
        for file in folder.glob("explorer-*.json"):
            if file.name not in cells and cell.get("id") in stored:
                cells[file.name] = stored[cell.get("id")]

    used = _children_cpu()
    run = execute_notebook(
        lesson,
        output,
        cwd=path.parent,
        parameters=parameters,
        env={**(env or {}), **recording_env(folder, grid)},
        timeout=timeout,
        on_cell_executed=executed,
    )
    ours = [i for i, cell in enumerate(run.notebook.cells) if RECORDER_TAG in cell.metadata.get("tags", [])]
    if len(ours) != 1:
        raise RuntimeError(f"{path}: the recorder's cell is missing from the executed notebook")
    run.notebook.cells.pop(ours[0])
    if any(i == ours[0] for i, _ in run.errors):
        raise RuntimeError(f"{path}: the site's recorder failed to start: {run.errors[0][1]}")
    errors = [(i - (i > ours[0]), error) for i, error in run.errors]
    if output:
        nbformat.write(run.notebook, str(output))
    run = Run(run.notebook, errors, run.seconds)
    manifests = [{**json.loads((folder / name).read_text()), "cell": cells[name]} for name in sorted(cells)]
    return {"run": run, "manifests": manifests, "seconds": run.seconds, "cpu_seconds": _children_cpu() - used}


def _record_for_site(path: Path, folder: Path, grid: str, size: str, timeout: int) -> dict:
    """A lesson as the site records it: as stored, at ``size`` (frames need the explorers, not the claims)."""
    result = record_lesson(path, folder, grid, env={"COURSE_SIZE": size, "COURSE_STRICT": None}, timeout=timeout)
    run = result.pop("run")
    if run.errors:
        index, error = run.errors[0]
        return {"error": f"cell {index}: {error}"}
    return result


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (its kernels): what a run costs, whatever the machine's load."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build(out: Path, quick: bool = False, jobs: int = 2, timeout: int = 900, recordings: dict | None = None) -> dict:
    """Write the site into ``out`` (replaced whole); return what was built, with sizes and times.

    ``recordings`` (for the tests, which record while they run the lessons): per lesson's file stem, what
    :func:`record_lesson` returned for it and the ``folder`` it recorded into; no lesson is run again.
    """
    start = time.perf_counter()
    grid, size = ("quick", "smoke") if quick else ("full", "default")
    lessons = [pages.read_page(p, ROOT, "lesson") for p in sorted(NOTEBOOKS.glob("*.ipynb"))]
    solutions = [pages.read_page(p, ROOT, "solutions") for p in sorted((NOTEBOOKS / "solutions").glob("*.ipynb"))]
    if not lessons:
        raise SystemExit(f"no notebooks in {NOTEBOOKS}")
    stage = Path(tempfile.mkdtemp(prefix="course-site-"))
    try:
        site = stage / "site"
        site.mkdir()
        (site / MARKER).write_text("written by python -m tools.build_site; replaced whole by the next build\n")
        run_seconds = record_explorers(lessons, stage / "frames", site, grid, size, jobs, timeout, recordings)
        write_pages(lessons, solutions, site)
        assets.copy_assets(site)
        report = check_budgets(site, lessons)
        report.update(seconds=round(time.perf_counter() - start, 1), notebook_seconds=run_seconds, grid=grid, size=size)
        (site / "build.json").write_text(json.dumps(report, indent=1))
        replace(out, site)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return report


def record_explorers(
    lessons, frames: Path, site: Path, grid: str, size: str, jobs: int, timeout: int, recordings: dict | None = None
) -> dict:
    """Run every lesson that shows an explorer (or take its recording); attach each explorer to its page."""
    runs = [page for page in lessons if widget_cells(nbformat.read(page.source, as_version=4))]
    pool = ProcessPoolExecutor(max_workers=jobs) if recordings is None else None
    if pool is not None:
        recordings = {
            page.source.stem: pool.submit(_record_for_site, page.source, frames / page.source.stem, grid, size, timeout)
            for page in runs
        }
    errors, seconds = [], {}  # per notebook: wall seconds and the kernel's CPU seconds
    try:
        for page in runs:
            result = recordings.get(page.source.stem, {"error": "no recording of its run was given"})
            if pool is not None:  # a run of this build: wait for it, in order, and say how it went
                result = {**result.result(), "folder": frames / page.source.stem}
            if "error" in result:
                errors.append(f"{page.repo_path}: {result['error']}")
                continue
            seconds[page.source.stem] = {"wall": round(result["seconds"], 1), "cpu": round(result["cpu_seconds"], 1)}
            print(
                f"  {page.repo_path} ({size}): {len(result['manifests'])} explorers, its run took "
                f"{result['seconds']:.0f} s ({result['cpu_seconds']:.0f} s of CPU)",
                flush=True,
            )
            attach(page, result["manifests"], Path(result["folder"]) / "images", site)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    if errors:
        raise SystemExit("the site needs every lesson to run:\n" + "\n".join(errors))
    return seconds


def attach(page, manifests: list[dict], images: Path, site: Path, expected: list[int] | None = None) -> None:
    """Copy each explorer's frames into the site and give the page its HTML. ``expected``: the cells that show a
    widget (default: those of the stored notebook)."""
    stem = page.source.stem
    expected = widget_cells(nbformat.read(page.source, as_version=4)) if expected is None else expected
    missing = sorted(set(expected) - {m["cell"] for m in manifests})
    if missing:
        raise SystemExit(
            f"{page.repo_path}: cells {missing} show a widget, but no explorer was built there; the site "
            f"places an explorer in the cell that builds it (is the stored notebook out of date? python "
            f"-m tools.notebooks refresh {stem})"
        )
    unseen = [m["cell"] for m in manifests if m["cell"] not in expected]
    if unseen:  # built, never displayed: the notebook's page has no place for it
        print(f"  {page.repo_path}: explorers built in cells {unseen} show nowhere and are left out", flush=True)
        manifests = [m for m in manifests if m["cell"] in expected]
    target = site / "frames" / stem
    target.mkdir(parents=True, exist_ok=True)
    for number, manifest in enumerate(manifests, start=1):
        missing = pages.missing_frames(manifest)
        if missing:  # the page would offer settings it cannot show
            raise SystemExit(
                f"{page.repo_path}: the explorer of cell {manifest['cell']} has no frame for the "
                f"positions {missing[:10]} of its controls {manifest['varied']} ({len(missing)} in all)"
            )
        manifest["id"] = f"{stem}-explorer-{number}"
        manifest["file"] = f"{manifest['id']}.html"
        for file in manifest["images"]:
            shutil.copyfile(images / file, target / file)
        manifest["bytes"] = sum((target / f).stat().st_size for f in manifest["images"])
        manifest["html"] = pages.explorer_html(manifest, f"frames/{stem}/", manifest["file"])
        page.explorers.append(manifest)


def write_pages(lessons, solutions, site: Path) -> None:
    """A page per notebook, with links to its neighbours and its Colab copy; a page per explorer; the home page."""
    repo_url = f"https://github.com/{repository.REPO}"
    title = home.course_title(ROOT)
    files = {page.source.name: page.file for page in lessons + solutions}
    by_stem = {page.source.stem: page for page in lessons + solutions}
    for group in (lessons, solutions):
        for i, page in enumerate(group):
            links = []
            if i > 0:
                links.append(("prev", group[i - 1].file, f"← {group[i - 1].title}"))
            partner = by_stem.get(page.source.stem + "_solutions") or by_stem.get(
                page.source.stem.removesuffix("_solutions")
            )
            if partner is not None and partner is not page:
                links.append(("", partner.file, "the solutions" if page.kind == "lesson" else "back to the lesson"))
            if i + 1 < len(group):
                links.append(("next", group[i + 1].file, f"{group[i + 1].title} →"))
            colab = repository.colab_url(page.repo_path)
            chrome = {
                "root": "",
                "header": pages.header(page.title, links, colab, title),
                "footer": pages.footer(links),
            }
            (site / page.file).write_text(pages.notebook_page(page, files, repo_url, chrome), encoding="utf-8")
            for manifest in page.explorers:
                (site / manifest["file"]).write_text(home.explorer_page(page, manifest, title), encoding="utf-8")
    (site / "index.html").write_text(home.home_page(lessons, by_stem, ROOT), encoding="utf-8")


def check_budgets(site: Path, lessons) -> dict:
    """The sizes against the budgets (a build over them fails); what the report lists."""
    total = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
    explorers = [
        {"id": m["id"], "frames": len(m["frames"]), "bytes": m["bytes"], "seconds": m["seconds"], "varied": m["varied"]}
        for page in lessons
        for m in page.explorers
    ]
    over = [e for e in explorers if e["bytes"] > EXPLORER_BUDGET]
    if over or total > SITE_BUDGET:
        raise SystemExit(
            f"over budget: site {total / 1e6:.1f} MB (at most {SITE_BUDGET / 1e6:.0f}); explorers over "
            f"{EXPLORER_BUDGET / 1e6:.0f} MB: {over}"
        )
    html_pages = sorted(f.name for f in site.glob("*.html"))
    return {"bytes": total, "pages": len(html_pages), "explorers": explorers, "page_files": html_pages}


def replace(out: Path, staged: Path) -> None:
    """Put the staged site at ``out``; an existing folder is removed only if this builder wrote it."""
    if out.exists():
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise SystemExit(f"{out} exists and was not written by this builder: remove it or choose another --out")
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(staged), str(out))
