#!/usr/bin/env python3
"""Set up and open the course, or set up and run every test. Needs only Python 3.9+.

    python3 course.py lab    # make .venv, install the course, open JupyterLab at notebook 00
    python3 course.py test   # make .venv, install the course and the test tools, run the whole suite
    python3 course.py site   # make .venv as for test, build the static website into site/ (--quick: a coarse grid)

Arguments after the command go on: to JupyterLab (``lab --port=9999``), to pytest (``test -k trainer``), to
the site builder (``site --quick``). Setup happens once: a later call reinstalls only when pyproject.toml
changed. JupyterLab in .venv neither asks to fetch Jupyter news nor checks for updates (a classroom may be
offline): the environment's ``share/jupyter/lab/settings/overrides.json`` turns both off.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
FIRST_NOTEBOOK = "notebooks/00_start_here.ipynb"
# JupyterLab's settings for the whole environment: no news from the internet, no update check
LAB_OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def run(*command: str, **kwargs) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT, **kwargs)


def ensure_venv(extra: str) -> None:
    """Create .venv and install the course with ``extra`` unless that exact setup is already there."""
    stamp = VENV / f".installed-{extra}"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        run(sys.executable, "-m", "venv", str(VENV))
    run(str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f".[{extra}]")
    stamp.write_text(wanted)


def write_lab_overrides(prefix: Path) -> Path:
    """Merge :data:`LAB_OVERRIDES` into the environment's JupyterLab ``overrides.json`` (kept: any other setting)."""
    path = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    settings = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for plugin, values in LAB_OVERRIDES.items():
        settings[plugin] = {**settings.get(plugin, {}), **values}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return path


def setup(extra: str) -> None:
    ensure_venv(extra)
    write_lab_overrides(VENV)


def ensure_chromium() -> None:
    """The browser tests drive Debian's Chromium; install it where we may (root with apt), else they skip
    (under CI, ``CI=true``, they fail instead)."""
    if shutil.which("chromium") or not shutil.which("apt-get") or os.geteuid() != 0:
        return
    try:
        run("apt-get", "update", "-qq")
        run(
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "chromium",
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    except subprocess.CalledProcessError as error:
        print(f"could not install chromium ({error}); the browser tests will skip, or fail under CI", flush=True)


def lab(lab_args: list[str]) -> None:
    """JupyterLab in the course's folder, at notebook 00 unless the arguments name a notebook or folder."""
    setup("lab")
    opens = any(arg.endswith(".ipynb") or (ROOT / arg).is_dir() for arg in lab_args if not arg.startswith("-"))
    command = [str(PYTHON), "-m", "jupyter", "lab", *lab_args, *([] if opens else [FIRST_NOTEBOOK])]
    print("+", " ".join(command), flush=True)
    os.chdir(ROOT)
    os.execv(str(PYTHON), command)


def test(pytest_args: list[str]) -> None:
    setup("dev")
    ensure_chromium()
    env = {**os.environ, "COURSE_SIZE": "smoke", "COURSE_STRICT": "1", "PYTHONUNBUFFERED": "1"}
    command = [str(PYTHON), "-m", "pytest", "tests", "-p", "no:cacheprovider", *pytest_args]
    print("+", " ".join(command), flush=True)
    sys.exit(subprocess.run(command, cwd=ROOT, env=env).returncode)


def site(build_args: list[str]) -> None:
    """Every lesson and solutions page, each explorer as frames; serve it with ``python3 -m http.server -d site``."""
    setup("dev")
    command = [str(PYTHON), "-m", "tools.build_site", *build_args]
    print("+", " ".join(command), flush=True)
    sys.exit(subprocess.run(command, cwd=ROOT).returncode)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="course.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    parser.add_argument("command", choices=("lab", "test", "site"), help="what to do")
    parser.add_argument(
        "arguments",
        nargs=argparse.REMAINDER,
        help="passed on to JupyterLab (lab), pytest (test) or the site builder (site)",
    )
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        parser.error("name a command: lab, test or site")
    args = parser.parse_args(argv)
    {"lab": lab, "test": test, "site": site}[args.command](args.arguments)


if __name__ == "__main__":
    main()
