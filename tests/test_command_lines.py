"""The command lines: ``course.py`` and the maintenance tools refuse a bad argument as argparse does (the usage,
the argument named, exit status 2, no traceback), and pass on what belongs to the program they start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import course

ROOT = Path(__file__).resolve().parents[1]


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "command, named",
    [
        (("course.py",), "name a command"),
        (("course.py", "serve"), "argument command: invalid choice: 'serve'"),
        (("-m", "tools.notebooks", "run", "--jobs", "0"), "argument --jobs: must be a positive integer, got 0"),
        (("-m", "tools.notebooks", "run", "--jobs", "two"), "argument --jobs: must be a positive integer, got 'two'"),
        (("-m", "tools.notebooks", "run", "--seed", "-1"), "argument --seed: must be a non-negative integer, got -1"),
        (("-m", "tools.notebooks", "check", "--seeds", "0", "-2"), "argument --seeds: must be a non-negative integer"),
        (
            ("-m", "tools.notebooks", "check", "--seeds", "0", "07"),
            "argument --seeds: '07' looks like a notebook's name",
        ),
        (
            ("-m", "tools.notebooks", "check", "--timeout", "-5"),
            "argument --timeout: must be a positive integer, got -5",
        ),
        (("-m", "tools.notebooks", "check", "--kernel-sets", "sse"), "argument --kernel-sets: invalid choice: 'sse'"),
        (("-m", "tools.notebooks", "run", "no-such-lesson"), "argument notebooks: 'no-such-lesson' names 0 notebooks"),
        (("-m", "tools.notebooks", "run", "00", "--store", "--seed", "1"), "argument --store: only the default size"),
        (("-m", "tools.build_site", "--jobs", "-1"), "argument --jobs: must be a positive integer, got -1"),
        (("-m", "tools.build_site", "--timeout", "0"), "argument --timeout: must be a positive integer, got 0"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else None,
)
def test_a_bad_argument_gets_the_usage_and_exit_status_2(command, named):
    result = run(sys.executable, *command)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("usage: ") and named in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def started(monkeypatch) -> list:
    """What ``course.py`` would start, instead of starting it (its setup and the program are replaced)."""
    calls = []
    monkeypatch.setattr(course, "setup", lambda extra: calls.append(("setup", extra)))
    monkeypatch.setattr(course, "ensure_chromium", lambda: None)
    monkeypatch.setattr(course.os, "execv", lambda path, argv: calls.append(("exec", argv)))
    monkeypatch.setattr(course.os, "chdir", lambda path: None)
    monkeypatch.setattr(
        course.subprocess,
        "run",
        lambda command, **_: calls.append(("run", command)) or subprocess.CompletedProcess(command, 0),
    )
    return calls


def test_lab_passes_its_arguments_on_to_jupyterlab(started):
    course.main(["lab", "--port=9999", "--no-browser"])
    assert started[0] == ("setup", "lab")
    argv = started[1][1]
    assert argv[1:4] == ["-m", "jupyter", "lab"] and argv[4:] == ["--port=9999", "--no-browser", course.FIRST_NOTEBOOK]
    started.clear()
    course.main(["lab", "notebooks/03_schedulers.ipynb"])
    assert started[1][1][4:] == ["notebooks/03_schedulers.ipynb"], "a notebook named opens instead of notebook 00"


@pytest.mark.parametrize(
    "command, program", [("test", ["-m", "pytest", "tests"]), ("site", ["-m", "tools.build_site"])]
)
def test_test_and_site_pass_their_arguments_on(started, command, program):
    with pytest.raises(SystemExit) as stop:
        course.main([command, "-k", "trainer", "--quick"])
    assert stop.value.code == 0
    ran = started[-1][1]
    assert ran[1 : 1 + len(program)] == program and ran[-3:] == ["-k", "trainer", "--quick"]


def test_setup_turns_jupyterlab_news_and_update_checks_off(tmp_path, monkeypatch):
    """The environment course.py makes tells JupyterLab not to ask for news nor check for updates (a classroom may be
    offline); settings already there stay."""
    monkeypatch.setattr(course, "VENV", tmp_path)
    monkeypatch.setattr(course, "ensure_venv", lambda extra: None)
    overrides = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    overrides.parent.mkdir(parents=True)
    overrides.write_text(
        json.dumps(
            {
                "@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                "@jupyterlab/apputils-extension:notification": {"doNotDisturbMode": True},
            }
        )
    )
    course.setup("lab")
    settings = json.loads(overrides.read_text())
    assert settings["@jupyterlab/apputils-extension:notification"] == {
        "doNotDisturbMode": True,
        "fetchNews": "false",
        "checkForUpdates": False,
    }
    assert settings["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}


def test_kernel_sets_cap_aten_mkl_and_onednn_alike_and_skip_what_the_cpu_lacks(monkeypatch, capsys):
    from tools import notebooks

    avx2 = notebooks.kernel_set_env("avx2")
    assert {name: avx2[name] for name in ("ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA")} == {
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
    }
    assert set(notebooks.kernel_set_env("native").values()) == {None}, "native: no ceiling set, none inherited"
    assert notebooks.kernel_set_env("default")["ATEN_CPU_CAPABILITY"] == "default"
    # each capped set compiles into a cache of its own (a shared one handed AVX2 runs an AVX-512 kernel)
    caches = {notebooks.kernel_set_env(name)["TORCHINDUCTOR_CACHE_DIR"] for name in ("default", "avx2", "avx512")}
    assert len(caches) == 3
    # an AVX2 CPU: ATen falls back from avx512 to AVX2, and that set is skipped, said so
    monkeypatch.setattr(
        notebooks, "cpu_capability", lambda env: "AVX2" if env["ATEN_CPU_CAPABILITY"] != "default" else "DEFAULT"
    )
    assert notebooks.usable_kernel_sets(["default", "avx2", "avx512"]) == ["default", "avx2"]
    assert "skip kernel set avx512: this CPU lacks it" in capsys.readouterr().out
