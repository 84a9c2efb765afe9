"""How much faster and leaner is a training step under autocast than in fp32, on the device at hand?

An MLP big enough for the matrix products to dominate (CUDA: 8 layers 2048 wide, a batch of 65,536
rows, halved until it fits; CPU: 3 layers 512 wide, a batch of 2,048, so it ends within a minute on a
laptop), trained with plain SGD (no optimizer state, so the activations are most of the memory). Three ways, each with a
fresh model from the same seed, ``--steps`` timed steps after warm-up, median reported:

- fp32: no autocast;
- fp16: ``torch.autocast(dtype=float16)`` with ``torch.amp.GradScaler`` (scale -> backward -> step -> update);
- bf16: ``torch.autocast(dtype=bfloat16)``, no scaler (skipped where the device has no bf16).

Memory. CUDA: the allocator's peak over one step, weights included (``torch.cuda.max_memory_allocated``).
CPU: there is no allocator peak to read, so the bytes autograd saves for backward are counted
(``course_lib.memory.SavedTensors``: the activations, plus the low-precision weight copies autocast saves).

The last line is ``amp speedup: S x, memory: M x (measured on ...)``: S = fp32 time / amp time, M = amp
memory / fp32 memory, for whichever of fp16 and bf16 is faster, and the device that was measured. On a
CUDA GPU the course expects S >= 2 and M <= 0.7 (``--check`` exits with status 1 otherwise); on a CPU the
figures are printed as measured and the bounds do not apply: the speed depends on whether the CPU has
bf16 instructions (AVX512-BF16, AMX, Arm's BF16), which the first line reports where Linux tells.
The CPU follows the course's thread policy (one thread unless ``COURSE_THREADS`` says otherwise).

    .venv/bin/python benchmarks/amp.py [--steps 5] [--check]
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import sys
import time

import torch
from torch import nn

from course_lib import memory, models
from course_lib.device import apply_thread_policy, pick_device, seed_everything

SIZES = {
    "cuda": dict(in_features=256, width=2048, depth=8, num_classes=10, batch_size=65536),
    "cpu": dict(in_features=256, width=512, depth=3, num_classes=10, batch_size=2048),
}
DTYPES = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}
SPEEDUP_BOUND, MEMORY_BOUND = 2.0, 0.7


def setup(mode: str, size: dict, device: torch.device):
    seed_everything(0)
    model = models.MLP(size["in_features"], size["num_classes"], width=size["width"], depth=size["depth"]).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(device.type, enabled=mode == "fp16")
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(size["batch_size"], size["in_features"], device=device, generator=g)
    y = torch.randint(0, size["num_classes"], (size["batch_size"],), device=device, generator=g)
    return model, optimizer, scaler, x, y


def train_step(model, optimizer, scaler, x, y, mode: str, device: torch.device) -> None:
    dtype = DTYPES[mode]
    with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()  # fp16: the scaled loss, so small gradients survive in fp16
    scaler.step(optimizer)  # unscales; skips the step if a gradient is inf or NaN
    scaler.update()


def measure(mode: str, size: dict, device: torch.device, steps: int, warmup: int) -> dict:
    model, optimizer, scaler, x, y = setup(mode, size, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    for i in range(warmup + steps):
        sync()
        start = time.perf_counter()
        train_step(model, optimizer, scaler, x, y, mode, device)
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    if device.type == "cuda":
        used = memory.cuda_peak_bytes(lambda: train_step(model, optimizer, scaler, x, y, mode, device), device)[0]
    else:
        dtype = DTYPES[mode]
        with (
            memory.SavedTensors(ignore=model.parameters()) as saved,
            torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None),
        ):
            nn.functional.cross_entropy(model(x), y)
        used = saved.bytes
    return {"seconds": statistics.median(times), "bytes": used}


def run_all(size: dict, device: torch.device, steps: int, warmup: int, what: str) -> dict:
    results = {}
    for mode in DTYPES:
        if mode == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported(including_emulation=False):
            print(f"{mode:>5}: skipped, this GPU has no bf16 arithmetic (before Ampere)")
            continue
        results[mode] = r = measure(mode, size, device, steps, warmup)
        print(f"{mode:>5}: median step {1000 * r['seconds']:8.1f} ms | {what}: {memory.format_bytes(r['bytes'])}")
        if device.type == "cuda":
            torch.cuda.empty_cache()  # the next mode's peak starts from what it allocates itself
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="timed steps per mode (default: 20 on CUDA, 5 on CPU)")
    parser.add_argument("--check", action="store_true", help="on CUDA, exit 1 unless speedup >= 2 and memory <= 0.7")
    args = parser.parse_args(argv)
    device = pick_device()
    kind = "cuda" if device.type == "cuda" else "cpu"
    if kind == "cpu":
        device = torch.device("cpu")  # on a Mac the CPU is measured, not MPS (untested here); the output says which
    apply_thread_policy()
    size = dict(SIZES[kind])
    steps, warmup = args.steps or (20 if kind == "cuda" else 5), 3 if kind == "cuda" else 2
    where = (
        f"CUDA GPU {torch.cuda.get_device_name(device)}"
        if kind == "cuda"
        else f"CPU (no CUDA GPU was found): {cpu_description()}"
    )
    print(
        f"device: {where}; MLP {size['in_features']} -> {size['depth']} x {size['width']} -> {size['num_classes']}, "
        f"batch {size['batch_size']}, SGD, {steps} timed steps after {warmup} warm-up"
    )
    if kind == "cuda":
        print(f"fp32 matrix products use TF32: {torch.backends.cuda.matmul.allow_tf32} (PyTorch's default is False)")
    what = (
        "peak allocated (torch.cuda.max_memory_allocated)"
        if kind == "cuda"
        else "bytes saved for backward (course_lib.memory)"
    )
    while True:
        try:
            results = run_all(size, device, steps, warmup, what)
            break
        except torch.cuda.OutOfMemoryError:  # a smaller GPU: halve the batch and start over
            torch.cuda.empty_cache()
            size["batch_size"] //= 2
            print(f"out of memory: starting over with batch size {size['batch_size']}")
    fp32 = results["fp32"]
    best = min((m for m in results if m != "fp32"), key=lambda m: results[m]["seconds"])
    speedup, ratio = fp32["seconds"] / results[best]["seconds"], results[best]["bytes"] / fp32["bytes"]
    for mode in (m for m in results if m != "fp32"):
        print(
            f"{mode}: speedup {fp32['seconds'] / results[mode]['seconds']:.2f} x (fp32 time / {mode} time), "
            f"memory {results[mode]['bytes'] / fp32['bytes']:.2f} x ({mode} / fp32)"
        )
    if kind == "cuda":
        ok = speedup >= SPEEDUP_BOUND and ratio <= MEMORY_BOUND
        print(
            f"{best} is the faster; the bounds for a GPU (speedup >= {SPEEDUP_BOUND}, memory <= {MEMORY_BOUND}): "
            f"{'met' if ok else 'NOT met'}"
        )
    else:
        ok = True
        slower = "slower" if speedup < 1 else "faster"
        print(
            f"{best} is the faster of the two, and {slower} than fp32 on this CPU. The bounds "
            f"(speedup >= {SPEEDUP_BOUND}, memory <= {MEMORY_BOUND}) apply to CUDA GPUs, not to CPUs"
        )
    print(f"amp speedup: {speedup:.2f} x, memory: {ratio:.2f} x ({best} against fp32, measured on the {where})")
    return 0 if ok or not args.check else 1


def cpu_description() -> str:
    """The CPU's name, torch's thread count and its bf16 instruction sets (from /proc/cpuinfo on Linux)."""
    try:
        info = open("/proc/cpuinfo", encoding="utf-8").read()
    except OSError:
        return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s), bf16 instructions: unknown"
    name = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    found = [flag for flag in ("avx512_bf16", "amx_bf16", "bf16") if re.search(rf"\b{flag}\b", info)]
    return (
        f"{name.group(1).strip() if name else platform.machine()}, {torch.get_num_threads()} thread(s), "
        f"bf16 instructions: {', '.join(found) or 'none'}"
    )


if __name__ == "__main__":
    sys.exit(main())
