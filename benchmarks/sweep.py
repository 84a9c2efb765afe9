"""How much faster is a vectorised lr sweep than the same runs one after another?

32 log-spaced learning rates, SGD with momentum 0.9, 200 updates of batch 128 on the spirals MLP
(``models.MLP(2, 2)``: 2-64-64-2). Once with ``sweep.run_sweep`` (all 32 members at once), once as 32
ordinary PyTorch loops (``torch.optim.SGD``, the same initial weights and batches, stopping at the
same divergence rule) in this process, alternating, a few repeats each, both under the course's
thread policy (``device.apply_thread_policy``: one thread). Times are CPU seconds of this process:
with one thread that is the wall time of an idle machine, and unlike wall time it does not count the
time other programs hold the core. Each contender's fastest run is compared, as ``timeit`` advises: a
busy machine only ever adds time, so the fastest run is the closest to the code's own cost (every run
is printed, and the wall-clock medians too).

The sweep's recorded losses are compared with those of the ordinary runs, step by step. The two
compute the same thing with different kernels (a batched matrix product against ``nn.Linear``), which
round differently in the last bit, and no BLAS promises otherwise. Where training is stable that
difference stays at rounding level; past the edge of stability it is amplified like any other
perturbation, and two correct runs part ways. So the loss difference is taken only over the members
whose training is not chaotic, by this rule: a member is chaotic when its plain run's loss curve
moves by more than ``CHAOS_TOLERANCE`` (or diverges at another step) when every initial weight is
nudged by ``NUDGE``. The benchmark prints how many members the rule left out.

    .venv/bin/python benchmarks/sweep.py
"""

from __future__ import annotations

import math
import statistics
import time

import torch
from torch import nn

from course_lib import models
from course_lib.data import datasets, loaders
from course_lib.device import apply_thread_policy
from course_lib.lr import sweep
from course_lib.training import statuses

NUM_LRS, NUM_STEPS, BATCH_SIZE, MOMENTUM, REPEATS, SEED = 32, 200, 128, 0.9, 3, 0
NUDGE, CHAOS_TOLERANCE = 1e-7, 1e-3  # a nudge of a few float32 ulps; a move 10^4 times larger is chaos
LRS = sweep.log_grid(1e-3, 1.0, NUM_LRS)
apply_thread_policy()  # the course's thread policy (course_lib.device.thread_count), for both contenders
X, y = datasets.make_spirals(1000, seed=SEED)


def model_fn() -> nn.Module:
    return models.MLP(2, 2)


def plain_run(lr: float, nudge: float = 0.0, divergence_factor: float = 1e3) -> list[float]:
    """One ordinary training loop, as a learner would write it; ``nudge`` is added to every initial weight."""
    torch.manual_seed(SEED)
    model = model_fn()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(nudge)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
    train = loaders.DeviceLoader(X, y, BATCH_SIZE, seed=SEED)
    losses: list[float] = []
    while len(losses) < NUM_STEPS:
        for inputs, targets in train:
            loss = nn.functional.cross_entropy(model(inputs), targets)
            losses.append(loss.item())
            if statuses.diverged(losses[-1], losses[0], divergence_factor):
                return losses  # diverged: stop, as the sweep freezes such a member
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if len(losses) == NUM_STEPS:
                break
    return losses


def plain_runs() -> list[list[float]]:
    return [plain_run(lr) for lr in LRS]


def vectorised() -> sweep.SweepResult:
    return sweep.run_sweep(
        model_fn,
        X,
        y,
        "momentum",
        lrs=LRS,
        num_steps=NUM_STEPS,
        batch_size=BATCH_SIZE,
        momentum=MOMENTUM,
        seed=SEED,
        device="cpu",
    )


def max_difference(a: list[float], b: list[float]) -> float:
    return max(abs(p - q) for p, q in zip(a, b)) if len(a) == len(b) else math.inf


def timed(function):
    cpu, wall = time.process_time(), time.perf_counter()
    value = function()
    return time.process_time() - cpu, time.perf_counter() - wall, value


def main() -> None:
    vectorised(), plain_run(LRS[0])  # warm up allocator and caches
    cpu, wall = {"sweep": [], "plain": []}, {"sweep": [], "plain": []}
    for _ in range(REPEATS):  # alternating, so drift in machine load hits both alike
        seconds, elapsed, result = timed(vectorised)
        cpu["sweep"].append(seconds)
        wall["sweep"].append(elapsed)
        seconds, elapsed, reference = timed(plain_runs)
        cpu["plain"].append(seconds)
        wall["plain"].append(elapsed)
    chaotic = [max_difference(plain, plain_run(lr, NUDGE)) > CHAOS_TOLERANCE for lr, plain in zip(LRS, reference)]
    diffs = [
        max_difference(mine, theirs)
        for mine, theirs, left_out in zip(result.losses, reference, chaotic)
        if not left_out
    ]
    fastest = {name: min(values) for name, values in cpu.items()}
    print(
        f"{NUM_LRS} lrs from {LRS[0]:g} to {LRS[-1]:g}, SGD momentum {MOMENTUM}, {NUM_STEPS} steps, batch {BATCH_SIZE}, "
        f"MLP 2-64-64-2, {torch.get_num_threads()} thread(s), {REPEATS} repeats"
    )
    print(
        f"CPU seconds, sweep: {', '.join(f'{t:.2f}' for t in cpu['sweep'])}; 32 plain runs: "
        f"{', '.join(f'{t:.2f}' for t in cpu['plain'])}"
    )
    print(
        f"wall-clock medians: sweep {statistics.median(wall['sweep']):.2f} s, "
        f"32 plain runs {statistics.median(wall['plain']):.2f} s "
        f"(ratio {statistics.median(wall['plain']) / statistics.median(wall['sweep']):.1f})"
    )
    diverged = [f"{lr:.3g}@{step}" for lr, step in zip(LRS, result.diverged_at_step) if step is not None]
    print(f"diverged members (lr@step): {', '.join(diverged) or 'none'}")
    left_out = [f"{lr:.3g}" for lr, is_chaotic in zip(LRS, chaotic) if is_chaotic]
    print(
        f"left out {len(left_out)} of {NUM_LRS} members as chaotic (lr {', '.join(left_out) or '-'}): their plain run's "
        f"loss curve moves by more than {CHAOS_TOLERANCE:g} when every initial weight is nudged by {NUDGE:g}"
    )
    all_diffs = [max_difference(mine, theirs) for mine, theirs in zip(result.losses, reference)]
    print(f"max loss diff over all members, chaotic ones included: {max(all_diffs):.2e}")
    print(f"sweep speedup: {fastest['plain'] / fastest['sweep']:.1f} x, max loss diff: {max(diffs):.2e}")


if __name__ == "__main__":
    main()
