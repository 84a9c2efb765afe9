"""The course as Colab installs it: a normal (non-editable) install beside Colab's own versions.

Colab's first cell runs ``%pip install "course_lib @ git+https://github.com/..."``: pip builds a wheel and
installs it; Colab keeps its own torch, matplotlib, ipywidgets 7.7.1, ipykernel 6.17 and IPython 7.34,
and opens one notebook alone in an empty folder. An editable checkout hides what a wheel leaves out
(a subpackage missing from the package list, a data file read from the repository), so this test
builds the wheel, installs it into a fresh environment pinned to Colab's versions of the Jupyter
packages (reusing this environment's torch and the rest through a ``.pth`` line, after the pinned ones,
rather than downloading them again), imports every module, drives a widget there, and executes
notebook 00 and a widget-heavy lesson at the smoke size in a kernel of that environment, each from a
folder that holds nothing but the notebook.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = ROOT / "build" / "colab-env"  # kept between runs (ignored by git); rebuilt when the pins change
COLAB_PINS = ["ipywidgets==7.7.1", "ipykernel==6.17.1", "ipython==7.34.0"]
NOTEBOOKS = ["00_start_here.ipynb", "04_reduce_lr_on_plateau.ipynb"]

pytestmark = [pytest.mark.slow, pytest.mark.install]


def run(*command, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, ROOT)
    (path,) = out.glob("course_lib-*.whl")
    return path


@pytest.fixture(scope="module")
def colab_python(wheel) -> Path:
    """A fresh environment with Colab's Jupyter pins and the wheel; the rest comes from this environment."""
    python = ENV / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    stamp, wanted = ENV / ".pins", hashlib.sha256(" ".join(COLAB_PINS).encode()).hexdigest()
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        shutil.rmtree(ENV, ignore_errors=True)
        run(sys.executable, "-m", "venv", ENV)
        run(python, "-m", "pip", "install", "--quiet", *COLAB_PINS)
        site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
        # Last on sys.path: Colab's preinstalled torch, matplotlib, scikit-learn... are this environment's.
        (site / "zz_reuse_course_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        stamp.write_text(wanted)
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", wheel)
    return python


def test_the_wheel_holds_every_module_of_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / "course_lib").rglob("*.py")}
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"


def test_every_module_imports_and_a_widget_answers_its_slider_with_colab_versions(colab_python, tmp_path):
    script = """
import importlib, json, pkgutil
import IPython, ipykernel, ipywidgets, matplotlib
matplotlib.use("Agg")
import course_lib
modules = [m.name for m in pkgutil.walk_packages(course_lib.__path__, "course_lib.")]
for name in modules:
    importlib.import_module(name)
from course_lib.widgets import plateau_explorer
box = plateau_explorer.explorer()
before = box.figure.text
box.controls["patience"].value = 1
print(json.dumps({"file": course_lib.__file__, "modules": modules, "versions": [ipywidgets.__version__, ipykernel.__version__,
                  IPython.__version__], "logged": len(box.figure.log), "changed": box.figure.text != before}))
"""
    result = json.loads(run(colab_python, "-c", script, cwd=tmp_path).stdout.strip().splitlines()[-1])
    installed = Path(result["file"]).resolve()
    assert "site-packages" in installed.parts and ROOT / "course_lib" not in installed.parents, (
        "the wheel, not the checkout"
    )
    assert "course_lib.widgets.lr_explorer" in result["modules"]
    assert result["versions"] == ["7.7.1", "6.17.1", "7.34.0"]
    assert result["logged"] == 2 and result["changed"]


@pytest.mark.notebook
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_alone_in_an_empty_folder_with_the_installed_course(colab_python, tmp_path, name, monkeypatch):
    from tools.execution import execute_notebook

    kernels = tmp_path / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(colab_python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Colab-like",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    folder = tmp_path / "colab"
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / name, folder / name)
    run = execute_notebook(
        folder / name,
        folder / f"executed-{name}",
        cwd=folder,
        parameters={"SIZE": "smoke"},
        kernel_name="colab",
        timeout=300,
    )
    assert not run.errors
    assert any("course_lib" in "".join(c.source) for c in run.notebook.cells)
