"""Headless Chromium and the servers it browses: for the browser tests and ``benchmarks/site_sliders.py``.

Both drive Debian's Chromium (``/usr/bin/chromium``) through Playwright for Python, since ``playwright
install`` cannot download its own browser everywhere; servers (JupyterLab, Voila, a static site) run on a
free local port in their own process group and are stopped with everything they started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.2):
    """Poll ``condition`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@contextmanager
def server(
    command: list[str],
    port: int,
    log: Path,
    ready_path: str | None = None,
    env: dict | None = None,
    cwd: Path | None = None,
    timeout: float = 90,
) -> Iterator[subprocess.Popen]:
    """Run ``command`` (a Jupyter or Voila server) in its own process group until it is ready; stop it after.

    Ready means ``http://127.0.0.1:{port}{ready_path}`` answers 200, or, without ``ready_path``, that the
    port accepts connections (Voila executes the notebook on each page request, so it is not asked for
    a page). The output goes to ``log``; a server that exits or never gets ready fails with the log's tail.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        try:

            def ready():
                if process.poll() is not None:
                    raise AssertionError(f"{command[:4]} exited with {process.returncode}:\n{tail(log)}")
                try:
                    if ready_path is None:
                        with socket.create_connection(("127.0.0.1", port), timeout=2):
                            return True
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=5) as response:
                        return response.status == 200
                except (urllib.error.URLError, OSError):
                    return False

            try:
                wait_until(ready, timeout, f"{command[:4]} to listen on port {port}")
            except AssertionError as error:
                raise AssertionError(f"{error}\n{tail(log)}") from None
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM the server's process group (its kernels too), then SIGKILL what is left."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
    try:  # kernels the server started share its process group; make sure none outlives the test
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def tail(log: Path, chars: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def jupyter_lab_command(root_dir: Path, port: int, runtime: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """JupyterLab for a test: this Python's, no token, its own settings and workspaces under ``runtime``.

    News and update checks are left as the environment sets them (``course.py`` turns them off there)."""
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={runtime / 'settings'}",
        f"--LabApp.workspaces_dir={runtime / 'workspaces'}",
        *extra,
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


def voila_command(notebook: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "voila",
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        str(notebook),
    ]
