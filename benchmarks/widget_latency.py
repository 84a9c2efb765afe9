"""How long does a learner wait after moving a widget's control until its figure is redrawn, against a reference?

Absolute times move with the machine (a Colab CPU is several times slower per core than a laptop's), so this
run also draws a fixed reference figure, a plain two-panel matplotlib figure (10 x 4 inches, 100 dpi, titles
and axis labels) with 20 lines of 200 points, made from scratch and rendered to PNG: what a notebook's
``plt.show()`` of a simple plot costs on this machine. It is drawn three times before each widget and its
median over the whole run is R. The bounds: the median change at most 0.3 R, the slowest at most R.

Every module in ``course_lib/widgets/`` that declares ``LATENCY_CASES`` is imported, and its explorer is built
headless (inside an IPython shell whose display publisher keeps the outputs, as a kernel sends them). Then
each case (a dict ``{control_name: value}``) is applied, one control after another; every assignment that
changes a value is one measured change, timed from the assignment to the image handed to the display
(compute, draw, encode). Times are CPU seconds of this process, for the reference and the widgets alike:
what a learner's machine, doing nothing else, waits. On a busy machine the wall clock (in brackets, and
printed for the reference) adds the time other processes took.

All cases run once in order, the first time these values are seen (uncached), then the controls go back
to their initial values and the same cases run again (cached). An explorer whose module has ``settle()``
trains ahead what one more drag reaches (the capacity explorer): before each change the benchmark waits
for that, as a learner reading the picture would, and prints how long it took (``ahead``): a learner who
drags sooner than that may wait for a run.

    nice -n 10 .venv/bin/python benchmarks/widget_latency.py [--check] [widget_name ...]

The last line reads ``widget latency median: M s, max: X s, reference figure: R s``. ``--check`` exits with
status 1 when a bound is broken; an explorer that fails is reported and the exit status is 1.
"""

from __future__ import annotations

import argparse
import importlib
import io
import math
import pkgutil
import statistics
import sys
import time

MEDIAN_SHARE, MAX_SHARE = 0.3, 1.0  # of the reference figure's time R


def widget_modules() -> list[str]:
    """The modules of ``course_lib.widgets`` that build an explorer."""
    import course_lib.widgets as package

    return [
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if hasattr(importlib.import_module(f"{package.__name__}.{info.name}"), "explorer")
    ]


def reference_figure() -> tuple[float, float]:
    """Seconds to make and render the reference figure (see the module's docstring): (CPU, wall)."""
    import matplotlib.pyplot as plt
    import numpy as np

    cpu, start = time.process_time(), time.perf_counter()
    x = np.linspace(0, 1, 200)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for k in range(20):
        axes[k % 2].plot(x, np.sin(2 * np.pi * (x + k / 20)) * (1 + k / 10))
    for ax, side in zip(axes, ("left", "right")):
        ax.set(xlabel="x", ylabel="y", title=f"ten lines, {side}")
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)
    return time.process_time() - cpu, time.perf_counter() - start


def inline_shell():
    """An IPython shell that keeps what is displayed, as a kernel sends it."""
    from IPython.core.displaypub import CapturingDisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    class Publisher(CapturingDisplayPublisher):
        def clear_output(self, wait=False):  # a kernel sends a message; the terminal's escape codes are noise
            self.outputs.clear()

    shell = InteractiveShell.instance()
    shell.display_pub = Publisher()
    return shell


def same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return a == b


def apply(box, case: dict, shell, settle) -> list[tuple[float, float, float]]:
    """Set the case's values one control at a time; (CPU, wall, ahead) seconds for each change that redrew."""
    times = []
    for name, value in case.items():
        control = box.controls[name]
        if same(control.value, value):
            continue
        ahead = settle() if settle else 0.0
        logged = len(box.figure.log)
        shell.display_pub.outputs.clear()
        cpu, start = time.process_time(), time.perf_counter()
        control.value = value
        cpu, wall = time.process_time() - cpu, time.perf_counter() - start
        if len(box.figure.log) == logged:
            raise RuntimeError(f"setting {name}={value!r} did not redraw the figure")
        if "error" in box.figure.log[-1]:
            raise RuntimeError(f"setting {name}={value!r} showed an error: {box.figure.log[-1]['error']}")
        if not any(key.startswith("image/") for output in shell.display_pub.outputs for key in output["data"]):
            raise RuntimeError(f"setting {name}={value!r} did not display an image")
        times.append((cpu, wall, ahead))
    return times


def summary(times: list[tuple[float, float, float]]) -> str:
    if not times:
        return "no changes"
    cpus, walls = [t[0] for t in times], [t[1] for t in times]
    return (
        f"median {statistics.median(cpus):.3f} s, max {max(cpus):.3f} s "
        f"[wall {statistics.median(walls):.3f} / {max(walls):.3f}] over {len(times)}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("widgets", nargs="*", help="only these widget modules (default: all)")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when a bound is broken")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    from course_lib.device import apply_thread_policy

    apply_thread_policy()  # the course's one thread policy, as in a kernel
    shell = inline_shell()
    reference_figure()  # warm-up: fonts and caches, as a notebook has them after its first plot
    references: list[tuple[float, float]] = []
    changes: list[tuple[float, float, float]] = []
    broken: list[str] = []
    for name in args.widgets or widget_modules():
        references += [reference_figure() for _ in range(3)]
        try:
            module = importlib.import_module(f"course_lib.widgets.{name}")
            cases = getattr(module, "LATENCY_CASES", None)
            if not callable(getattr(module, "explorer", None)) or not cases:
                print(f"{name:24s} skipped: no explorer or no LATENCY_CASES")
                continue
            settle = getattr(module, "settle", None)
            start = time.perf_counter()
            box = module.explorer()
            build = time.perf_counter() - start
            initial = {key: control.value for key, control in box.controls.items()}
            uncached = [t for case in cases for t in apply(box, case, shell, settle)]
            apply(box, initial, shell, settle)  # back to the start (cached: drawn when the explorer was built)
            cached = [t for case in cases for t in apply(box, case, shell, settle)]
            box.close()
        except Exception as error:  # one broken widget must not hide the others' numbers
            print(f"{name:24s} FAILED: {type(error).__name__}: {error}")
            broken.append(name)
            continue
        ahead = [t[2] for t in uncached + cached]
        trained = f" | ahead median {statistics.median(ahead):.1f} s, max {max(ahead):.1f} s" if settle else ""
        print(
            f"{name:24s} build {build:.2f} s | uncached {summary(uncached)} | cached {summary(cached)}{trained}",
            flush=True,
        )
        changes += uncached + cached

    if not changes:
        print("no widget with cases found")
        return 1
    reference = statistics.median(r[0] for r in references)
    median, worst = statistics.median(c[0] for c in changes), max(c[0] for c in changes)
    walls = [c[1] for c in changes]
    ok = median <= MEDIAN_SHARE * reference and worst <= MAX_SHARE * reference
    cpus = [r[0] for r in references]
    print(
        f"reference figure: median {reference:.3f} s of CPU (from {min(cpus):.3f} to {max(cpus):.3f} over "
        f"{len(references)} draws), wall {statistics.median(r[1] for r in references):.3f} s"
    )
    print(
        f"all changes: wall median {statistics.median(walls):.3f} s, max {max(walls):.3f} s "
        "(a busy machine adds to these)"
    )
    print(
        f"bounds (median <= {MEDIAN_SHARE} R = {MEDIAN_SHARE * reference:.3f} s, max <= R = {reference:.3f} s, CPU): "
        f"{'met' if ok else 'BROKEN'} over {len(changes)} changes; median {median / reference:.2f} R, "
        f"max {worst / reference:.2f} R"
    )
    if broken:
        print(f"failed: {', '.join(broken)}")
    print(f"widget latency median: {median:.3f} s, max: {worst:.3f} s, reference figure: {reference:.3f} s")
    return 1 if broken or (args.check and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
