"""Build the course's static website into site/ (``python3 course.py site`` runs this).

    python -m tools.build_site            # every lesson at the default size, every explorer over its grid
    python -m tools.build_site --quick    # smoke size, three values per control
    python3 -m http.server -d site        # then open http://localhost:8000

Pages come from the notebooks as stored; explorers' frames from running the lessons (see tools.course_site.build).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.cli import positive_int
from tools.course_site.build import ROOT, build


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.build_site", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="folder to write (default: site/)")
    parser.add_argument("--quick", action="store_true", help="smoke size and a coarse grid (as the tests build it)")
    parser.add_argument("--jobs", type=positive_int, default=2, help="lessons run at once (default 2: one per core)")
    parser.add_argument("--timeout", type=positive_int, default=900, help="seconds a cell may take (default 900)")
    args = parser.parse_args(argv)
    report = build(args.out.resolve(), quick=args.quick, jobs=args.jobs, timeout=args.timeout)
    frames = sum(e["frames"] for e in report["explorers"])
    cpu = sum(run["cpu"] for run in report["notebook_seconds"].values())
    print(
        f"site: {args.out} | {report['pages']} pages | {len(report['explorers'])} explorers, {frames} frames | "
        f"{report['bytes'] / 1e6:.1f} MB | built in {report['seconds']:.0f} s ({report['grid']} grid, {report['size']} size; "
        f"the lessons' kernels used {cpu:.0f} CPU seconds)"
    )
    for explorer in report["explorers"]:
        print(
            f"  {explorer['id']}: {explorer['frames']} frames over {', '.join(explorer['varied'])}, "
            f"{explorer['bytes'] / 1e6:.2f} MB, drawn in {explorer['seconds']:.0f} s"
        )
    print(f"serve it: python3 -m http.server -d {args.out}  (then open http://localhost:8000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
