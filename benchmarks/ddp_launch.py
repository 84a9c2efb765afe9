"""Is ``ddp_example.launch`` reliable on a busy machine? Launch it many times in a row and count what happened.

Notebook 08 launches two processes with ``torchrun`` and claims that they ran to the end; one CI run once saw
both tries of a launch fail (one rank aborted). This script repeats the launch the notebook makes (two
processes, one epoch, a 180 s limit) while ``--burners`` processes each spin on a core, as other programs
would on a learner's busy 2-core machine, and prints every launch's outcome and time, the message of every
failure (which names the first process to fail and shows its own error), and the counts.

    .venv/bin/python benchmarks/ddp_launch.py                   # 50 launches beside 2 burners
    .venv/bin/python benchmarks/ddp_launch.py --runs 10 --burners 0
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from course_lib import ddp_example

BURN = "while True: pass"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="launches in a row (default 50)")
    parser.add_argument("--burners", type=int, default=2, help="processes spinning on a core meanwhile (default 2)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per launch (notebook 08 at smoke: 1)")
    args = parser.parse_args()
    for name in ("runs", "epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.burners < 0:
        parser.error(f"--burners must be >= 0, got {args.burners}")

    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # gloo on the CPU, as in the course's tests
    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(args.burners)]
    counts, start = Counter(), time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as folder:
            for run in range(1, args.runs + 1):
                launched = ddp_example.launch(Path(folder) / "run.pt", num_epochs=args.epochs, timeout=180)
                counts[launched["status"]] += 1
                load = ddp_example._load()
                print(f"launch {run:3d}: {launched['status']:7s} {launched['seconds']:6.1f} s{load}", flush=True)
                if launched["status"] != "ok":
                    print(launched["message"], flush=True)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    print(
        f"{args.runs} launches beside {args.burners} burners on {os.cpu_count()} cores in "
        f"{time.perf_counter() - start:.0f} s: ok {counts['ok']}, failed {counts['failed']}, "
        f"timeout {counts['timeout']}"
    )


if __name__ == "__main__":
    main()
