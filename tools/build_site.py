#!/usr/bin/env python3
"""Build the course's static website into site/ (``python3 course.py site`` runs this).

    python tools/build_site.py            # every lesson at the default size, every explorer over its grid
    python tools/build_site.py --quick    # smoke size, three values per control: for the tests
    python3 -m http.server -d site        # then open http://localhost:8000

Pages come from the notebooks as stored; explorers' frames from running the lessons (see course_site.build).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from course_site.build import ROOT, build  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="folder to write (default: site/)")
    parser.add_argument("--quick", action="store_true", help="smoke size and a coarse grid (for the tests)")
    parser.add_argument("--jobs", type=int, default=2, help="lessons run at once (default 2: one per core)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds a cell may take")
    args = parser.parse_args(argv)
    report = build(args.out.resolve(), quick=args.quick, jobs=args.jobs, timeout=args.timeout)
    frames = sum(e["frames"] for e in report["explorers"])
    cpu = sum(run["cpu"] for run in report["notebook_seconds"].values())
    print(f"site: {args.out} | {report['pages']} pages | {len(report['explorers'])} explorers, {frames} frames | "
          f"{report['bytes'] / 1e6:.1f} MB | built in {report['seconds']:.0f} s ({report['grid']} grid, {report['size']} size; "
          f"the lessons' kernels used {cpu:.0f} CPU seconds)")
    for explorer in report["explorers"]:
        print(f"  {explorer['id']}: {explorer['frames']} frames over {', '.join(explorer['varied'])}, "
              f"{explorer['bytes'] / 1e6:.2f} MB, drawn in {explorer['seconds']:.0f} s")
    print(f"serve it: python3 -m http.server -d {args.out}  (then open http://localhost:8000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
