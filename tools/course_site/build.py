"""Build the static site: run the lessons to record their explorers, then write every page.

1. Each lesson with an explorer runs in a fresh kernel (two at a time, one per core here) at the default
   size with its stored seed, as its stored outputs were made, with a first cell of the builder's own that
   records every explorer it builds (:func:`course_site.record.start`). ``quick`` runs them at the smoke
   size over a coarse grid (three values per control), for the tests.
2. Every notebook, lesson or solutions, becomes a page from its stored outputs (:mod:`course_site.pages`);
   an explorer's frames go to ``frames/<notebook>/``; each explorer also gets a full-screen page.
3. The home page maps the course; stylesheets, scripts and MathJax are copied into ``assets/``, so the
   pages load nothing from elsewhere. The sizes are checked against the budgets below.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat

from . import assets, home, pages

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
NOTEBOOKS = ROOT / "notebooks"
MARKER = ".course-site"  # in every folder this builder writes: only such a folder is ever replaced
EXPLORER_BUDGET = 4_000_000  # bytes of frames per explorer
RECORD = "import course_site.record\ncourse_site.record.start()"  # the builder's first cell in each lesson
SITE_BUDGET = 60_000_000  # bytes for the whole site


def execute(path: Path, folder: Path, grid: str, size: str, timeout: int) -> dict:
    """Run one notebook in a fresh kernel that records its explorers into ``folder``; map them to cells."""
    import nbclient

    # nbclient imitates a frontend for Output widgets and can stall a cell doing so (jupyter/nbclient#312)
    nbclient.NotebookClient.on_comm_open_jupyter_widget = lambda self, msg: None
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "COURSE_SIZE": size, "COURSE_SITE_FRAMES": str(folder), "COURSE_SITE_GRID": grid,
           "PYTHONPATH": os.pathsep.join(p for p in (str(TOOLS), os.environ.get("PYTHONPATH", "")) if p)}
    env.pop("COURSE_STRICT", None)  # frames need the explorers, not the claims (the test suite checks those)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(RECORD))
    start, used = time.perf_counter(), _children_cpu()
    cells = {}  # manifest file -> index of the cell that wrote it, in the notebook as stored

    def executed(cell, cell_index, **_):
        for file in folder.glob("explorer-*.json"):
            cells.setdefault(file.name, cell_index - 1)  # the recording cell comes first

    client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3", on_cell_executed=executed,
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute(env=env)
    except nbclient.exceptions.CellExecutionError as error:
        return {"path": str(path), "error": str(error)[-3000:]}
    failed = [f"cell {i - 1}: {o['ename']}: {o['evalue']}" for i, cell in enumerate(notebook.cells)
              if "raises-exception" not in cell.metadata.get("tags", [])
              for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if failed:  # recording an explorer failed after its cell (IPython shows that error without failing the cell)
        return {"path": str(path), "error": "; ".join(failed)[-3000:]}
    manifests = [{**json.loads((folder / name).read_text()), "cell": cells[name]} for name in sorted(cells)]
    return {"path": str(path), "manifests": manifests, "seconds": time.perf_counter() - start,
            "cpu_seconds": _children_cpu() - used}


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (its kernels): what a run costs, whatever the machine's load."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build(out: Path, quick: bool = False, jobs: int = 2, timeout: int = 900) -> dict:
    """Write the site into ``out`` (replaced whole); return what was built, with sizes and times."""
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
        (site / MARKER).write_text("written by tools/build_site.py; replaced whole by the next build\n")
        run_seconds = record_explorers(lessons, stage / "frames", site, grid, size, jobs, timeout)
        write_pages(lessons, solutions, site)
        assets.copy_assets(site)
        report = check_budgets(site, lessons)
        report.update(seconds=round(time.perf_counter() - start, 1), notebook_seconds=run_seconds, grid=grid, size=size)
        (site / "build.json").write_text(json.dumps(report, indent=1))
        replace(out, site)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return report


def record_explorers(lessons, frames: Path, site: Path, grid: str, size: str, jobs: int, timeout: int) -> dict:
    """Run every lesson that shows an explorer; attach each explorer (its manifest and HTML) to its page."""
    runs = [page for page in lessons if pages.widget_cells(nbformat.read(page.source, as_version=4))]
    errors, seconds = [], {}  # per notebook: wall seconds and the kernel's CPU seconds
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [(page, pool.submit(execute, page.source, frames / page.source.stem, grid, size, timeout)) for page in runs]
        for page, future in futures:
            result = future.result()
            if "error" in result:
                errors.append(f"{page.repo_path}: {result['error']}")
                continue
            seconds[page.source.stem] = {"wall": round(result["seconds"], 1), "cpu": round(result["cpu_seconds"], 1)}
            print(f"  ran {page.repo_path} ({size}): {len(result['manifests'])} explorers in {result['seconds']:.0f} s "
                  f"({result['cpu_seconds']:.0f} s of CPU)", flush=True)
            attach(page, result["manifests"], frames / page.source.stem / "images", site)
    if errors:
        raise SystemExit("the site needs every lesson to run:\n" + "\n".join(errors))
    return seconds


def attach(page, manifests: list[dict], images: Path, site: Path) -> None:
    stem = page.source.stem
    expected = pages.widget_cells(nbformat.read(page.source, as_version=4))
    missing = sorted(set(expected) - {m["cell"] for m in manifests})
    if missing:
        raise SystemExit(f"{page.repo_path}: cells {missing} show a widget, but no explorer was built there; the site "
                         f"places an explorer in the cell that builds it (is the stored notebook out of date? python "
                         f"tools/notebooks.py refresh {stem})")
    unseen = [m["cell"] for m in manifests if m["cell"] not in expected]
    if unseen:  # built, never displayed: the notebook's page has no place for it
        print(f"  {page.repo_path}: explorers built in cells {unseen} show nowhere and are left out", flush=True)
        manifests = [m for m in manifests if m["cell"] in expected]
    target = site / "frames" / stem
    target.mkdir(parents=True, exist_ok=True)
    for number, manifest in enumerate(manifests, start=1):
        manifest["id"] = f"{stem}-explorer-{number}"
        manifest["file"] = f"{manifest['id']}.html"
        for file in manifest["images"]:
            shutil.copyfile(images / file, target / file)
        manifest["bytes"] = sum((target / f).stat().st_size for f in manifest["images"])
        manifest["html"] = pages.explorer_html(manifest, f"frames/{stem}/", manifest["file"])
        page.explorers.append(manifest)


def write_pages(lessons, solutions, site: Path) -> None:
    """A page per notebook, with links to its neighbours and its Colab copy; a page per explorer; the home page."""
    sys.path.insert(0, str(TOOLS))
    import nbtools

    repo_url = f"https://github.com/{nbtools.REPO}"
    title = home.course_title(ROOT)
    files = {page.source.name: page.file for page in lessons + solutions}
    by_stem = {page.source.stem: page for page in lessons + solutions}
    for group in (lessons, solutions):
        for i, page in enumerate(group):
            links = []
            if i > 0:
                links.append(("prev", group[i - 1].file, f"← {group[i - 1].title}"))
            partner = by_stem.get(page.source.stem + "_solutions") or by_stem.get(page.source.stem.removesuffix("_solutions"))
            if partner is not None and partner is not page:
                links.append(("", partner.file, "the solutions" if page.kind == "lesson" else "back to the lesson"))
            if i + 1 < len(group):
                links.append(("next", group[i + 1].file, f"{group[i + 1].title} →"))
            chrome = {"root": "", "header": pages.header(page.title, links, nbtools.colab_url(page.repo_path), title),
                      "footer": pages.footer(links)}
            (site / page.file).write_text(pages.notebook_page(page, files, repo_url, chrome), encoding="utf-8")
            for manifest in page.explorers:
                (site / manifest["file"]).write_text(home.explorer_page(page, manifest, title), encoding="utf-8")
    (site / "index.html").write_text(home.home_page(lessons, by_stem, ROOT), encoding="utf-8")


def check_budgets(site: Path, lessons) -> dict:
    """The sizes against the budgets (a build over them fails); what the report lists."""
    total = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
    explorers = [{"id": m["id"], "frames": len(m["frames"]), "bytes": m["bytes"], "seconds": m["seconds"],
                  "varied": m["varied"]} for page in lessons for m in page.explorers]
    over = [e for e in explorers if e["bytes"] > EXPLORER_BUDGET]
    if over or total > SITE_BUDGET:
        raise SystemExit(f"over budget: site {total / 1e6:.1f} MB (at most {SITE_BUDGET / 1e6:.0f}); explorers over "
                         f"{EXPLORER_BUDGET / 1e6:.0f} MB: {over}")
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
