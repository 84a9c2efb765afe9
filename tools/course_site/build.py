"""Build the static site: run the lessons to record their explorers, then write every page.

1. Each lesson with an explorer runs in a fresh kernel (two at a time, one per core here) at the default
   size with its stored seed, as its stored outputs were made, with ``COURSE_EXPLORER_HOOK`` set so that
   every explorer it builds is recorded (:mod:`course_site.record`). ``quick`` runs them at the smoke
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

import jinja2
import nbformat

from . import pages

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
NOTEBOOKS = ROOT / "notebooks"
ASSETS = Path(__file__).parent / "assets"
MARKER = ".course-site"  # in every folder this builder writes: only such a folder is ever replaced
EXPLORER_BUDGET = 4_000_000  # bytes of frames per explorer
SITE_BUDGET = 60_000_000  # bytes for the whole site
MATHJAX_LEFT_OUT = ("jax/output/SVG",)  # the HTML-CSS output is the one configured (assets/mathjax-config.js)


def execute(path: Path, folder: Path, grid: str, size: str, timeout: int) -> dict:
    """Run one notebook in a fresh kernel that records its explorers into ``folder``; map them to cells."""
    import nbclient

    # nbclient imitates a frontend for Output widgets and can stall a cell doing so (jupyter/nbclient#312)
    nbclient.NotebookClient.on_comm_open_jupyter_widget = lambda self, msg: None
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "COURSE_SIZE": size, "COURSE_EXPLORER_HOOK": "course_site.record:record",
           "COURSE_SITE_FRAMES": str(folder), "COURSE_SITE_GRID": grid,
           "PYTHONPATH": os.pathsep.join(p for p in (str(TOOLS), os.environ.get("PYTHONPATH", "")) if p)}
    env.pop("COURSE_STRICT", None)  # frames need the explorers, not the claims (the test suite checks those)
    notebook = nbformat.read(path, as_version=4)
    start, used = time.perf_counter(), _children_cpu()
    cells = {}  # manifest file -> index of the cell that wrote it

    def executed(cell, cell_index, **_):
        for file in folder.glob("explorer-*.json"):
            cells.setdefault(file.name, cell_index)

    client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3", on_cell_executed=executed,
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute(env=env)
    except nbclient.exceptions.CellExecutionError as error:
        return {"path": str(path), "error": str(error)[-3000:]}
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
        copy_assets(site)
        report = check_budgets(site, lessons, quick)
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
    sys.path.insert(0, str(TOOLS))
    import nbtools

    repo_url = f"https://github.com/{nbtools.REPO}"
    home = course_title()
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
            chrome = {"root": "", "header": pages.header(page.title, links, nbtools.colab_url(page.repo_path), home),
                      "footer": pages.footer(links)}
            (site / page.file).write_text(pages.notebook_page(page, files, repo_url, chrome), encoding="utf-8")
            for manifest in page.explorers:
                back = [("", page.file, f"back to {page.title}")]
                content = (f"<h1>{_escape(page.title)}: {_escape(section(page, manifest['cell']))}</h1>\n"
                           + pages.explorer_html(manifest, f"frames/{page.source.stem}/", None))
                (site / manifest["file"]).write_text(render("page.html.j2", title=f"{page.title} (explorer)",
                    body_class="site-present", header=pages.header(page.title, back, None, home), content=content,
                    footer="", mathjax=False), encoding="utf-8")
    (site / "index.html").write_text(home_page(lessons, by_stem, home), encoding="utf-8")


def home_page(lessons, by_stem, home: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    intro = course_intro()
    items = []
    for page in lessons:
        learn = "".join(f"<li>{markdown2html_mistune(item).strip().removeprefix('<p>').removesuffix('</p>')}</li>"
                        for item in page.learn)
        links = []
        solutions = by_stem.get(page.source.stem + "_solutions")
        if solutions:
            links.append(f'<a href="{solutions.file}">solutions</a>')
        for number, manifest in enumerate(page.explorers, start=1):
            links.append(f'<a href="{manifest["file"]}">explorer {number} full screen: {_escape(section(page, manifest["cell"]))}</a>')
        items.append(f'<li><a class="site-lesson" href="{page.file}">{_escape(page.title)}</a>'
                     f'{f"<ul>{learn}</ul>" if learn else ""}<div class="site-links">{" · ".join(links)}</div></li>')
    count = sum(len(p.explorers) for p in lessons)
    content = (f"<h1>{_escape(home)}</h1>\n{markdown2html_mistune(intro)}\n"
               f"<p>Every lesson as its notebook shows it, with its stored outputs; its {count} explorers work here "
               "without Python, over frames their own code drew when this site was built. To change anything else, "
               "open the notebook in JupyterLab or on Colab.</p>\n"
               f'<h2>The lessons</h2>\n<ol class="site-map">{"".join(items)}</ol>\n'
               "<h2>For a class</h2>\n<p>Each explorer has a full-screen page (linked above and under every explorer). "
               "Serve this folder with <code>python3 -m http.server -d site</code>; it needs no network.</p>")
    return render("page.html.j2", title=home, body_class="site-home-page", header=pages.header("", [], None, home),
                  content=content, footer="", mathjax=True)


def section(page, cell_index: int) -> str:
    """The heading of the section an explorer sits in: what its full-screen page is called."""
    notebook = nbformat.read(page.source, as_version=4)
    for cell in reversed(notebook.cells[:cell_index]):
        if cell.cell_type == "markdown":
            for line in reversed(cell.source.splitlines()):
                if line.startswith("#"):
                    return line.lstrip("#").strip().replace("`", "")
    return "explorer"


def course_title() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), "The course")


def course_intro() -> str:
    """The README's first paragraph."""
    blocks = (ROOT / "README.md").read_text(encoding="utf-8").split("\n\n")
    return next((b for b in blocks if b.strip() and not b.lstrip().startswith("#")), "")


def render(template: str, **values) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(pages.TEMPLATES), autoescape=False)
    return env.get_template(template).render(**values)


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def copy_assets(site: Path) -> None:
    import jupyter_server_mathjax
    from jupyter_core.paths import jupyter_path

    assets = site / "assets"
    shutil.copytree(ASSETS, assets)
    lab = next((Path(p) / "lab" / "static" for p in jupyter_path("nbconvert", "templates")
                if (Path(p) / "lab" / "static" / "index.css").exists()), None)
    if lab is None:
        raise SystemExit("nbconvert's lab template is missing (pip install nbconvert)")
    (assets / "jupyter.css").write_text((lab / "index.css").read_text(encoding="utf-8") + "\n"
                                        + (lab / "theme-light.css").read_text(encoding="utf-8"), encoding="utf-8")
    (assets / "mathjax-blank.woff").write_bytes(blank_font())
    mathjax = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(mathjax, assets / "mathjax",
                    ignore=lambda folder, names: [n for n in names
                                                  if (Path(folder) / n).relative_to(mathjax).as_posix() in MATHJAX_LEFT_OUT])


def blank_font() -> bytes:
    """MathJax 2's HTML-CSS output measures text against a font with no widths, ``MathJax_Blank``, which it
    asks for at ``about:blank`` (an error in today's browsers): this one, a few hundred bytes, is served instead."""
    import io

    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    names = [".notdef", "blank"]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({code: "blank" for code in range(0x20, 0x7F)})
    builder.setupGlyf({name: TTGlyphPen(None).glyph() for name in names})
    builder.setupHorizontalMetrics({name: (0, 0) for name in names})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "MathJax_Blank", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.font.flavor = "woff"
    buffer = io.BytesIO()
    builder.save(buffer)
    return buffer.getvalue()


def check_budgets(site: Path, lessons, quick: bool) -> dict:
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
