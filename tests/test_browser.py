"""The widgets work in a real browser: JupyterLab and Voila, in headless Chromium, driven by Playwright.

JupyterLab: a server on a free local port over a temporary copy of ``notebooks/`` (the kernel is this
Python, with ``course_lib`` installed, and ``COURSE_SIZE=smoke``) opens the notebook with the learning
rate explorer, runs all cells, and waits for the kernel. JupyterLab is as a class sees it: the settings of
the environment ``course.py`` set up, in which it neither asks to fetch Jupyter news from the internet nor
checks for updates (checked in its settings and on the page). Then the learning-rate slider is moved with the
keyboard, as a learner would (ipywidgets 8 sliders are noUiSlider: arrow keys on the focused handle),
and the plot image in the widget's output must change; no cell may show an error. Voila: the same for
one widget on a page Voila renders. Screenshots go to ``artifacts/browser/``.

Without Chromium (``/usr/bin/chromium``) or Playwright the tests skip, except under CI (``CI=true``).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from pathlib import Path

import pytest

import course
from tools.browser import CHROMIUM_ARGS, free_port, jupyter_lab_command, server, voila_command

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "browser"

# The learning rate explorer belongs to notebook 02. Until 02 shows it (a code cell mentions "lr_explorer"),
# notebook 00 stands in: its `lr_demo` widget has the same kind of log slider labelled "learning rate".
# Each entry: (notebook, a word in the code cell that shows the widget); the first one present is tested.
LR_NOTEBOOKS = [("02a_learning_rate_and_loss_curves.ipynb", "lr_explorer"), ("00_start_here.ipynb", "lr_demo")]
VOILA_NOTEBOOK = "00_start_here.ipynb"  # Voila runs the whole notebook before it shows the page: the shortest one
LR_LABEL = re.compile(r"learning rate|^\s*lr\b", re.IGNORECASE)  # the slider's description
KEY_PRESSES = 3  # arrow presses on the slider: three value changes, like a short drag
KERNEL_QUIET_MS = 1500  # the kernel idle this long after the last change: every redraw has arrived
ERROR_MARK = re.compile(r"Traceback|Error\b")

LAB_KERNEL = "window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel"
VOILA_KERNEL = "window.jupyterapp.widgetManager?.kernel"


def lr_notebook(folder: Path) -> tuple[str, str]:
    """The first of ``LR_NOTEBOOKS`` with a code cell that mentions its widget: (notebook, word)."""
    for name, mark in LR_NOTEBOOKS:
        path = folder / name
        if path.exists() and any(
            mark in "".join(cell["source"])
            for cell in json.loads(path.read_text())["cells"]
            if cell["cell_type"] == "code"
        ):
            return name, mark
    pytest.fail(f"none of {LR_NOTEBOOKS} shows its learning rate widget")


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("browser") / "notebooks"
    shutil.copytree(ROOT / "notebooks", copy, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.out.ipynb"))
    return copy


@pytest.fixture(scope="module")
def browser(chromium):
    executable = chromium
    import matplotlib.font_manager  # noqa: F401  warm-up: a fresh setup builds the font cache here, not in a kernel
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    messages = []
    page.on("pageerror", lambda error: messages.append(f"page error: {error}"))
    page.messages = messages
    yield page
    context.close()


def lr_sliders(page, scope=None):
    """The sliders labelled as a learning rate, on the page or inside ``scope``."""
    return (scope or page).locator(".widget-slider").filter(has=page.locator(".widget-label", has_text=LR_LABEL))


def widget_box(slider):
    """The smallest element around the slider that also holds the widget's plot image."""
    return slider.locator("xpath=ancestor::div[.//div[contains(@class, 'widget-output')]//img][1]")


def plot_sources(box) -> list[str]:
    return box.locator(".widget-output img").evaluate_all("images => images.map(image => image.src)")


def readout_matches_handle(slider) -> bool:
    """The readout shows the value the handle moved to (a log slider's handle sits at log10 of it)."""
    position = float(slider.locator(".noUi-handle").get_attribute("aria-valuetext"))
    try:
        value = float(slider.locator(".widget-readout").inner_text().strip())
    except ValueError:
        return False
    return any(math.isclose(value, target, rel_tol=0.06) for target in (position, 10**position))


def move_slider_and_wait(page, slider, kernel: str, presses: int = KEY_PRESSES) -> str:
    """Press an arrow key on the slider's handle a few times; wait for the readout and for every redraw. Returns the readout."""
    page.evaluate(f"""() => {{
        const kernel = {kernel};
        window.__courseKernelLog = [];
        kernel.statusChanged.connect((_, status) => window.__courseKernelLog.push([performance.now(), status]));
    }}""")
    before = slider.locator(".widget-readout").inner_text()
    handle = slider.locator(".noUi-handle")
    low, high, position = (float(handle.get_attribute(a)) for a in ("aria-valuemin", "aria-valuemax", "aria-valuetext"))
    key = "ArrowRight" if position <= (low + high) / 2 else "ArrowLeft"  # away from the nearer end
    handle.focus()
    for _ in range(presses):
        handle.press(key)
    page.wait_for_function(
        "([readout, before]) => readout.innerText !== before",
        arg=[slider.locator(".widget-readout").element_handle(), before],
    )
    deadline = time.monotonic() + 30
    while not readout_matches_handle(slider):
        assert time.monotonic() < deadline, "the readout never showed the slider's final value"
        time.sleep(0.1)
    page.wait_for_function(
        f"""() => {{
        const kernel = {kernel}, log = window.__courseKernelLog;
        return kernel && kernel.status === 'idle' && log.some(entry => entry[1] === 'busy')
               && performance.now() - log[log.length - 1][0] > {KERNEL_QUIET_MS};
    }}""",
        timeout=90_000,
        polling=200,
    )
    return slider.locator(".widget-readout").inner_text()


def error_outputs(page) -> list[str]:
    """Texts of stderr and error outputs on the page that show a traceback or an error."""
    texts = page.locator(
        '[data-mime-type="application/vnd.jupyter.stderr"], .jp-OutputArea-output.jp-mod-error'
    ).all_inner_texts()
    return [text[:2000] for text in texts if ERROR_MARK.search(text)]


def screenshot(page, name: str, element=None) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    if element is not None:
        element.scroll_into_view_if_needed()
    page.screenshot(path=str(path))
    return path


NOTIFICATION = "@jupyterlab/apputils-extension:notification"  # JupyterLab's news and update-check settings
NEWS_QUESTION = re.compile(r"Jupyter news|check for updates|new version", re.IGNORECASE)


def environment_settings(tmp_path: Path) -> tuple[str, ...]:
    """JupyterLab's flags for the settings of the environment ``course.py`` sets up.

    In an environment it set up (CI's), they are that environment's own: nothing to add. In another (a
    developer's own), its ``overrides.json``, written by the same function into a folder of its own.
    """
    from jupyterlab.commands import get_app_dir

    written = Path(get_app_dir()) / "settings" / "overrides.json"
    settings = json.loads(written.read_text()) if written.exists() else {}
    wanted = [(plugin, key, value) for plugin, values in course.LAB_OVERRIDES.items() for key, value in values.items()]
    if all(settings.get(plugin, {}).get(key) == value for plugin, key, value in wanted):
        return ()
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{written} lacks the course's settings {course.LAB_OVERRIDES}: course.py's setup did not write them"
        )
    return (f"--LabApp.app_settings_dir={course.write_lab_overrides(tmp_path / 'env').parent}",)


def test_lr_widget_in_jupyterlab(notebooks, page, tmp_path):
    name, mark = lr_notebook(notebooks)
    runtime = tmp_path / "lab"
    port = free_port()
    started = time.monotonic()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    with server(
        jupyter_lab_command(notebooks, port, runtime, environment_settings(tmp_path)),
        port,
        ARTIFACTS / "jupyterlab.log",
        ready_path="/api",
        env={"COURSE_SIZE": "smoke", "JUPYTER_RUNTIME_DIR": str(runtime / "runtime")},
        cwd=notebooks,
    ):
        page.goto(f"http://127.0.0.1:{port}/lab/tree/{name}", timeout=120_000)
        page.wait_for_function(
            f"""() => {{
            const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            return panel && panel.context && panel.context.path === {json.dumps(name)} && panel.content
                   && panel.sessionContext.isReady && {LAB_KERNEL} && {LAB_KERNEL}.status === 'idle';
        }}""",
            timeout=120_000,
            polling=250,
        )
        page.evaluate(
            "() => window.jupyterapp.shell.leftCollapsed || window.jupyterapp.commands.execute('application:toggle-left-area')"
        )
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        state = page.wait_for_function(
            f"""() => {{
            const panel = window.jupyterapp.shell.currentWidget, kernel = {LAB_KERNEL};
            const cells = panel.content.widgets.filter(cell => cell.model.type === 'code');
            const outputs = cells.flatMap(cell => cell.model.outputs.toJSON());
            const errors = outputs.filter(o => o.output_type === 'error'
                || (o.output_type === 'stream' && o.name === 'stderr' && /Traceback/.test([].concat(o.text).join(''))));
            const done = cells.every(cell => cell.model.executionCount !== null);
            const busy = cells.some(cell => cell.promptNode && cell.promptNode.textContent.includes('*'));
            if (kernel && kernel.status === 'idle' && !busy && (done || errors.length))
                return {{cells: cells.length, errors: errors.map(e => JSON.stringify(e).slice(0, 2000))}};
            return null;
        }}""",
            timeout=180_000,
            polling=500,
        ).json_value()
        ran = time.monotonic() - started
        assert not state["errors"], f"{name} shows errors after running all cells: {state['errors']}"
        check_no_news_or_update_check(page, port, requests)

        cell = page.locator(".jp-CodeCell").filter(has_text=mark).filter(has=lr_sliders(page)).first
        cell.scroll_into_view_if_needed(timeout=30_000)
        slider = lr_sliders(page, cell).first
        slider.wait_for(state="visible", timeout=30_000)
        readout, shot = move_slider_and_check_plot(
            page, slider, LAB_KERNEL, f"jupyterlab_{name.replace('.ipynb', '')}", f"JupyterLab, {name}", timeout=30_000
        )
        print(
            f"JupyterLab {name}: ran in {ran:.0f} s, total {time.monotonic() - started:.0f} s, "
            f"learning rate now {readout}, screenshot {shot}"
        )


def check_no_news_or_update_check(page, port: int, requests: list[str]) -> None:
    """The environment's settings say no news and no update check; JupyterLab asked neither, nor showed the question."""
    plugin = page.evaluate(f"""() => fetch('/lab/api/settings/{NOTIFICATION}').then(r => r.json())""")
    defaults = {key: plugin["schema"]["properties"][key]["default"] for key in ("fetchNews", "checkForUpdates")}
    assert defaults == {"fetchNews": "false", "checkForUpdates": False}, f"JupyterLab's news settings: {defaults}"
    asked = [url for url in requests if "/lab/api/news" in url or "/lab/api/update" in url]
    assert not asked, f"JupyterLab asked for news or updates: {asked}"
    toasts = page.locator(".Toastify__toast, .jp-Notification-Toast").all_inner_texts()
    assert not [t for t in toasts if NEWS_QUESTION.search(t)], f"JupyterLab asks: {toasts}"


def move_slider_and_check_plot(page, slider, kernel: str, shot_name: str, where: str, timeout: int):
    """Move the lr slider, then check that its plot changed and that nothing shows an error; screenshot the widget."""
    box = widget_box(slider)
    box.locator(".widget-output img").first.wait_for(state="attached", timeout=timeout)
    before = plot_sources(box)
    readout = move_slider_and_wait(page, slider, kernel)
    after = plot_sources(box)
    shot = screenshot(page, f"{shot_name}.png", element=box)
    assert after and after != before, f"the plot ({where}) did not change when the learning rate moved to {readout}"
    assert not error_outputs(page), f"{where} shows errors: {error_outputs(page)}"
    assert not page.messages, page.messages
    return readout, shot


def test_widget_in_voila(notebooks, page):
    port = free_port()
    started = time.monotonic()
    with server(
        voila_command(notebooks / VOILA_NOTEBOOK, port),
        port,
        ARTIFACTS / "voila.log",
        env={"COURSE_SIZE": "smoke"},
        cwd=notebooks,
    ):
        page.goto(f"http://127.0.0.1:{port}/", timeout=180_000)  # Voila answers once the notebook has run
        slider = lr_sliders(page).first
        slider.wait_for(state="visible", timeout=60_000)
        page.wait_for_function(f"() => {VOILA_KERNEL} && {VOILA_KERNEL}.status === 'idle'", timeout=60_000)
        assert not error_outputs(page), f"Voila shows errors for {VOILA_NOTEBOOK}: {error_outputs(page)}"
        readout, shot = move_slider_and_check_plot(
            page,
            slider,
            VOILA_KERNEL,
            f"voila_{VOILA_NOTEBOOK.replace('.ipynb', '')}",
            f"Voila, {VOILA_NOTEBOOK}",
            timeout=60_000,
        )
        print(
            f"Voila {VOILA_NOTEBOOK}: total {time.monotonic() - started:.0f} s, learning rate now {readout}, "
            f"screenshot {shot}"
        )
