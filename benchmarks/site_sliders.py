"""How fast does a static explorer answer its sliders in a real browser?

Serves a built site (``python3 course.py site`` first), opens every page in headless Chromium, moves every
control of every explorer through all its positions, and prints the times the page itself measured
(``window.courseExplorerTimings``: from the input event to the next paint with the new frame decoded).
Issue 12's budget is 50 ms per change. Browser timings are wall-clock: run it on a quiet machine.

    .venv/bin/python benchmarks/site_sliders.py [site]
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
PORT, PAUSE_MS = 8767, 30  # a pause between changes, as a hand on a slider leaves


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
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(PORT), "--bind", "127.0.0.1", "--directory", str(site)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    every = []
    try:
        time.sleep(1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            for file in sorted(path.name for path in site.glob("*.html")):
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{PORT}/{file}", wait_until="networkidle")
                explorers = page.locator(".course-explorer")
                for index in range(explorers.count()):
                    explorer = explorers.nth(index)
                    explorer.scroll_into_view_if_needed()
                    page.wait_for_function("e => e.getAttribute('data-ready') === 'true'", arg=explorer.element_handle(), timeout=60_000)
                    move_every_control(page, explorer)
                page.wait_for_timeout(200)
                timings = [entry["ms"] for entry in page.evaluate("window.courseExplorerTimings || []")]
                if timings:
                    every += timings
                    print(f"{file}: {len(timings)} changes, median {statistics.median(timings):.1f} ms, max {max(timings):.1f} ms")
                page.close()
            browser.close()
    finally:
        server.terminate()
    every.sort()
    print(f"site slider response: median {statistics.median(every):.1f} ms, 95th percentile {every[int(0.95 * len(every))]:.1f} ms, "
          f"max {every[-1]:.1f} ms over {len(every)} changes (budget 50 ms)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "site")
