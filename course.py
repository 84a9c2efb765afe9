#!/usr/bin/env python3
"""Set up and open the course, or set up and run every test. Needs only Python 3.9+.

    python3 course.py lab    # make .venv, install the course, open JupyterLab at notebook 00
    python3 course.py test   # make .venv, install the course and the test tools, run the whole suite
    python3 course.py site   # make .venv as for test, build the static website into site/ (--quick: a coarse grid)

Setup happens once: a later call reinstalls only when pyproject.toml changed.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


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


def ensure_chromium() -> None:
    """The browser tests drive Debian's Chromium; install it where we may (root with apt), else they skip
    (under CI, ``CI=true``, they fail instead)."""
    if shutil.which("chromium") or not shutil.which("apt-get") or os.geteuid() != 0:
        return
    try:
        run("apt-get", "update", "-qq")
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium",
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    except subprocess.CalledProcessError as error:
        print(f"could not install chromium ({error}); the browser tests will skip, or fail under CI", flush=True)


def lab() -> None:
    ensure_venv("lab")
    os.execv(str(PYTHON), [str(PYTHON), "-m", "jupyter", "lab", "notebooks/00_start_here.ipynb"])


def test(pytest_args: list[str]) -> None:
    ensure_venv("dev")
    ensure_chromium()
    env = {**os.environ, "COURSE_SIZE": "smoke", "COURSE_STRICT": "1", "PYTHONUNBUFFERED": "1"}
    lessons = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb"))
    command = [str(PYTHON), "-m", "pytest", "tests", *lessons, "--nbval-lax", "--nbval-current-env",
               "--nbval-cell-timeout=300", "-p", "no:cacheprovider", *pytest_args]
    print("+", " ".join(command), flush=True)
    sys.exit(subprocess.run(command, cwd=ROOT, env=env).returncode)


def site(build_args: list[str]) -> None:
    """Every lesson and solutions page, each explorer as frames; serve it with ``python3 -m http.server -d site``."""
    ensure_venv("dev")
    command = [str(PYTHON), "tools/build_site.py", *build_args]
    print("+", " ".join(command), flush=True)
    sys.exit(subprocess.run(command, cwd=ROOT).returncode)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("lab", "test", "site"):
        sys.exit(__doc__)
    if sys.argv[1] == "lab":
        lab()
    test(sys.argv[2:]) if sys.argv[1] == "test" else site(sys.argv[2:])
