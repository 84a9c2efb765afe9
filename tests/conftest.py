import os

import pytest

from course_lib.device import apply_thread_policy

os.environ.setdefault("COURSE_STRICT", "1")
apply_thread_policy()  # the course's one thread policy (course_lib.device.thread_count); kernels apply it themselves


@pytest.fixture
def digits():
    from course_lib.data import datasets

    return datasets.load_digits_split()


@pytest.fixture(scope="session")
def notebook_runs(request, tmp_path_factory):
    """Every notebook run the selected tests read, made once and shared (see ``tests/notebook_runs.py``)."""
    from notebook_runs import NotebookRuns, needed_by

    needed = [
        key
        for item in request.session.items
        if "notebook_runs" in getattr(item, "fixturenames", ())
        for key in needed_by(item)
    ]
    runs = NotebookRuns(needed, tmp_path_factory.mktemp("explorer-frames"))
    yield runs
    runs.close()


@pytest.fixture(scope="session", autouse=True)
def _notebook_runs_from_the_start(request):
    """Start the notebook runs with the session when any selected test reads one (they take most of its time)."""
    if any("notebook_runs" in getattr(item, "fixturenames", ()) for item in request.session.items):
        request.getfixturevalue("notebook_runs").start()


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium's path for the browser tests; they skip without it, except under CI (``CI=true``), where a
    missing browser is a broken setup and fails them."""
    from tools.browser import CHROMIUM

    problems = []
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        problems.append(
            f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium; "
            "`python3 course.py test` installs it when run as root)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the playwright Python package is missing (pip install -e '.[dev]')")
    if problems:
        reason = "; ".join(problems)
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the browser tests cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM
