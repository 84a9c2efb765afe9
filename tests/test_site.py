"""The static site: its explorers' frames come from the widgets' own render, and every page works offline.

Unit tests (no browser): ``snap_values`` lists what each kind of control can take, ``LiveFigure.frame``
draws through the explorer's ``render`` (the recorder reads the explorers from ``base.explorers()``, see
``tests/test_widget_base.py``), the recorder's grid keeps the starting values within its frame budget, and the
builder refuses an explorer whose controls offer a setting it has no frame for.

Every explorer of the full site: each lesson's seed-0 run (``tests/notebook_runs.py``) records its explorers
over the quick grid and plans them over the full grid without drawing (``tools/course_site/full_grid.py``);
on every full-grid manifest, every combination of positions its page's controls offer has a frame of its
own, and the page offers exactly those positions.

Browser test: the quick site (smoke size, three values per control), built from those recordings into a
temporary folder and served on localhost; headless Chromium opens every page with every request outside the
site blocked. No page may log a console error or fail a request, every link inside the site must resolve,
and on every explorer each control goes through every position it offers: each shows the frame of that
position, and some position changes the picture and its text. The slowest response (input event to the next
paint with the new frame decoded) is printed and saved with the screenshots in ``artifacts/site/``; nothing is
asserted about it, since the machine's load decides it.
Without Chromium or Playwright the browser test skips, except under CI (``CI=true``).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import ipywidgets as w
import pytest
from notebook_runs import LESSONS

from course_lib.widgets import base
from tools.course_site import pages
from tools.course_site.build import attach, build
from tools.course_site.full_grid import FOLDER as FULL_GRID
from tools.course_site.record import plan

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "site"


# --- the pieces the builder relies on ------------------------------------------------------------------


def render(fig, value, colour="C0"):
    fig.add_subplot(1, 1, 1).plot([0, 1], [0, value], color=colour)
    return f"value {value:g}"


def test_snap_values_lists_every_position_of_each_kind_of_control():
    assert base.snap_values(w.IntSlider(value=2, min=0, max=6, step=2)) == [("0", 0), ("2", 2), ("4", 4), ("6", 6)]
    floats = [v for _, v in base.snap_values(w.FloatSlider(value=0.3, min=0.0, max=0.5, step=0.1))]
    assert floats == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]  # rounded as the readout shows them: 0.3, not 0.30000000000000004
    log = base.snap_values(base.log_slider("lr", 0.02, 1e-3, 1.0, steps_per_decade=1))
    assert [v for _, v in log] == pytest.approx([1e-3, 1e-2, 0.02, 1e-1, 1.0])  # the start is kept, off the grid
    assert log[2][0] == "2.0e-02"
    assert base.snap_values(w.Dropdown(options=[("SGD", "sgd"), ("Adam", "adam")])) == [
        ("SGD", "sgd"),
        ("Adam", "adam"),
    ]
    assert base.snap_values(w.SelectionSlider(options=(2, 4, 8), value=4)) == [("2", 2), ("4", 4), ("8", 8)]
    assert base.snap_values(w.Checkbox(value=False)) == [("off", False), ("on", True)]
    assert base.snap_values(w.IntSlider(value=0, min=0, max=5, step=2))[-1] == ("5", 5)  # max is a position too
    with pytest.raises(ValueError, match="IntRangeSlider 'milestones' has no finite list"):
        base.snap_values(w.IntRangeSlider(value=(2, 4), min=0, max=10, description="milestones"))


def test_frame_is_drawn_by_the_explorers_render_and_leaves_the_live_figure_alone():
    box = base.connect({"value": w.FloatSlider(value=1.0, min=0, max=5)}, base.LiveFigure(render, figsize=(4, 2)))
    image, text = box.figure.frame(50, value=3.0)
    assert text == "value 3" and image.size == (200, 100) and image.mode == "RGB"
    other, _ = box.figure.frame(50, value=3.0, colour="C3")
    assert image.tobytes() != other.tobytes()  # the picture is the render's
    assert len(box.figure.log) == 1 and box.figure.fig.axes[0].lines[0].get_ydata()[-1] == 1.0


def test_start_records_each_explorer_a_later_cell_builds():
    from IPython.core.interactiveshell import InteractiveShell

    from tools.course_site import record

    shell = InteractiveShell.instance()
    base.connect({"value": w.FloatSlider(value=1.0, min=0, max=5)}, base.LiveFigure(render))  # before: not recorded
    seen = []
    callback = record.start(seen.append)
    try:
        assert shell.run_cell(
            "import ipywidgets as w\nfrom course_lib.widgets import base\n"
            "built = base.connect({'value': w.FloatSlider(value=2.0)}, base.LiveFigure("
            "lambda fig, value: fig.add_subplot().plot([0, value]) and None))"
        ).success
        assert shell.run_cell("after = 1").success
    finally:
        shell.events.unregister("post_run_cell", callback)
    assert seen == [shell.user_ns["built"]]


def test_grid_fits_the_budget_and_keeps_the_start_and_both_ends():
    chosen = plan({"patience": (21, 5), "factor": (19, 9)}, max_frames=72, max_values=None)
    assert len(chosen["patience"]) * len(chosen["factor"]) <= 72
    assert {0, 5, 20} <= set(chosen["patience"]) and {0, 9, 18} <= set(chosen["factor"])
    assert plan({"lr": (28, 10), "optimizer": (3, 1)}, max_frames=9, max_values=3) == {
        "lr": [0, 10, 27],
        "optimizer": [0, 1, 2],
    }
    assert plan({"lr": (28, 10)}, max_frames=72, max_values=None) == {"lr": list(range(28))}


def manifest(varied: dict[str, int], frames: list[str]) -> dict:
    """A manifest as the recorder writes it: ``varied`` maps each varied slider to its number of positions."""
    controls = [
        {
            "name": name,
            "description": name,
            "kind": "slider",
            "varied": True,
            "labels": [str(i) for i in range(n)],
            "start": 0,
        }
        for name, n in varied.items()
    ]
    return {
        "id": "x",
        "varied": list(varied),
        "controls": controls,
        "frames": {key: [0, 0] for key in frames},
        "images": ["a.webp"],
        "texts": ["a"],
        "size": [10, 10],
        "cell": 3,
    }


def test_builder_refuses_an_explorer_that_offers_a_setting_without_a_frame(tmp_path):
    complete = manifest({"a": 2, "b": 2}, ["0,0", "0,1", "1,0", "1,1"])
    assert pages.missing_frames(complete) == []
    stale = manifest({"a": 2, "b": 2}, ["0,0", "0,1", "1,0"])
    assert pages.missing_frames(stale) == ["1,1"]
    page = pages.Page(ROOT / "notebooks" / "05.ipynb", "notebooks/05.ipynb", "05.html", "05")
    with pytest.raises(SystemExit, match=r"no frame for the positions \['1,1'\]"):
        attach(page, [stale], tmp_path, tmp_path, expected=[3])


def full_grid_manifests(notebook_runs) -> dict[str, list[dict]]:
    """Per lesson, the full grid's manifests its seed-0 run planned (``tools/course_site/full_grid.py``)."""
    found = {}
    for path in LESSONS:
        result = notebook_runs.get(path, 0)
        assert result["recording"], f"{path.name}: its seed-0 run recorded nothing ({result['errors'][:1]})"
        folder = Path(result["recording"]["folder"]) / FULL_GRID
        found[path.stem] = [json.loads(f.read_text()) for f in sorted(folder.glob("explorer-*.json"))]
    return found


@pytest.mark.notebook
def test_every_position_of_every_control_of_the_full_site_has_its_own_frame(notebook_runs):
    manifests = full_grid_manifests(notebook_runs)
    assert sum(map(len, manifests.values())) >= len(LESSONS), "every lesson shows an explorer"
    for stem, found in manifests.items():
        for number, explorer in enumerate(found, start=1):
            where = f"{stem}, explorer {number} ({explorer['module']}, varying {explorer['varied']})"
            assert explorer["grid"] == "full" and 0 < len(explorer["frames"]) <= 72, where
            assert not pages.missing_frames(explorer), f"{where}: no frame for {pages.missing_frames(explorer)}"
            texts = [explorer["texts"][text] for _, text in explorer["frames"].values()]
            assert len(set(texts)) == len(texts), f"{where}: two positions show the same setting"
            explorer["id"] = "x"
            html = pages.explorer_html(explorer, "frames/", None)
            by_name = {c["name"]: c for c in explorer["controls"]}
            for name in explorer["varied"]:
                offered = len(by_name[name]["labels"])
                control = re.search(rf'<(select|input)[^>]*data-control="{name}"[^>]*>(.*?</select>)?', html, re.S)
                if control.group(1) == "select":
                    assert control.group(0).count("<option") == offered, f"{where}: {name}'s menu"
                elif 'type="range"' in control.group(0):
                    assert f'max="{offered - 1}"' in control.group(0), f"{where}: {name}'s slider"
                else:
                    assert offered == 2, f"{where}: {name}'s checkbox"


# --- the built site in a real browser ------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.timeout(1200)
def test_site_works_offline_in_a_browser(tmp_path, chromium, notebook_runs):
    from tools.browser import CHROMIUM_ARGS, free_port, server

    out = tmp_path / "site"
    recordings = {
        path.stem: notebook_runs.get(path, 0)["recording"] or {"error": "its seed-0 run failed"} for path in LESSONS
    }
    started = time.monotonic()
    report = build(out, quick=True, recordings=recordings)
    built = time.monotonic() - started
    assert report["page_files"] and "index.html" in report["page_files"]
    notebooks = [p.stem for pattern in ("*.ipynb", "solutions/*.ipynb") for p in (ROOT / "notebooks").glob(pattern)]
    assert {f"{stem}.html" for stem in notebooks} <= set(report["page_files"]), "a notebook has no page"
    port = free_port()
    from playwright.sync_api import sync_playwright

    with (
        server(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(out)],
            port,
            ARTIFACTS / "http.log",
            ready_path="/index.html",
        ),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            results = check_site(browser, f"http://127.0.0.1:{port}/", out, report["page_files"])
        finally:
            browser.close()
    timings = sorted(t for r in results for t in r["timings"])
    assert timings, "no explorer answered a change"
    summary = {
        "build_seconds": round(built, 1),
        "pages": len(results),
        "explorers": len(report["explorers"]),
        "site_bytes": report["bytes"],
        "responses": len(timings),
        "median_response_ms": timings[len(timings) // 2],
        "slowest_response_ms": timings[-1],
    }
    (ARTIFACTS / "summary.json").write_text(json.dumps({**summary, "pages_checked": results}, indent=1))
    print(
        f"site (quick): pages built in {built:.0f} s from the lessons' seed-0 runs, {summary['pages']} pages, "
        f"{summary['explorers']} explorers, {report['bytes'] / 1e6:.1f} MB; {len(timings)} explorer responses in the "
        f"browser, median {summary['median_response_ms']:.0f} ms, slowest {summary['slowest_response_ms']:.0f} ms"
    )


def check_site(browser, url: str, folder: Path, files: list[str]) -> list[dict]:
    """Open every page with requests outside ``url`` blocked; check errors, links and explorers. One dict per page."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    origin = urlparse(url).netloc
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked, failed = [], []

    def route(request_route):
        if urlparse(request_route.request.url).netloc == origin or request_route.request.url.startswith("data:"):
            request_route.continue_()
        else:
            blocked.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    results = []
    try:
        for file in files:
            page = context.new_page()
            errors = []
            page.on("console", lambda message, errors=errors: message.type == "error" and errors.append(message.text))
            page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
            page.on("requestfailed", lambda request: failed.append(f"{request.url} ({request.failure})"))
            page.on(
                "response",
                lambda response: response.status >= 400 and failed.append(f"{response.url} ({response.status})"),
            )
            page.goto(urljoin(url, file), wait_until="networkidle", timeout=120_000)
            page.wait_for_function(
                "() => !window.MathJax || !MathJax.Hub || MathJax.Hub.queue.pending === 0", timeout=60_000
            )
            check_links(page, url, folder, file)
            explorers = page.locator(".course-explorer")
            timings = []
            for index in range(explorers.count()):
                timings += check_explorer(page, explorers.nth(index), file, f"{file.removesuffix('.html')}-{index + 1}")
            page.screenshot(path=str(ARTIFACTS / f"page-{file.removesuffix('.html')}.png"))
            assert not errors, f"{file}: console errors {errors}, failed requests {sorted(set(failed))[:10]}"
            results.append({"page": file, "explorers": explorers.count(), "timings": timings})
            page.close()
    finally:
        context.close()
    assert not blocked, f"pages asked for something outside the site: {sorted(set(blocked))[:10]}"
    assert not failed, f"failed requests: {sorted(set(failed))[:10]}"
    return results


def check_links(page, url: str, folder: Path, file: str) -> None:
    """Every link to the site itself names a file of the site, and a fragment names an element of its page."""
    hrefs = page.locator("a[href]").evaluate_all("links => links.map(a => a.href)")
    for href in hrefs:
        target, fragment = urldefrag(href)
        if not target.startswith(url):
            continue  # Colab, GitHub, the papers: links out, never loaded by the page itself
        path = folder / target[len(url) :]
        assert path.is_file(), f"{file}: link to {href} names no file of the site"
        if fragment and path.name == file:
            found = page.evaluate(
                "id => [id, decodeURIComponent(id)].some(i => document.getElementById(i) !== null)", fragment
            )
            assert found, f"{file}: link to #{fragment} names no element"


def check_explorer(page, explorer, file: str, shot: str) -> list[float]:
    """Move each control of ``explorer`` through every position it offers: each must show its own frame (the
    explorer's ``data-key`` names the positions of every control), and some position must change the picture and
    its text. A render may return no text (notebook 00 builds such an explorer itself): then only the picture.

    Returns the response times the page measured (milliseconds).
    """
    name = explorer.get_attribute("id")
    explorer.scroll_into_view_if_needed()
    page.wait_for_function(
        "e => e.getAttribute('data-ready') === 'true'", arg=explorer.element_handle(), timeout=60_000
    )
    image, text = explorer.locator("img.ce-frame"), explorer.locator(".ce-text")
    data = json.loads(explorer.locator("script.ce-data").text_content())
    has_text = any(t.strip() for t in data["texts"])
    controls = explorer.locator("[data-control]")
    assert controls.count() == len(data["varied"]) >= 1, f"{file}: explorer {name} has no control"
    page.evaluate("() => { window.courseExplorerTimings.length = 0; }")
    start = [control_position(controls.nth(i)) for i in range(controls.count())]
    for index in range(controls.count()):
        control = controls.nth(index)
        kind = control.evaluate("c => c.tagName === 'SELECT' ? 'select' : c.type")
        label = control.evaluate("c => c.closest('.ce-control').querySelector('.ce-name').textContent")
        start_image, start_text = image.get_attribute("src"), text.inner_text()
        changed = False
        if kind == "select":
            moves = [
                lambda option=option: control.select_option(index=option)  # noqa: B023 (called in this loop)
                for option in range(control.locator("option").count())
            ]
        elif kind == "checkbox":
            moves = [control.click, control.click]
        else:  # a range: the near end, then every position from there, as the arrow keys go
            control.focus()
            keys = ["Home"] + ["ArrowRight"] * int(control.get_attribute("max"))
            moves = [lambda key=key: control.press(key) for key in keys]  # noqa: B023 (called in this loop)
        for move in moves:
            move()
            key = ",".join(map(str, start[:index] + [control_position(control)] + start[index + 1 :]))
            shown = explorer.get_attribute("data-key")
            assert shown == key or (shown is None and key == ",".join(map(str, start))), (
                f"{file}: {label!r} of {name} at position {key} shows the frame of {shown} ({text.inner_text()!r})"
            )
            changed = changed or (
                image.get_attribute("src") != start_image and (not has_text or text.inner_text() != start_text)
            )
        assert changed, (
            f"{file}: no position of {label!r} in {name} changes the picture"
            f"{' and the text' if has_text else ''} (now: {image.get_attribute('src')}, {text.inner_text()!r})"
        )
        control.evaluate("""c => {  // back to the start, so the next control moves from the explorer's starting state
            if (c.type === 'checkbox') { c.checked = c.defaultChecked; }
            else if (c.tagName === 'SELECT') { c.selectedIndex = [...c.options].findIndex(o => o.defaultSelected); }
            else { c.value = c.defaultValue; }
            c.dispatchEvent(new Event('input'));
        }""")
    page.wait_for_timeout(100)  # the last change's time is taken at the next paint
    explorer.screenshot(path=str(ARTIFACTS / f"explorer-{shot}.png"))
    return page.evaluate("() => window.courseExplorerTimings.map(t => t.ms)")


def control_position(control) -> int:
    return control.evaluate("c => c.type === 'checkbox' ? (c.checked ? 1 : 0) : Number(c.value)")


def test_a_page_says_so_when_a_setting_has_no_frame(tmp_path, chromium):
    """explorer.js never leaves a stale picture without a word: a combination with no frame says so (the builder
    refuses such a site; this is the page's own guard)."""
    stale = manifest({"a": 2}, ["0"])
    stale["controls"][0]["description"] = "a"
    script = (ROOT / "tools" / "course_site" / "assets" / "explorer.js").read_text()
    (tmp_path / "index.html").write_text(
        f"<html><body>{pages.explorer_html(stale, '', None)}<script>{script}</script></body></html>"
    )
    from playwright.sync_api import sync_playwright

    from tools.browser import CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors = []
            page.on("console", lambda message: message.type == "error" and errors.append(message.text))
            page.goto((tmp_path / "index.html").as_uri())
            control = page.locator("[data-control]")
            control.focus()
            control.press("End")
            assert "No frame was recorded" in page.locator(".ce-text").inner_text()
            assert page.locator(".course-explorer").get_attribute("data-key") == "missing:1"
            assert any("no frame for the positions 1" in e for e in errors), errors
        finally:
            browser.close()
