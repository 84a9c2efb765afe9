"""How fast does a static explorer answer its sliders in a real browser?

Serves a built site (``python3 course.py site`` first), opens every page in headless Chromium, moves every
control of every explorer through all its positions, and prints the times the page itself measured
(``window.courseExplorerTimings``: from the input event to the next paint with the new frame decoded), and
every position that has no frame (explorer.js logs it; the exit status is then 1).
The budget is 50 ms per change. Browser timings are wall-clock: run it on a quiet machine.

    .venv/bin/python -m benchmarks.site_sliders [site]     # from the repository root
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tools.browser import CHROMIUM, CHROMIUM_ARGS, free_port, server  # the site test's browser and server too

ROOT = Path(__file__).resolve().parents[1]

PAUSE_MS = 30  # a pause between changes, as a hand on a slider leaves


def move_every_control(page, explorer) -> None:
    controls = explorer.locator("[data-control]")
    for index in range(controls.count()):
        control = controls.nth(index)
        kind = control.evaluate("c => c.tagName === 'SELECT' ? 'select' : c.type")
        if kind == "select":
            for option in range(control.locator("option").count()):
                control.select_option(index=option)
                page.wait_for_timeout(PAUSE_MS)
        elif kind == "checkbox":
            for _ in range(2):
                control.click()
                page.wait_for_timeout(PAUSE_MS)
        else:
            control.focus()
            for key in ["Home"] + ["ArrowRight"] * int(control.get_attribute("max")):
                control.press(key)
                page.wait_for_timeout(PAUSE_MS)


def main(site: Path) -> None:
    if not (site / "index.html").exists():
        raise SystemExit(f"no site at {site}: build it with python3 course.py site")
    every, stale, port = [], [], free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(site)]
    with (
        server(command, port, Path(tempfile.gettempdir()) / "site_sliders-http.log", ready_path="/index.html"),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for file in sorted(path.name for path in site.glob("*.html")):
            page = browser.new_page()
            page.on(
                "console",
                lambda message, file=file: "no frame for" in message.text and stale.append(f"{file}: {message.text}"),
            )
            page.goto(f"http://127.0.0.1:{port}/{file}", wait_until="networkidle")
            explorers = page.locator(".course-explorer")
            for index in range(explorers.count()):
                explorer = explorers.nth(index)
                explorer.scroll_into_view_if_needed()
                page.wait_for_function(
                    "e => e.getAttribute('data-ready') === 'true'", arg=explorer.element_handle(), timeout=60_000
                )
                move_every_control(page, explorer)
            page.wait_for_timeout(200)
            timings = [entry["ms"] for entry in page.evaluate("window.courseExplorerTimings || []")]
            if timings:
                every += timings
                print(
                    f"{file}: {len(timings)} changes, median {statistics.median(timings):.1f} ms, max {max(timings):.1f} ms"
                )
            page.close()
        browser.close()
    every.sort()
    for line in stale:
        print(f"STALE {line}")
    print(
        f"site slider response: median {statistics.median(every):.1f} ms, "
        f"95th percentile {every[int(0.95 * len(every))]:.1f} ms, "
        f"max {every[-1]:.1f} ms over {len(every)} changes (budget 50 ms); {len(stale)} positions without a frame"
    )
    if stale:
        raise SystemExit(1)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "site")
