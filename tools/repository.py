"""Where the course lives on GitHub, read from the one place it is written: pyproject's ``[project.urls]``.

The notebooks' Colab badges and install lines and the static site's *Open in Colab* links are made from it
(``python -m tools.notebooks sync-repository`` rewrites the notebooks; a test checks that they agree).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def repository() -> str:
    """``owner/name`` of the course on GitHub."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^Repository\s*=\s*"https://github\.com/([\w.-]+/[\w.-]+?)/?"', text, re.M)
    if not match:
        raise ValueError('pyproject.toml needs [project.urls] Repository = "https://github.com/OWNER/NAME"')
    return match.group(1)


REPO = repository()


def colab_url(path: str) -> str:
    """Where Colab opens ``path`` (relative to the repository root) from GitHub."""
    return f"https://colab.research.google.com/github/{REPO}/blob/main/{path}"


def colab_badge(path: str) -> str:
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)})"


def colab_install_line() -> str:
    """The line of every notebook's first code cell that installs the course on Colab (a normal install)."""
    return f'    %pip install -q "course_lib @ git+https://github.com/{REPO}"'
