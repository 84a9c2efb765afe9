"""HTML for the site: nbconvert's JupyterLab page per notebook, the home page, a page per explorer.

A notebook page is the stored notebook as JupyterLab shows it (prose, maths, code, outputs), through
nbconvert's ``lab`` template extended by ``templates/course`` (assets served by the site, a header with
the course's navigation and an *Open in Colab* link). The output of an explorer cell (the widget's note
or its saved view) is replaced by the static explorer: controls, the frame and its text.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import nbformat

from tools.notebooks import is_widget

TEMPLATES = Path(__file__).parent / "templates"
BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)[ \t]*\n*")
LINK = re.compile(r"\]\((?!https?:|mailto:|#)([^)\s]+?)(#[^)\s]*)?\)")


@dataclass
class Page:
    """One notebook's page: where it comes from, where it goes, and its place in the course."""

    source: Path  # the notebook
    repo_path: str  # its path in the repository, for Colab
    file: str  # the page's file name in the site
    title: str
    learn: list[str] = field(default_factory=list)  # the "You will learn" bullets (markdown)
    kind: str = "lesson"  # or "solutions"
    explorers: list[dict] = field(default_factory=list)  # manifests, with "cell" and "file" added


def read_page(path: Path, root: Path, kind: str) -> Page:
    notebook = nbformat.read(path, as_version=4)
    first = next((c.source for c in notebook.cells if c.cell_type == "markdown"), "")
    title = next((line[2:].strip() for line in first.splitlines() if line.startswith("# ")), path.stem)
    learn = []
    if "**You will learn**" in first:
        for line in first.split("**You will learn**", 1)[1].splitlines()[1:]:
            if not line.startswith("- "):
                break
            learn.append(line[2:].strip())
    return Page(path, path.relative_to(root).as_posix(), f"{path.stem}.html", title, learn, kind)


def missing_frames(manifest: dict) -> list[str]:
    """The combinations of the varied controls' positions that the page offers and no frame shows (``"i,j"``)."""
    by_name = {c["name"]: c for c in manifest["controls"]}
    offered = product(*(range(len(by_name[name]["labels"])) for name in manifest["varied"]))
    return [key for key in (",".join(map(str, combo)) for combo in offered) if key not in manifest["frames"]]


def explorer_html(manifest: dict, frames_url: str, present_href: str | None) -> str:
    """The static explorer: one input per varied control, the others shown disabled, the frame, its text."""
    by_name = {c["name"]: c for c in manifest["controls"]}
    varied = [by_name[name] for name in manifest["varied"]]
    image, text = manifest["frames"][",".join(str(c["start"]) for c in varied)]
    controls, fixed = [], []
    for control in varied:
        name, labels, position = control["name"], control["labels"], control["start"]
        label = html.escape(control["description"])
        if control["kind"] == "menu":
            options = "".join(
                f'<option value="{i}"{" selected" if i == position else ""}>{html.escape(label)}</option>'
                for i, label in enumerate(labels)
            )
            widget = f'<select data-control="{name}">{options}</select>'
        elif control["kind"] == "checkbox" and len(labels) == 2:
            widget = f'<input type="checkbox" data-control="{name}"{" checked" if position == 1 else ""}>'
        else:
            widget = (
                f'<input type="range" data-control="{name}" min="0" max="{len(labels) - 1}" step="1" '
                f'value="{position}" aria-valuetext="{html.escape(labels[position])}">'
                f'<output data-for="{name}">{html.escape(labels[position])}</output>'
            )
        controls.append(f'<label class="ce-control"><span class="ce-name">{label}</span>{widget}</label>')
    for control in manifest["controls"]:
        if not control.get("varied"):
            fixed.append(
                f'<span class="ce-control"><span class="ce-name">{html.escape(control["description"])}</span> '
                f"{html.escape(control['label'])}</span>"
            )
    held = f'<p class="ce-fixed">Held at their starting values on this page: {"".join(fixed)}</p>' if fixed else ""
    data = {
        "varied": manifest["varied"],
        "frames": manifest["frames"],
        "images": manifest["images"],
        "texts": manifest["texts"],
        "labels": {c["name"]: c["labels"] for c in varied},
    }
    width, height = manifest["size"]
    count = len(manifest["frames"])
    present = f' · <a class="ce-present" href="{present_href}">full screen, for a class</a>' if present_href else ""
    return (
        f'<figure class="course-explorer" id="{manifest["id"]}" data-frames="{frames_url}">\n'
        f'<div class="ce-controls">{"".join(controls)}</div>\n{held}\n'
        f'<img class="ce-frame" src="{frames_url}{manifest["images"][image]}" width="{width}" height="{height}" '
        f'alt="{html.escape(manifest["texts"][text])}">\n'
        f'<figcaption class="ce-text">{html.escape(manifest["texts"][text])}</figcaption>\n'
        f'<p class="ce-about">{count} frames drawn at build time by this explorer\'s own code; run the notebook '
        f"for every setting{present}</p>\n"
        f'<script type="application/json" class="ce-data">{_json_for_script(data)}</script>\n</figure>'
    )


def _json_for_script(data) -> str:
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def header(title: str, links: list[tuple[str, str, str]], colab: str | None, home: str) -> str:
    """The bar on top of every page: home, the page's title, its neighbours, Open in Colab."""
    nav = " ".join(
        f'<a{f" rel={rel}" if rel else ""} href="{href}">{html.escape(text)}</a>' for rel, href, text in links
    )
    colab_link = (
        f'<a class="site-colab" href="{colab}" target="_blank" rel="noopener">Open in Colab</a>' if colab else ""
    )
    return (
        f'<header class="site-header"><a class="site-home" href="index.html">{html.escape(home)}</a>'
        f'<span class="site-title">{html.escape(title)}</span><nav class="site-nav">{nav}</nav>{colab_link}</header>'
    )


def footer(links: list[tuple[str, str, str]]) -> str:
    nav = " ".join(
        f'<a{f" rel={rel}" if rel else ""} href="{href}">{html.escape(text)}</a>' for rel, href, text in links
    )
    return f'<footer class="site-footer"><nav class="site-nav">{nav}</nav></footer>'


def rewrite_links(source: str, pages: dict[str, str], repo_url: str, folder: str) -> str:
    """Links between notebooks go to their pages; other relative links go to the file on GitHub."""

    def replace(match):
        target, anchor = match.group(1), match.group(2) or ""
        name = Path(target).name
        if name in pages:
            return f"]({pages[name]}{anchor})"
        resolved = (Path(folder) / target).as_posix()
        parts = []
        for part in resolved.split("/"):
            if part == "..":
                parts = parts[:-1]
            elif part not in (".", ""):
                parts.append(part)
        return f"]({repo_url}/blob/main/{'/'.join(parts)}{anchor})"

    return LINK.sub(replace, source)


def notebook_page(page: Page, pages: dict[str, str], repo_url: str, site: dict) -> str:
    """The page for one notebook, its explorers in place of their widget outputs."""
    from nbconvert import HTMLExporter

    notebook = nbformat.read(page.source, as_version=4)
    notebook.metadata.pop("widgets", None)
    folder = str(Path(page.repo_path).parent)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            if index == 0 or BADGE.search(cell.source):
                cell.source = BADGE.sub("", cell.source)  # the badge's image lives on Colab: the header links there
            cell.source = rewrite_links(cell.source, pages, repo_url, folder)
    by_cell = {}
    for explorer in page.explorers:
        by_cell.setdefault(explorer["cell"], []).append(explorer)
    for index, explorers in by_cell.items():
        cell = notebook.cells[index]
        markup = "\n".join(e["html"] for e in explorers)
        outputs = [o for o in cell.get("outputs", []) if is_widget(o)]
        if outputs:
            outputs[0]["data"] = {"text/html": markup}
            for extra in outputs[1:]:
                cell.outputs.remove(extra)
        else:
            cell.outputs.append(nbformat.v4.new_output("display_data", data={"text/html": markup}))
    exporter = HTMLExporter(template_name="course", extra_template_basedirs=[str(TEMPLATES)])
    body, _ = exporter.from_notebook_node(notebook, resources={"site": site, "metadata": {"name": page.title}})
    return body
