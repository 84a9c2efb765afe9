"""Helpers for writing the course notebooks from Python: the same opening cells everywhere.

    from nbtools import md, code, lesson_opening, save
    cells = lesson_opening("01_optimizers", "Optimizers", [...what you will learn...], "Notebook 00")
    cells += [md("## A question"), code("...")]
    save(cells, "notebooks/01_optimizers.ipynb")

The notebooks themselves are the source of truth; a script using this is a convenience.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def repository() -> str:
    """``owner/name`` of the course on GitHub, read from the one place it lives: pyproject's ``[project.urls]``."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^Repository\s*=\s*"https://github\.com/([\w.-]+/[\w.-]+?)/?"', text, re.M)
    if not match:
        raise ValueError('pyproject.toml needs [project.urls] Repository = "https://github.com/OWNER/NAME"')
    return match.group(1)


REPO = repository()


def md(source: str):
    return nbformat.v4.new_markdown_cell(source.strip("\n"))


def code(source: str, tags: list[str] | None = None):
    cell = nbformat.v4.new_code_cell(source.strip("\n"))
    if tags:
        cell.metadata["tags"] = tags
    return cell


def colab_url(path: str) -> str:
    """Where Colab opens ``path`` (relative to the repository root) from GitHub."""
    return f"https://colab.research.google.com/github/{REPO}/blob/main/{path}"


def colab_badge(path: str) -> str:
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)})"


def colab_install_line() -> str:
    """The line of every notebook's first code cell that installs the course on Colab (a normal install)."""
    return f'    %pip install -q "course_lib @ git+https://github.com/{REPO}"'


def lesson_opening(name: str, title: str, learn: list[str], prerequisites: str, folder: str = "notebooks",
                   imports: str = "") -> list:
    """Badge and title, what you will learn, the Colab install, the parameters cell and the setup cell."""
    bullets = "\n".join(f"- {item}" for item in learn)
    setup = f"""
from course_lib import get_size, pick_device, seed_everything
from course_lib.device import apply_thread_policy, describe_device
{imports}
SIZE = get_size(SIZE)  # smoke (seconds), default (minutes on a laptop CPU) or gpu (larger, for CUDA)
DEVICE = pick_device()
apply_thread_policy()  # tiny models: one CPU thread beats several (COURSE_THREADS=n changes it)
seed_everything(SEED)
print(f"size: {{SIZE}} | device: {{describe_device(DEVICE)}} | seed: {{SEED}}")
"""
    return [
        md(f"{colab_badge(f'{folder}/{name}.ipynb')}\n\n# {title}\n\n**You will learn**\n{bullets}\n\n**Before this:** {prerequisites}"),
        code('''
# On Colab, install the course (torch, matplotlib and ipywidgets are already there and are not upgraded).
import sys
if "google.colab" in sys.modules:
''' + colab_install_line()),
        code('SIZE = None  # "smoke", "default" or "gpu"; None: the COURSE_SIZE variable, else gpu with CUDA, else default\nSEED = 0', tags=["parameters"]),
        code(setup.replace("\n\n", "\n")),
    ]


def save(cells: list, path: str | Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.validate(notebook)
    nbformat.write(notebook, str(path))
