"""How long does a learner wait after moving a widget's control until its figure is redrawn?

Every module in ``course_lib/widgets/`` with cases in ``widget_cases.py`` is imported, and
its explorer is built headless (matplotlib's Agg backend, inside an IPython shell whose display
formatter encodes figures to PNG exactly as a notebook kernel's inline backend does). Then each of its
cases (a dict ``{control_name: value}``) is applied, one control after another; every
assignment that changes a value is one measured change, and two times are taken for it:

- figure: what ``LiveFigure.update`` records in ``box.figure.log[-1]["seconds"]`` (compute, draw the
  figure and its canvas, display it: here that includes the PNG encoding a kernel sends the browser);
- wall: the whole ``box.controls[name].value = value`` assignment, wall clock: the figure's time plus
  traitlets validation and the observers' overhead. This is the number the bounds apply to.

All cases run once in order, the first time these values are seen (uncached), then the controls go
back to their initial values and the same cases run again (cached: ``compute`` results are
``lru_cache``d, so this is the cost of drawing alone). One line per widget gives the median and max
wall time of both passes (figure times in brackets); the last line is the median and max wall time
over all changes of all widgets, uncached and cached together. The course's bound on this 2-core
CPU: median <= 0.25 s, max <= 1.0 s (``--check`` exits with status 1 when a bound is broken). A module
without cases is skipped with a note; one whose explorer fails is reported, and the exit
status is 1.

    .venv/bin/python benchmarks/widget_latency.py [--check] [widget_name ...]
"""
from __future__ import annotations

import argparse
import importlib
import math
import pkgutil
import statistics
import sys
import time

import matplotlib
from widget_cases import CASES

matplotlib.use("Agg")

MEDIAN_BOUND, MAX_BOUND = 0.25, 1.0


def widget_modules() -> list[str]:
    import course_lib.widgets as package

    return [info.name for info in pkgutil.iter_modules(package.__path__)
            if not info.name.startswith("_") and info.name != "base"]


def inline_shell():
    """An IPython shell that renders figures to PNG on display, as a kernel does, and keeps the outputs."""
    from IPython.core.displaypub import CapturingDisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    class Publisher(CapturingDisplayPublisher):
        def clear_output(self, wait=False):  # a kernel sends a message; the terminal's escape codes are noise
            self.outputs.clear()

    shell = InteractiveShell.instance()
    shell.display_pub = Publisher()
    select_figure_formats(shell, {"png"}, bbox_inches="tight")  # matplotlib-inline's defaults
    return shell


def same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return a == b


def apply(box, case: dict, shell) -> list[tuple[float, float]]:
    """Set the case's values one control at a time; (wall, figure) seconds for each change that redrew."""
    times = []
    for name, value in case.items():
        control = box.controls[name]
        if same(control.value, value):
            continue
        logged = len(box.figure.log)
        shell.display_pub.outputs.clear()
        start = time.perf_counter()
        control.value = value
        wall = time.perf_counter() - start
        if len(box.figure.log) == logged:
            raise RuntimeError(f"setting {name}={value!r} did not redraw the figure")
        if not any("image/png" in output["data"] for output in shell.display_pub.outputs):
            raise RuntimeError(f"setting {name}={value!r} did not display a PNG figure")
        times.append((wall, box.figure.log[-1]["seconds"]))
    return times


def summary(times: list[tuple[float, float]]) -> str:
    if not times:
        return "no changes"
    walls, figures = [t[0] for t in times], [t[1] for t in times]
    return (f"median {statistics.median(walls):.3f} s, max {max(walls):.3f} s "
            f"[figure {statistics.median(figures):.3f} / {max(figures):.3f}] over {len(times)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("widgets", nargs="*", help="only these widget modules (default: all)")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when a bound is broken")
    args = parser.parse_args(argv)

    import matplotlib.pyplot as plt

    shell = inline_shell()
    all_walls: list[float] = []
    broken: list[str] = []
    for name in args.widgets or widget_modules():
        try:
            module = importlib.import_module(f"course_lib.widgets.{name}")
            cases = CASES.get(name)
            if not callable(getattr(module, "explorer", None)) or not cases:
                print(f"{name:24s} skipped: no explorer or no cases in widget_cases.py")
                continue
            start = time.perf_counter()
            box = module.explorer()
            build = time.perf_counter() - start
            initial = {key: control.value for key, control in box.controls.items()}
            uncached = [t for case in cases for t in apply(box, case, shell)]
            apply(box, initial, shell)  # back to the start (cached: drawn when the explorer was built)
            cached = [t for case in cases for t in apply(box, case, shell)]
            plt.close(box.figure.fig)
        except Exception as error:  # one broken widget must not hide the others' numbers
            print(f"{name:24s} FAILED: {type(error).__name__}: {error}")
            broken.append(name)
            continue
        print(f"{name:24s} build {build:.2f} s | uncached {summary(uncached)} | cached {summary(cached)}", flush=True)
        all_walls += [t[0] for t in uncached + cached]

    if not all_walls:
        print("no widget with cases found")
        print("widget latency median: nan s, max: nan s")
        return 1 if broken else 0
    median, worst = statistics.median(all_walls), max(all_walls)
    ok = median <= MEDIAN_BOUND and worst <= MAX_BOUND
    print(f"bounds (median <= {MEDIAN_BOUND} s, max <= {MAX_BOUND} s): {'met' if ok else 'BROKEN'} "
          f"over {len(all_walls)} changes")
    if broken:
        print(f"failed: {', '.join(broken)}")
    print(f"widget latency median: {median:.3f} s, max: {worst:.3f} s")
    return 1 if broken or (args.check and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
