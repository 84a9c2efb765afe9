"""How much faster is a vectorised lr sweep than the same runs one after another?

32 log-spaced learning rates, SGD with momentum 0.9, 200 updates of batch 128 on the spirals MLP
(``models.MLP(2, 2)``: 2-64-64-2). Once with ``sweep.run_sweep`` (all 32 members at once), once as 32
ordinary PyTorch loops (``torch.optim.SGD``, the same initial weights and batches, stopping at the
same divergence rule) in this process, alternating, a few repeats each; median times. The sweep's
recorded losses are compared with those of the ordinary runs, step by step.

    .venv/bin/python benchmarks/sweep.py
"""
from __future__ import annotations

import math
import statistics
import time

import torch
from torch import nn

from course_lib import datasets, loaders, models, sweep
from course_lib.device import apply_thread_policy

NUM_LRS, NUM_STEPS, BATCH_SIZE, MOMENTUM, REPEATS, SEED = 32, 200, 128, 0.9, 3, 0
LRS = sweep.log_grid(1e-3, 1.0, NUM_LRS)
apply_thread_policy()  # the course's thread policy (course_lib.device.thread_count), for both contenders
X, y = datasets.make_spirals(1000, seed=SEED)


def model_fn() -> nn.Module:
    return models.MLP(2, 2)


def plain_run(lr: float, divergence_factor: float = 1e3) -> list[float]:
    """One ordinary training loop, as a learner would write it."""
    torch.manual_seed(SEED)
    model = model_fn()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)
    train = loaders.DeviceLoader(X, y, BATCH_SIZE, seed=SEED)
    losses: list[float] = []
    while len(losses) < NUM_STEPS:
        for inputs, targets in train:
            loss = nn.functional.cross_entropy(model(inputs), targets)
            losses.append(loss.item())
            if not math.isfinite(losses[-1]) or losses[-1] > divergence_factor * abs(losses[0]):
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
    return sweep.run_sweep(model_fn, X, y, "momentum", lrs=LRS, num_steps=NUM_STEPS, batch_size=BATCH_SIZE,
                           momentum=MOMENTUM, seed=SEED, device="cpu")


def timed(function):
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def main() -> None:
    vectorised(), plain_run(LRS[0])  # warm up allocator and caches
    sweep_times, plain_times = [], []
    for _ in range(REPEATS):  # alternating, so drift in machine load hits both alike
        seconds, result = timed(vectorised)
        sweep_times.append(seconds)
        seconds, reference = timed(plain_runs)
        plain_times.append(seconds)
    diffs = [max(abs(a - b) for a, b in zip(mine, theirs)) if len(mine) == len(theirs) else math.inf
             for mine, theirs in zip(result.losses, reference)]
    sweep_median, plain_median = statistics.median(sweep_times), statistics.median(plain_times)
    print(f"{NUM_LRS} lrs from {LRS[0]:g} to {LRS[-1]:g}, SGD momentum {MOMENTUM}, {NUM_STEPS} steps, batch {BATCH_SIZE}, "
          f"MLP 2-64-64-2, {torch.get_num_threads()} threads, {REPEATS} repeats")
    print(f"sweep: median {sweep_median:.3f} s; 32 plain runs: median {plain_median:.3f} s")
    diverged = [f"{lr:.3g}@{step}" for lr, step in zip(LRS, result.diverged_at_step) if step is not None]
    print(f"diverged members (lr@step): {', '.join(diverged) or 'none'}; same lengths as plain runs: "
          f"{all(len(a) == len(b) for a, b in zip(result.losses, reference))}")
    print(f"sweep speedup: {plain_median / sweep_median:.1f} x, max loss diff: {max(diffs):.2e}")


if __name__ == "__main__":
    main()
