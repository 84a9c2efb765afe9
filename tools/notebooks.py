#!/usr/bin/env python3
"""Run the course notebooks, check their claims over sizes and seeds, and store their outputs.

    .venv/bin/python tools/notebooks.py refresh                      # every notebook at the default size, seed 0, stored
    .venv/bin/python tools/notebooks.py run 02 05 --size default --seed 1   # run, report, store nothing
    .venv/bin/python tools/notebooks.py check 02 --sizes smoke default --seeds 0 1 2   # the claims matrix
    .venv/bin/python tools/notebooks.py sync-repository              # badges and Colab installs from pyproject
    .venv/bin/python tools/notebooks.py clean 03                     # refresh's clean-up, without running

A notebook is named by its path or by any unique part of its file name (``02``, ``05_over``,
``solutions/07``). Each run prints its time, how many claims held, every claim that did not hold
(``not in this run``) and every error; the exit status is 1 when any run had either.

``refresh`` (``run --store`` at the default size and seed 0) writes the executed notebook back with
what makes the files large or machine-specific removed: saved widget state and the frames a widget drew
while its cell ran (the widget's picture is the static figure before it; the static site draws every
frame), papermill's and nbclient's metadata. Plots are stored as 256-colour PNGs (they hold a few
thousand colours, mostly antialiasing shades: no visible change, about 2.5 times smaller); pictures
with more colours (photographs) are only re-encoded losslessly.
Only the default size with seed 0 may be stored: that is what nbval and the static site read.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = "(an interactive explorer: run this cell in Jupyter to drag its controls)"


def all_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb")) + sorted((NOTEBOOKS / "solutions").glob("*.ipynb"))


def resolve(names: list[str]) -> list[Path]:
    """Paths for ``names`` (paths or unique parts of a notebook's path below notebooks/); all when empty."""
    if not names:
        return all_notebooks()
    found = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.exists():
            found.append(path.resolve())
            continue
        matches = [p for p in all_notebooks() if name in str(p.relative_to(NOTEBOOKS))]
        lessons = [p for p in matches if p.parent == NOTEBOOKS]
        matches = lessons if len(lessons) == 1 and "solutions" not in name else matches
        if len(matches) != 1:
            raise SystemExit(f"{name!r} names {len(matches)} notebooks: {[str(p.relative_to(NOTEBOOKS)) for p in matches]}")
        found.append(matches[0])
    return found


def execute(path: Path, size: str, seed: int, store: bool, timeout: int) -> dict:
    """Execute one notebook in a fresh kernel; return what it claimed, what failed and how long it took."""
    import nbclient
    import nbformat
    import papermill

    # nbclient imitates a frontend for Output widgets and can stall a cell doing so (jupyter/nbclient#312);
    # nothing here needs widget state, so the imitation is off (as in tests/test_notebooks.py).
    nbclient.NotebookClient.on_comm_open_jupyter_widget = lambda self, msg: None
    import tempfile

    os.environ["COURSE_SIZE"] = size
    os.environ.pop("COURSE_STRICT", None)  # report every claim that fails instead of stopping at the first
    log = Path(tempfile.mkstemp(suffix=".jsonl")[1])
    os.environ["COURSE_CLAIMS_LOG"] = str(log)  # claims.claim writes every outcome there (printed lines can be cleared)
    parameters = {} if store else {"SIZE": size, "SEED": seed}
    output = io.StringIO()
    start = time.perf_counter()
    error = None
    try:
        executed = papermill.execute_notebook(str(path), None, parameters=parameters, cwd=str(path.parent),
                                              kernel_name="python3", execution_timeout=timeout, progress_bar=False,
                                              stdout_file=output)
    except papermill.PapermillExecutionError as failure:
        executed, error = None, f"{failure.ename}: {failure.evalue}"
    seconds = time.perf_counter() - start
    report = {"path": str(path.relative_to(ROOT)), "size": size, "seed": seed, "seconds": seconds,
              "held": 0, "failed": [], "errors": [error] if error else []}
    for line in log.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["held"]:
            report["held"] += 1
        else:
            report["failed"].append(f"not held ({entry['kind']}): {entry['statement']}")
    log.unlink()
    if executed is None:
        return report
    for cell in executed.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                report["errors"].append(f"{out['ename']}: {out['evalue']}")
    if store and not report["errors"]:
        nbformat.write(clean(executed), str(path))
    return report


def clean(notebook):
    """The executed notebook without what makes it heavy or tied to this run (see the module docstring)."""
    notebook.metadata.pop("widgets", None)
    notebook.metadata.pop("papermill", None)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for cell in notebook.cells:
        for key in ("papermill", "execution", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
        if any(is_widget(out) for out in cell.get("outputs", [])):
            # with no frontend, what the widget's Output showed lands in the cell's outputs: not the lesson's
            cell.outputs = [out for out in cell.outputs if is_widget(out) or out.get("output_type") == "stream"]
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data:
                data.pop(WIDGET_VIEW)
                data["text/plain"] = WIDGET_NOTE
            if "image/png" in data:
                data["image/png"] = smaller_png(data["image/png"])
    return notebook


PLOT_COLOURS = 8192  # more distinct colours than this: a photograph, kept lossless


def is_widget(output) -> bool:
    """A widget's output: its view (fresh from a kernel) or the note that replaces it when stored."""
    data = output.get("data", {})
    return WIDGET_VIEW in data or "".join(data.get("text/plain", "")) == WIDGET_NOTE


def smaller_png(encoded: str) -> str:
    """The picture as a 256-colour PNG when it is a plot, else re-encoded losslessly; whichever is smaller."""
    from PIL import Image

    raw = base64.b64decode(encoded)
    image = Image.open(io.BytesIO(raw))
    image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    if image.mode == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
        image = image.convert("RGB")  # matplotlib's opaque figures carry an alpha channel of no use
    if image.mode == "RGB" and image.getcolors(maxcolors=PLOT_COLOURS) is not None:
        image = image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode() + "\n" if buffer.tell() < len(raw) else encoded


def run_all(paths: list[Path], sizes: list[str], seeds: list[int], store: bool, jobs: int, timeout: int) -> int:
    work = [(path, size, seed) for path in paths for size in sizes for seed in seeds]
    if store and any(size != "default" or seed != 0 for _, size, seed in work):
        raise SystemExit("only the default size with seed 0 is stored (nbval and the site read it)")
    bad = 0
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(execute, path, size, seed, store, timeout) for path, size, seed in work]
        for future in futures:
            report = future.result()
            ok = not report["failed"] and not report["errors"]
            bad += not ok
            stored = " (stored)" if store and not report["errors"] else ""
            print(f"{'ok  ' if ok else 'FAIL'} {report['path']} size={report['size']} seed={report['seed']}: "
                  f"{report['seconds']:.0f} s, {report['held']} claims held{stored}", flush=True)
            for line in report["failed"] + [f"error: {e}" for e in report["errors"]]:
                print(f"       {line}", flush=True)
    print(f"{len(work) - bad} of {len(work)} runs without a failed claim or an error")
    return 1 if bad else 0


def sync_repository() -> int:
    """Rewrite every notebook's Colab badge and install line from pyproject's ``Repository``."""
    sys.path.insert(0, str(Path(__file__).parent))
    import nbtools

    changed = 0
    for path in all_notebooks():
        notebook = json.loads(path.read_text(encoding="utf-8"))
        relative = path.relative_to(ROOT).as_posix()
        before = json.dumps(notebook)
        for cell in notebook["cells"]:
            text = "".join(cell["source"])
            text = re.sub(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)", lambda _: nbtools.colab_badge(relative), text)
            text = re.sub(r"^ *%pip install -q \"course_lib @ git\+https://github\.com/[^\"]*\"", nbtools.colab_install_line(),
                          text, flags=re.M)
            lines = text.split("\n")
            cell["source"] = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
        if json.dumps(notebook) != before:
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            changed += 1
    print(f"{changed} notebooks rewritten for github.com/{nbtools.REPO}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("notebooks", nargs="*", help="paths or unique parts of names (default: every notebook)")
    common.add_argument("--jobs", type=int, default=2, help="notebooks run at once (default 2: one per core here)")
    common.add_argument("--timeout", type=int, default=900, help="seconds a cell may take")
    run = commands.add_parser("run", parents=[common], help="run at one size and seed")
    run.add_argument("--size", default="default", choices=("smoke", "default", "gpu"))
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--store", action="store_true", help="write the outputs back (default size, seed 0 only)")
    check = commands.add_parser("check", parents=[common], help="run every size x seed; fail on any failed claim")
    check.add_argument("--sizes", nargs="+", default=["smoke", "default"], choices=("smoke", "default", "gpu"))
    check.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    commands.add_parser("refresh", parents=[common], help="run at the default size, seed 0, and store the outputs")
    commands.add_parser("sync-repository", help="badges and Colab install lines from pyproject's Repository")
    tidy = commands.add_parser("clean", help="apply refresh's clean-up to stored notebooks without running them")
    tidy.add_argument("notebooks", nargs="*", help="paths or unique parts of names (default: every notebook)")
    args = parser.parse_args(argv)
    if args.command == "sync-repository":
        return sync_repository()
    if args.command == "clean":
        import nbformat

        for path in resolve(args.notebooks):
            before = path.stat().st_size
            nbformat.write(clean(nbformat.read(str(path), as_version=4)), str(path))
            print(f"{path.relative_to(ROOT)}: {before // 1024} KB -> {path.stat().st_size // 1024} KB")
        return 0
    paths = resolve(args.notebooks)
    if args.command == "run":
        return run_all(paths, [args.size], [args.seed], args.store, args.jobs, args.timeout)
    if args.command == "check":
        return run_all(paths, args.sizes, args.seeds, False, args.jobs, args.timeout)
    return run_all(paths, ["default"], [0], True, args.jobs, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
