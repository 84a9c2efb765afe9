"""The home page (the map of the course, read from the files) and the page of one explorer, for a class."""

from __future__ import annotations

import html
from pathlib import Path

import jinja2
import nbformat

from tools.course_site import pages


def home_page(lessons, by_stem: dict, root: Path) -> str:
    """The README's title and first paragraph, then every lesson in order: what it teaches and where its parts are."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    title, intro = course_title(root), course_intro(root)
    items = []
    for page in lessons:
        learn = "".join(f"<li>{_inline(markdown2html_mistune(item))}</li>" for item in page.learn)
        links = []
        solutions = by_stem.get(page.source.stem + "_solutions")
        if solutions:
            links.append(f'<a href="{solutions.file}">solutions</a>')
        for number, manifest in enumerate(page.explorers, start=1):
            links.append(
                f'<a href="{manifest["file"]}">explorer {number} full screen: '
                f"{html.escape(section(page, manifest['cell']))}</a>"
            )
        items.append(
            f'<li><a class="site-lesson" href="{page.file}">{html.escape(page.title)}</a>'
            f'{f"<ul>{learn}</ul>" if learn else ""}<div class="site-links">{" · ".join(links)}</div></li>'
        )
    count = sum(len(p.explorers) for p in lessons)
    content = (
        f"<h1>{html.escape(title)}</h1>\n{markdown2html_mistune(intro)}\n"
        f"<p>Every lesson as its notebook shows it, with its stored outputs; its {count} explorers work here "
        "without Python, over frames their own code drew when this site was built. To change anything else, "
        "open the notebook in JupyterLab or on Colab.</p>\n"
        f'<h2>The lessons</h2>\n<ol class="site-map">{"".join(items)}</ol>\n'
        "<h2>For a class</h2>\n<p>Each explorer has a full-screen page (linked above and under every explorer). "
        "Serve this folder with <code>python3 -m http.server -d site</code>; it needs no network.</p>"
    )
    return render_template(
        "page.html.j2",
        title=title,
        body_class="site-home-page",
        content=content,
        footer="",
        header=pages.header("", [], None, title),
        mathjax=True,
    )


def explorer_page(page, manifest: dict, title: str) -> str:
    """One explorer alone, as large as the screen allows, with a link back to its lesson."""
    back = [("", page.file, f"back to {page.title}")]
    content = (
        f"<h1>{html.escape(page.title)}: {html.escape(section(page, manifest['cell']))}</h1>\n"
        + pages.explorer_html(manifest, f"frames/{page.source.stem}/", None)
    )
    return render_template(
        "page.html.j2",
        title=f"{page.title} (explorer)",
        body_class="site-present",
        content=content,
        header=pages.header(page.title, back, None, title),
        footer="",
        mathjax=False,
    )


def section(page, cell_index: int) -> str:
    """The heading of the section an explorer sits in: what its full-screen page is called."""
    notebook = nbformat.read(page.source, as_version=4)
    for cell in reversed(notebook.cells[:cell_index]):
        if cell.cell_type == "markdown":
            for line in reversed(cell.source.splitlines()):
                if line.startswith("#"):
                    return line.lstrip("#").strip().replace("`", "")
    return "explorer"


def course_title(root: Path) -> str:
    text = (root / "README.md").read_text(encoding="utf-8")
    return next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), "The course")


def course_intro(root: Path) -> str:
    """The README's first paragraph."""
    blocks = (root / "README.md").read_text(encoding="utf-8").split("\n\n")
    return next((b for b in blocks if b.strip() and not b.lstrip().startswith("#")), "")


def render_template(template: str, **values) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(pages.TEMPLATES), autoescape=False)
    return env.get_template(template).render(**values)


def _inline(paragraph: str) -> str:
    return paragraph.strip().removeprefix("<p>").removesuffix("</p>")
