"""Where each strategy pays off, measured on the harder problems (course_lib.problems): one section per lesson.

    python benchmarks/problems.py grokking --size default      # 05: weight decay and grokking; 07: early stopping
    python benchmarks/problems.py l2 --size default            # 05: Adam + L2 against AdamW, lambda chosen on validation
    python benchmarks/problems.py optimizers --size default    # 01: AdamW against SGD + momentum, each at its best lr
    python benchmarks/problems.py warmup --size default        # 02b: warm-up at a large lr, post-LN
    python benchmarks/problems.py schedules --size default     # 03: constant, step, cosine, warm-up + cosine
    python benchmarks/problems.py moved --size default         # 06: augmentation, MLP against CNN, on moved digits
    python benchmarks/problems.py bf16                          # 08: fp32 against bf16 autocast on this CPU
    python benchmarks/problems.py recipe --size default        # 10: plain baseline against the usual recipe

Every number is over seeds 0, 1, 2 (``--seeds``): the mean, its standard error and the per-seed values. Times
are CPU seconds of this process (``time.process_time``): the machine may be shared, and wall-clock time
then says more about the neighbours than about the code. One torch thread (the course's policy).
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib.device import apply_thread_policy  # noqa: E402
from course_lib.problems import modular, moved_digits, text  # noqa: E402
from course_lib.training.early_stopping import EarlyStopping  # noqa: E402


def summary(values: list[float], digits: int = 3) -> str:
    """'mean ± standard error (v0, v1, v2)'."""
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return f"{mean:.{digits}f} ± {se:.{digits}f} ({', '.join(f'{v:.{digits}f}' for v in values)})"


def gap(a: list[float], b: list[float]) -> str:
    """Mean of b - a in units of the standard error of the paired differences (seed by seed)."""
    diffs = [y - x for x, y in zip(a, b)]
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else float("nan")
    mean = statistics.fmean(diffs)
    return f"{mean:+.3f} ({mean / se:+.1f} se)" if se > 0 else f"{mean:+.3f} (every seed the same)"


def grokking(args) -> None:
    """05 and 07: validation accuracy with and without decay in one budget; where early stopping stops."""
    start = time.process_time()
    curves = modular.grokking_curves((0.0, args.weight_decay), seeds=args.seeds, size=args.size, eval_every=args.eval_every)
    conf = curves.settings
    print(f"## Grokking (05): {conf}; {len(curves.seed)} members in one batched run, {curves.seconds:.1f} CPU s")
    without, with_decay = curves.members(0.0), curves.members(args.weight_decay)
    final = lambda ks: [curves.valid_accuracy[k][-1] for k in ks]  # noqa: E731
    print(f"- final validation accuracy, no decay: {summary(final(without))}")
    print(f"- final validation accuracy, decay {args.weight_decay}: {summary(final(with_decay))}")
    print(f"- difference: {gap(final(without), final(with_decay))}")
    print(f"- step train accuracy >= 99%: {curves.first_step('train_accuracy', 0.99)} (members {list(zip(curves.seed, curves.weight_decay))})")
    print(f"- step validation accuracy >= 90%: {curves.first_step('valid_accuracy', 0.9)}")
    print(f"## Early stopping (07) on the decayed runs' validation loss, read every {args.eval_every} steps from step "
          f"{args.eval_every} on (as Trainer with steps_per_epoch={args.eval_every} reads it: no reading at step 0)")
    for patience in args.patience:
        stops = []
        for k in with_decay:
            stopper, steps = EarlyStopping(monitor="valid_loss", patience=patience), curves.steps[1:]
            stop = next((step for step, loss in zip(steps, curves.valid_loss[k][1:]) if stopper.update(loss)[0]), None)
            stops.append((stop, steps[stopper.best_epoch - 1], curves.valid_accuracy[k][stopper.best_epoch]))
        print(f"- patience {patience} evaluations ({patience * args.eval_every} steps): (stopped at, best step, its valid "
              f"accuracy) per seed {[(s, b, round(a, 3)) for s, b, a in stops]}")
    for k in with_decay:
        losses = curves.valid_loss[k]
        peak = max(range(1, len(losses)), key=losses.__getitem__)
        print(f"- seed {curves.seed[k]}: validation loss {losses[1]:.3f} at step {curves.steps[1]}, highest {losses[peak]:.3f} "
              f"at step {curves.steps[peak]}, back below its step-{curves.steps[1]} value at step "
              f"{next((curves.steps[i] for i in range(peak, len(losses)) if losses[i] < losses[1]), None)}")
    print(f"({time.process_time() - start:.1f} CPU s)")


def l2(args) -> None:
    """05: Adam with L2 in the gradient against AdamW's decoupled decay, each lambda chosen on validation."""
    for optimizer, grid in (("adamw", args.adamw_grid), ("adam", args.l2_grid)):
        curves = modular.grokking_curves(grid, seeds=args.seeds, size=args.size, optimizer=optimizer, eval_every=args.eval_every)
        print(f"## {optimizer}, lambda in {grid} ({curves.seconds:.1f} CPU s)")
        for w in grid:
            ks = curves.members(w)
            print(f"- lambda {w}: final validation accuracy {summary([curves.valid_accuracy[k][-1] for k in ks])}")


def _text_table(title: str, configs: dict, args) -> dict:
    """Train every named config for each seed; print the final validation loss of each; return name -> list."""
    extra = {k: v for k, v in (("num_steps", args.num_steps), ("batch_size", args.batch_size)) if v is not None}
    print(f"## {title}{f', {extra}' if extra else ''}")
    out = {}
    for name, config in configs.items():
        config = {**config, **extra}
        start = time.process_time()
        runs = text.train_text_runs([{**config, "seed": s} for s in args.seeds], size=args.size, eval_every=args.eval_every)
        out[name] = [r.final if r.status == "completed" else math.nan for r in runs]
        spikes = [_spikes(r.train_loss) for r in runs]
        print(f"- {name}: final validation loss {summary(out[name])}, loss spikes {spikes}, statuses "
              f"{[r.status for r in runs]}, {time.process_time() - start:.1f} CPU s")
    return out


def _spikes(losses: list[float], factor: float = 1.5, window: int = 10) -> int:
    """Steps whose loss is above ``factor`` times the median of the ``window`` before it (as 02b counts them)."""
    return sum(1 for i in range(window, len(losses)) if losses[i] > factor * statistics.median(losses[i - window:i]))


def optimizers(args) -> None:
    configs = {f"adamw lr {lr:g}": {"lr": lr, "optimizer": "adamw", "schedule": "cosine", "norm": args.norm}
               for lr in args.adam_lrs}
    configs.update({f"momentum lr {lr:g}": {"lr": lr, "optimizer": "momentum", "schedule": "cosine", "norm": args.norm}
                    for lr in args.sgd_lrs})
    _text_table(f"AdamW against SGD + momentum 0.9 (01), {args.size}, {args.norm}-LN, cosine, clip 1.0", configs, args)


def warmup(args) -> None:
    configs = {}
    for lr in args.warmup_lrs:
        for w in (0, args.warmup_steps):
            configs[f"{args.norm}-LN lr {lr:g} warm-up {w}"] = {"lr": lr, "norm": args.norm, "warmup_steps": w, "schedule": "cosine"}
    _text_table(f"Warm-up (02b), {args.size}", configs, args)


def schedules(args) -> None:
    configs = {}
    for lr in args.schedule_lrs:
        for name, warm in [(n, 0) for n in args.schedules] + ([("cosine", args.warmup_steps)] if args.warmup_steps else []):
            configs[f"{name}{' + warm-up' if warm else ''} lr {lr:g}"] = {"lr": lr, "schedule": name, "warmup_steps": warm,
                                                                          "norm": args.norm}
    _text_table(f"Schedules at a fixed budget (03), {args.size}", configs, args)


def recipe(args) -> None:
    """Lesson 10: a plain baseline (Adam, constant lr, no clipping) against the usual recipe, each lr tuned."""
    configs = {f"baseline adam constant lr {lr:g}": {"lr": lr, "optimizer": "adam", "schedule": "constant", "grad_clip": None,
                                                    "norm": args.norm} for lr in args.baseline_lrs}
    configs.update({f"recipe adamw warm-up {args.warmup_steps} + cosine, clip 1, wd {args.recipe_wd:g}, lr {lr:g}":
                    {"lr": lr, "optimizer": "adamw", "schedule": "cosine", "warmup_steps": args.warmup_steps,
                     "grad_clip": 1.0, "weight_decay": args.recipe_wd, "norm": args.norm} for lr in args.recipe_lrs})
    _text_table(f"Baseline against recipe (lesson 10), {args.size}, {args.norm}-LN", configs, args)


def moved(args) -> None:
    print(f"## Moved digits (06), {args.size}: test accuracy on shifted digits")
    for kind in moved_digits.MODELS:
        for shift in (0, moved_digits.settings(args.size)["max_shift"]):
            for lr in args.moved_lrs:
                start, scores, centred = time.process_time(), [], []
                for seed in args.seeds:
                    data = moved_digits._cached_data(args.size, "shift", seed)
                    trainer = moved_digits.train_moved_digits(kind, lr=lr, augment_shift=shift, seed=seed, size=args.size, data=data)
                    scores.append(moved_digits.test_accuracy(trainer, data))
                    centred.append(moved_digits.test_accuracy(trainer, data, centred=True))
                print(f"- {kind}, augmentation {shift} px, lr {lr:g}: moved test {summary(scores)}, centred {summary(centred)}, "
                      f"{time.process_time() - start:.1f} CPU s")


def bf16(args) -> None:
    """08: the same training steps in fp32 and under bf16 autocast, alternating in one process; saved activations."""
    from course_lib import memory

    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").exists() else []
    print(f"## bf16 autocast (08): torch {torch.__version__}, ATen kernels {torch.backends.cpu.get_cpu_capability()}, "
          f"avx512_bf16 {'avx512_bf16' in flags}, amx_bf16 {'amx_bf16' in flags}")
    data = text._cached_data("default")
    for name in ("default", "gpu"):
        conf = text.settings(name)
        if name == "gpu":
            conf["batch_size"] = args.bf16_gpu_batch  # the gpu model, a smaller batch, on this CPU
        torch.manual_seed(0)
        model = text.TransformerLM(256, conf["context"], conf["width"], conf["heads"], conf["layers"], "pre")
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        x, y = next(iter(text.WindowLoader(data.train, conf["context"], conf["batch_size"], 1)))
        times = {None: [], torch.bfloat16: []}
        for repeat in range(args.repeats + 1):
            for dtype in times:
                start = time.process_time()
                for _ in range(args.bf16_steps):
                    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                        loss = text.lm_loss(model(x), y)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                if repeat:  # the first round warms up both
                    times[dtype].append((time.process_time() - start) / args.bf16_steps)
        fp32, half = statistics.median(times[None]), statistics.median(times[torch.bfloat16])
        saved32 = memory.saved_bytes(model, x)
        saved16 = memory.saved_bytes(model, x, autocast_dtype=torch.bfloat16)
        print(f"- {name} model (width {conf['width']}, {conf['layers']} layers, context {conf['context']}, batch "
              f"{conf['batch_size']}): fp32 {fp32 * 1000:.1f} ms/step, bf16 {half * 1000:.1f} ms/step: bf16 takes "
              f"{half / fp32:.2f}x the time; activations saved for backward {memory.format_bytes(saved32)} fp32, "
              f"{memory.format_bytes(saved16)} bf16 ({saved16 / saved32:.2f}x)")


SECTIONS = {"grokking": grokking, "l2": l2, "optimizers": optimizers, "warmup": warmup, "schedules": schedules,
            "moved": moved, "bf16": bf16, "recipe": recipe}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("section", choices=sorted(SECTIONS))
    parser.add_argument("--size", default="default", choices=("smoke", "default", "gpu"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--weight-decay", type=float, default=1.0)
    parser.add_argument("--patience", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--adamw-grid", type=float, nargs="+", default=[0.3, 1.0, 3.0])
    parser.add_argument("--l2-grid", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2])
    parser.add_argument("--adam-lrs", type=float, nargs="+", default=[3e-3, 1e-2])
    parser.add_argument("--sgd-lrs", type=float, nargs="+", default=[0.1, 0.3, 1.0])
    parser.add_argument("--warmup-lrs", type=float, nargs="+", default=[2e-2, 3e-2])
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--norm", default="post", choices=text.NORMS, help="the block every text section trains")
    parser.add_argument("--schedules", nargs="+", default=["constant", "step", "cosine"], choices=text.SCHEDULES)
    parser.add_argument("--num-steps", type=int, default=None, help="text runs: steps (default: the size's)")
    parser.add_argument("--batch-size", type=int, default=None, help="text runs: batch size (default: the size's)")
    parser.add_argument("--schedule-lrs", type=float, nargs="+", default=[1e-2])
    parser.add_argument("--baseline-lrs", type=float, nargs="+", default=[3e-3, 1e-2])
    parser.add_argument("--recipe-lrs", type=float, nargs="+", default=[2e-2, 3e-2])
    parser.add_argument("--recipe-wd", type=float, default=0.1)
    parser.add_argument("--moved-lrs", type=float, nargs="+", default=[3e-3])
    parser.add_argument("--bf16-steps", type=int, default=10)
    parser.add_argument("--bf16-gpu-batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stdlib", default=None, help="read the text from another Python's standard library folder")
    args = parser.parse_args()
    apply_thread_policy()
    if args.stdlib:  # every text run of this process trains on that Python's corpus
        corpus = text.text_data(args.size, stdlib=args.stdlib)
        text._DATA[(args.size, text.stdlib_dir())] = corpus
        print(f"(text of Python at {args.stdlib}: {corpus.sources['train_bytes']} training bytes)")
    SECTIONS[args.section](args)


if __name__ == "__main__":
    main()
