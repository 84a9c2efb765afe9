"""Run the course notebooks, check their claims over sizes, seeds and CPU kernel sets, and store their outputs.

    python -m tools.notebooks refresh                      # every notebook at the default size, seed 0, stored
    python -m tools.notebooks run 02 05 --size default --seed 1   # run, report, store nothing
    python -m tools.notebooks check 02 --sizes smoke default --seeds 0 1 2   # the claims matrix
    python -m tools.notebooks check --kernel-sets default avx2 avx512        # ... under each x86 kernel set
    python -m tools.notebooks sync-repository              # badges and Colab installs from pyproject
    python -m tools.notebooks clean 03                     # refresh's clean-up, without running

Run them from the repository root with the course's Python (``.venv/bin/python``). A notebook is named by
its path or by any unique part of its file name (``02``, ``05_over``, ``solutions/07``). Each run prints
its time, how many claims held, every claim that did not hold (``not in this run``) and every error; the
exit status is 1 when any run had either.

x86 CPUs run one of three sets of ATen kernels (default, AVX2, AVX-512), and the BLAS (MKL) and oneDNN
pick their own instructions; a claim can hold under one and fail under another. ``--kernel-sets`` runs
every notebook under each set named, capping ATen (``ATEN_CPU_CAPABILITY``), MKL
(``MKL_ENABLE_INSTRUCTIONS``) and oneDNN (``ONEDNN_MAX_CPU_ISA``) alike; a set this CPU lacks is skipped,
and said so. Without it the notebooks run under what the CPU picks (``native``).

``refresh`` (``run --store`` at the default size and seed 0) writes the executed notebook back with
what makes the files large or machine-specific removed: saved widget state and the frames a widget drew
while its cell ran (the widget's picture is the static figure before it; the static site draws every
frame), papermill's and nbclient's metadata. Plots are stored as 256-colour PNGs (they hold a few
thousand colours, mostly antialiasing shades: no visible change, about 2.5 times smaller); pictures
with more colours (photographs) are only re-encoded losslessly.
Only the default size with seed 0 may be stored: that is what the tests compare and the static site reads.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tools.cli import non_negative_int, positive_int, seed_number

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = "(an interactive explorer: run this cell in Jupyter to drag its controls)"
SIZES = ("smoke", "default", "gpu")

# Each x86 kernel set: ATen's, and the same ceiling for MKL's and oneDNN's own dispatch, each at the baseline of
# its class (AVX-512 without the bf16, fp16 and AMX extensions, which ``native`` uses where the CPU has them).
KERNEL_SETS = {
    "default": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "avx512": {
        "ATEN_CPU_CAPABILITY": "avx512",
        "MKL_ENABLE_INSTRUCTIONS": "AVX512",
        "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
    },
}
NATIVE = "native"  # no ceiling: what the CPU picks


def all_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb")) + sorted((NOTEBOOKS / "solutions").glob("*.ipynb"))


def resolve(names: list[str]) -> list[Path]:
    """Paths for ``names`` (paths or unique parts of a notebook's path below notebooks/); all when empty.

    Raises ``ValueError`` naming a name that matches no notebook or several."""
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
            names = [str(p.relative_to(NOTEBOOKS)) for p in matches]
            raise ValueError(f"{name!r} names {len(matches)} notebooks: {names}")
        found.append(matches[0])
    return found


def kernel_set_env(name: str) -> dict:
    """The environment that runs a kernel under kernel set ``name`` (``native``: the variables removed).

    A capped set also gets an inductor cache of its own: torch.compile's cache does not key on
    ``ATEN_CPU_CAPABILITY``, and a kernel compiled for AVX-512 and loaded from the shared cache under the AVX2 cap
    left elements of its output at 0 (08b's tanh-GELU, torch 2.14: max difference 4.7 against eager; 2.4e-7 with a
    cache of its own)."""
    if name == NATIVE:
        return {variable: None for variable in {v for env in KERNEL_SETS.values() for v in env}}
    cache = Path(tempfile.gettempdir()) / f"torchinductor-kernels-{name}"
    return {
        **{variable: None for env in KERNEL_SETS.values() for variable in env},
        **KERNEL_SETS[name],
        "TORCHINDUCTOR_CACHE_DIR": str(cache),
    }


def cpu_capability(env: dict) -> str:
    """The kernel set ATen picks under ``env`` (``DEFAULT``, ``AVX2``, ``AVX512``, or another CPU's name), asked of
    a fresh Python: a set the CPU lacks falls back to a lower one."""
    from tools.execution import environment

    with environment(env):
        result = subprocess.run(
            [sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
            capture_output=True,
            text=True,
            check=True,
        )
    return result.stdout.strip()


def execute(path: Path, size: str, seed: int, store: bool, timeout: int, kernels: str = NATIVE) -> dict:
    """Execute one notebook in a fresh kernel; return what it claimed, what failed and how long it took."""
    from tools.execution import execute_notebook

    log = Path(tempfile.mkstemp(suffix=".jsonl")[1])
    env = {
        "COURSE_SIZE": size,
        "COURSE_STRICT": None,  # report every claim that fails instead of stopping at the first
        "COURSE_CLAIMS_LOG": str(log),  # claims.claim writes every outcome there (printed lines can be cleared)
        **kernel_set_env(kernels),
    }
    report = {
        "path": str(path.relative_to(ROOT)),
        "size": size,
        "seed": seed,
        "kernels": kernels,
        "seconds": 0.0,
        "held": 0,
        "failed": [],
        "errors": [],
    }
    try:
        run = execute_notebook(
            path, cwd=path.parent, parameters={} if store else {"SIZE": size, "SEED": seed}, env=env, timeout=timeout
        )
    except Exception as error:  # a timeout or a dead kernel: reported with the rest
        run = None
        report["errors"].append(f"{type(error).__name__}: {str(error)[-500:]}")
    for line in log.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["held"]:
            report["held"] += 1
        else:
            report["failed"].append(f"not held ({entry['kind']}): {entry['statement']}")
    log.unlink()
    if run is None:
        return report
    report["seconds"] = run.seconds
    report["errors"] += [error for _, error in run.errors]
    if store and not report["errors"]:
        import nbformat

        nbformat.write(clean(run.notebook), str(path))
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
    return WIDGET_VIEW in data or "".join(data.get("text/plain", "")).strip() == WIDGET_NOTE


def widget_cells(notebook) -> list[int]:
    """Indices of the code cells whose output is a widget (its view, or the note that replaces it when stored)."""
    return [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and any(is_widget(o) for o in cell.get("outputs", []))
    ]


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


def usable_kernel_sets(names: list[str]) -> list[str]:
    """The kernel sets of ``names`` this CPU has (each checked by asking ATen under it); the others are announced."""
    usable = []
    for name in names:
        if name == NATIVE:
            usable.append(name)
            continue
        got = cpu_capability(kernel_set_env(name))
        if got.lower() == name:
            usable.append(name)
        else:
            print(
                f"skip kernel set {name}: this CPU lacks it (ATen runs {got} under ATEN_CPU_CAPABILITY={name})",
                flush=True,
            )
    return usable


def run_all(
    paths: list[Path],
    sizes: list[str],
    seeds: list[int],
    store: bool,
    jobs: int,
    timeout: int,
    kernel_sets: tuple[str, ...] = (NATIVE,),
) -> int:
    kernel_sets = usable_kernel_sets(list(kernel_sets))
    work = [
        (path, size, seed, kernels) for kernels in kernel_sets for path in paths for size in sizes for seed in seeds
    ]
    bad, runs = {}, {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [
            pool.submit(execute, path, size, seed, store, timeout, kernels) for path, size, seed, kernels in work
        ]
        for future in futures:
            report = future.result()
            ok = not report["failed"] and not report["errors"]
            runs[report["kernels"]] = runs.get(report["kernels"], 0) + 1
            bad[report["kernels"]] = bad.get(report["kernels"], 0) + (not ok)
            stored = " (stored)" if store and not report["errors"] else ""
            print(
                f"{'ok  ' if ok else 'FAIL'} {report['path']} size={report['size']} seed={report['seed']} "
                f"kernels={report['kernels']}: {report['seconds']:.0f} s, {report['held']} claims held{stored}",
                flush=True,
            )
            for line in report["failed"] + [f"error: {e}" for e in report["errors"]]:
                print(f"       {line}", flush=True)
    for kernels in kernel_sets:
        print(
            f"kernels={kernels}: {runs.get(kernels, 0) - bad.get(kernels, 0)} of {runs.get(kernels, 0)} runs "
            f"without a failed claim or an error"
        )
    return 1 if any(bad.values()) or not work else 0


def sync_repository() -> int:
    """Rewrite every notebook's Colab badge and install line from pyproject's ``Repository``."""
    from tools import repository

    changed = 0
    for path in all_notebooks():
        notebook = json.loads(path.read_text(encoding="utf-8"))
        relative = path.relative_to(ROOT).as_posix()
        before = json.dumps(notebook)
        for cell in notebook["cells"]:
            text = "".join(cell["source"])
            text = re.sub(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)", lambda _: repository.colab_badge(relative), text)  # noqa: B023 (used at once)
            text = re.sub(
                r"^ *%pip install -q \"course_lib @ git\+https://github\.com/[^\"]*\"",
                repository.colab_install_line(),
                text,
                flags=re.M,
            )
            lines = text.split("\n")
            cell["source"] = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
        if json.dumps(notebook) != before:
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            changed += 1
    print(f"{changed} notebooks rewritten for github.com/{repository.REPO}")
    return 0


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.notebooks", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("notebooks", nargs="*", help="paths or unique parts of names (default: every notebook)")
    common.add_argument(
        "--jobs", type=positive_int, default=2, help="notebooks run at once (default 2: one per core here)"
    )
    common.add_argument("--timeout", type=positive_int, default=900, help="seconds a cell may take (default 900)")
    kernels = argparse.ArgumentParser(add_help=False)
    kernels.add_argument(
        "--kernel-sets",
        nargs="+",
        choices=(NATIVE, *KERNEL_SETS),
        default=[NATIVE],
        help="x86 kernel sets to run under, one run each (default: native, what the CPU picks)",
    )
    run = commands.add_parser("run", parents=[common, kernels], help="run at one size and seed")
    run.set_defaults(parser=run)
    run.add_argument("--size", default="default", choices=SIZES)
    run.add_argument("--seed", type=non_negative_int, default=0)
    run.add_argument("--store", action="store_true", help="write the outputs back (default size, seed 0 only)")
    check = commands.add_parser(
        "check", parents=[common, kernels], help="run every size x seed; fail on any failed claim"
    )
    check.set_defaults(parser=check)
    check.add_argument("--sizes", nargs="+", default=["smoke", "default"], choices=SIZES)
    check.add_argument("--seeds", nargs="+", type=seed_number, default=[0, 1, 2])
    refresh = commands.add_parser(
        "refresh", parents=[common], help="run at the default size, seed 0, and store the outputs"
    )
    refresh.set_defaults(parser=refresh)
    commands.add_parser("sync-repository", help="badges and Colab install lines from pyproject's Repository")
    tidy = commands.add_parser("clean", help="apply refresh's clean-up to stored notebooks without running them")
    tidy.add_argument("notebooks", nargs="*", help="paths or unique parts of names (default: every notebook)")
    tidy.set_defaults(parser=tidy)
    return parser


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.command == "sync-repository":
        return sync_repository()
    try:
        paths = resolve(args.notebooks)
    except ValueError as error:
        args.parser.error(f"argument notebooks: {error}")
    if args.command == "clean":
        import nbformat

        for path in paths:
            before = path.stat().st_size
            nbformat.write(clean(nbformat.read(str(path), as_version=4)), str(path))
            print(f"{path.relative_to(ROOT)}: {before // 1024} KB -> {path.stat().st_size // 1024} KB")
        return 0
    if args.command == "run":
        if args.store and (args.size != "default" or args.seed != 0):
            args.parser.error(
                "argument --store: only the default size with seed 0 is stored (the tests and the site read it)"
            )
        return run_all(paths, [args.size], [args.seed], args.store, args.jobs, args.timeout, tuple(args.kernel_sets))
    if args.command == "check":
        return run_all(paths, args.sizes, args.seeds, False, args.jobs, args.timeout, tuple(args.kernel_sets))
    return run_all(paths, ["default"], [0], True, args.jobs, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
