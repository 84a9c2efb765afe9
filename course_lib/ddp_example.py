"""Data-parallel training with ``DistributedDataParallel``, launched by ``torchrun``.

One process per device. Each process holds the whole model and a different slice of every batch
(``DistributedSampler``); during backward DDP averages the gradients of all processes (an all-reduce),
so every process takes the same step and the copies stay identical. The same code runs on CPUs with
the gloo backend and on NVIDIA GPUs with NCCL:

    torchrun --standalone --nproc_per_node=2 -m course_lib.ddp_example --num-epochs 3 --out run.pt

``--out`` saves what rank 0 saw (losses of every rank, the final weights, whether the ranks agree);
:func:`single_process_run` trains the same model on the same batches in one process, so a notebook or
a test can check that two processes with batch ``B`` each give the run of one process with batch ``2B``.
:func:`launch` runs that ``torchrun`` command from Python with a time limit, for a notebook on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import record
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from . import metrics, models
from .data import datasets
from .device import apply_thread_policy, seed_everything, thread_count
from .training.callbacks import Callback
from .training.trainer import Trainer
from .validate import check_int, check_number

WAIT_FOR_OTHER_RANKS = 120  # seconds


class SetEpoch(Callback):
    """``DistributedSampler`` reshuffles only when told the epoch: forgetting it repeats epoch 0's order."""

    def __init__(self, sampler):
        self.sampler = sampler

    def on_epoch_start(self, trainer) -> None:
        self.sampler.set_epoch(trainer.epoch)


def _data(path=None):
    """The digits, from the course's split or from a file :func:`launch` saved (no scikit-learn import per process)."""
    if path is not None:
        saved = torch.load(path, weights_only=True)
        return TensorDataset(saved["X_train"], saved["y_train"]), (saved["X_valid"], saved["y_valid"])
    split = datasets.load_digits_split(seed=0)
    return TensorDataset(split.X_train, split.y_train), (split.X_valid, split.y_valid)


def _trainer(model, device, lr, callbacks):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return Trainer(
        model, optimizer, metrics={"accuracy": metrics.accuracy}, device=device, progress=False, callbacks=callbacks
    )


def _valid_batches(valid, device):
    X, y = valid
    return [(X.to(device), y.to(device))]


def distributed_run(num_epochs: int = 3, batch_size: int = 32, lr: float = 0.1, seed: int = 0, data=None) -> dict:
    """The body of one process: called by every rank that ``torchrun`` starts."""
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    apply_thread_policy()  # one CPU thread per process (COURSE_THREADS): processes must not fight over the cores
    use_nccl = torch.cuda.is_available() and torch.cuda.device_count() >= world_size
    device = torch.device("cuda", local_rank) if use_nccl else torch.device("cpu")
    if use_nccl:
        torch.cuda.set_device(device)
    # a rank that waits longer than this for the others raises instead of hanging (the default is 10 to 30 minutes)
    dist.init_process_group("nccl" if use_nccl else "gloo", timeout=timedelta(seconds=WAIT_FOR_OTHER_RANKS))
    start = time.perf_counter()
    try:
        train_set, valid = _data(data)
        sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler)
        seed_everything(seed)  # the same initial weights in every process (DDP also broadcasts rank 0's)
        model = DistributedDataParallel(
            models.MLP(64, 10, width=64, depth=2).to(device), device_ids=[local_rank] if use_nccl else None
        )
        trainer = _trainer(model, device, lr, [SetEpoch(sampler)])
        history = trainer.fit(loader, _valid_batches(valid, device), num_epochs=num_epochs)
        weights = torch.cat([p.detach().flatten() for p in model.module.parameters()]).cpu()
        every_rank = [None] * world_size
        dist.all_gather_object(every_rank, {"losses": history.step["loss"], "weights": weights})
        dist.barrier()  # no process starts to leave while another still reads what it sent
    finally:
        dist.destroy_process_group()
    return {
        "backend": "nccl" if use_nccl else "gloo",
        "world_size": world_size,
        "device": str(device),
        "batch_size_per_rank": batch_size,
        "num_epochs": num_epochs,
        "losses_per_rank": [r["losses"] for r in every_rank],
        "weights": every_rank[0]["weights"],
        "max_weight_difference_between_ranks": max(float((r["weights"] - weights).abs().max()) for r in every_rank),
        "valid_accuracy": history.epoch["valid_accuracy"][-1],
        "seconds": time.perf_counter() - start,
    }


class _SameBatchesAsRanks:
    """One process's loader whose batch ``k`` is the union of every rank's batch ``k``."""

    def __init__(self, dataset, world_size, batch_size, seed):
        self.samplers = [DistributedSampler(dataset, world_size, r, shuffle=True, seed=seed) for r in range(world_size)]
        self.dataset, self.batch_size = dataset, batch_size

    def set_epoch(self, epoch):
        for sampler in self.samplers:
            sampler.set_epoch(epoch)

    def __len__(self):
        return -(-len(self.samplers[0]) // self.batch_size)

    def __iter__(self):
        per_rank = [list(sampler) for sampler in self.samplers]
        for start in range(0, len(per_rank[0]), self.batch_size):
            index = torch.tensor([i for rank in per_rank for i in rank[start : start + self.batch_size]])
            yield self.dataset.tensors[0][index], self.dataset.tensors[1][index]


def single_process_run(
    world_size: int = 2, num_epochs: int = 3, batch_size: int = 32, lr: float = 0.1, seed: int = 0
) -> dict:
    """What ``world_size`` DDP processes compute, done by one process with ``world_size`` times the batch."""
    train_set, valid = _data()
    loader = _SameBatchesAsRanks(train_set, world_size, batch_size, seed)
    seed_everything(seed)
    model = models.MLP(64, 10, width=64, depth=2)
    history = _trainer(model, "cpu", lr, [SetEpoch(loader)]).fit(
        loader, _valid_batches(valid, "cpu"), num_epochs=num_epochs
    )
    return {
        "losses": history.step["loss"],
        "weights": torch.cat([p.detach().flatten() for p in model.parameters()]),
        "valid_accuracy": history.epoch["valid_accuracy"][-1],
    }


def launch(out, num_epochs: int = 1, nproc_per_node: int = 2, timeout: float = 180.0) -> dict:
    """Run ``torchrun --standalone --nproc_per_node=N -m course_lib.ddp_example`` for at most ``timeout`` seconds.

    Every argument is checked before anything starts. Each process follows the course's thread policy (one
    thread unless ``COURSE_THREADS`` says otherwise: processes on a busy machine must not fight over its cores)
    and writes its output to files of its own under ``<out>.logs`` (torchrun's ``--log-dir``), so a failure's
    message shows the error of the process that failed first, which the others' shutdown would bury in a shared
    stream. A failed run is not started again: torchrun's store keeps the failed try's addresses, and the processes
    of a second try were seen to connect to those and fail with "Connection refused". A run out of time is stopped
    with its processes. Returns ``status`` ("ok", "failed" or "timeout"), ``message`` and ``seconds``.
    """
    if not isinstance(out, (str, os.PathLike)) or not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise ValueError(f"out must be a file path in an existing folder, got {out!r}")
    check_int("num_epochs", num_epochs, minimum=1)
    check_int("nproc_per_node", nproc_per_node, minimum=1)
    check_number("timeout", timeout, low=0, include_low=False)
    data, logs = f"{out}.data.pt", f"{out}.logs"  # the digits, saved once here instead of loaded by every process
    train_set, (X_valid, y_valid) = _data()
    torch.save(
        {"X_train": train_set.tensors[0], "y_train": train_set.tensors[1], "X_valid": X_valid, "y_valid": y_valid}, data
    )
    shutil.rmtree(logs, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc_per_node}",
        "--max-restarts",
        "0",
        "--log-dir",
        logs,
        "--redirects",
        "3",  # each process's output to its own files
        "-m",
        "course_lib.ddp_example",
        "--num-epochs",
        str(num_epochs),
        "--out",
        str(out),
        "--data",
        data,
    ]
    env, start = {**os.environ, "OMP_NUM_THREADS": str(thread_count())}, time.perf_counter()
    output, code = _run(command, env, timeout)
    seconds, failures = time.perf_counter() - start, _failures(output, logs)
    stdout = _rank_output(logs, 0, 0, "stdout")
    status = {0: "ok", None: "timeout"}.get(code, "failed")
    if code == 0:
        message = f"{stdout.strip()} | {seconds:.1f} s with process start-up"
    elif code is None:
        message = (
            f"torchrun did not finish within {timeout:g} s and was stopped with its processes. Starting "
            f"{nproc_per_node} Python processes that each import torch is slow on a busy machine{_load()}; "
            "nothing is wrong with the code: run the cell again when the machine is quieter."
        )
    elif failures:
        message = "\n".join(
            [f"torchrun failed (exit status {code}); each process's output is under {logs}.", *failures]
        )
    else:
        message = f"torchrun failed (exit status {code}) before its processes ran; its output ends:\n{output[-3000:]}"
    return {
        "status": status,
        "message": message,
        "seconds": seconds,
        "stdout": stdout,
        "output": output,
        "command": command,
        "logs": logs,
    }


def _run(command, env, timeout):
    """``(torchrun's own output, exit status or None after a timeout)``; on a timeout torchrun stops its workers."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        return process.communicate(timeout=timeout)[0], process.returncode
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # torchrun passes it on to the workers, which run in sessions of their own
        try:
            output = process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0]
        return output, None


PEER_LOST = ("Connection closed by peer", "Connection reset by peer")  # gloo's words for "the other rank is gone"


def _failures(output: str, logs: str, keep: int = 2000) -> list[str]:
    """Which process failed first, how, and the end of its own error output (empty if none ran).

    torchrun names the first failure by the time in its error file, in whole seconds. When rank 1 raises and
    leaves, rank 0 loses its connection within the same second and can be named instead (seen in the suite), so
    a process whose error only says that its peer is gone is passed over for one that failed on its own.
    """
    first = re.search(r"failed \(exitcode: (-?\d+)\) local_rank: (\d+)", output)  # torchrun's agent logs it
    if first is None:
        return []
    codes = {int(rank): int(code) for rank, code in re.findall(r"local_rank: (\d+)\)\s*exitcode\s*: (-?\d+)", output)}
    local_rank, codes[int(first[2])] = int(first[2]), int(first[1])
    own = {rank: _rank_output(logs, 0, rank, "stderr").strip() for rank in codes}
    if any(words in own[local_rank] for words in PEER_LOST):
        on_its_own = [rank for rank in sorted(own) if own[rank] and not any(words in own[rank] for words in PEER_LOST)]
        local_rank = on_its_own[0] if on_its_own else local_rank
    code, text = codes[local_rank], own[local_rank]
    how = f"killed by {signal.Signals(-code).name}" if -code in signal.valid_signals() else f"exit code {code}"
    return [
        f"local rank {local_rank} failed first ({how}); the end of its own error output:\n"
        f"{text[-keep:] if text else '(it wrote nothing to stderr)'}"
    ]


def _rank_output(logs: str, attempt: int, local_rank: int, stream: str) -> str:
    """What one process of one try wrote to ``stream``: torchrun keeps ``<logs>/<run id>/attempt_<try>/<rank>``."""
    paths = sorted(Path(logs).glob(f"*/attempt_{attempt}/{local_rank}/{stream}.log"))
    return "".join(path.read_text(errors="replace") for path in paths)


def _load() -> str:
    try:
        return f" (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    except (AttributeError, OSError):  # not on every platform
        return ""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="where rank 0 saves its result (torch.save)")
    parser.add_argument("--data", default=None, help="the digits as saved by launch() (default: load them)")
    args = parser.parse_args(argv)
    try:  # now, not after joining the other processes, which would wait for this one until their timeout
        for flag, value in (("--num-epochs", args.num_epochs), ("--batch-size", args.batch_size)):
            check_int(flag, value, minimum=1)
    except ValueError as error:
        parser.error(str(error))
    if "RANK" not in os.environ:
        parser.error("start me with torchrun, e.g. torchrun --standalone --nproc_per_node=2 -m course_lib.ddp_example")
    result = distributed_run(args.num_epochs, args.batch_size, args.lr, args.seed, args.data)
    if int(os.environ["RANK"]) == 0:
        print(
            f"{result['world_size']} processes ({result['backend']}, {result['device']}): "
            f"valid accuracy {result['valid_accuracy']:.3f}, ranks differ by "
            f"{result['max_weight_difference_between_ranks']:.1e}, {result['seconds']:.1f} s"
        )
        if args.out:
            torch.save(result, args.out)


def _leave(code: int) -> None:
    """End this process now, skipping Python's and C++'s teardown.

    DDP keeps the process group, and gloo's threads, alive after ``destroy_process_group`` (torch 2.x). A process
    that then went through the normal teardown with those threads running aborted in about one launch in ten on a
    busy 2-core machine (SIGABRT, "terminate called without an active exception", after its work was done and
    saved). Nothing is left to clean up, so the process leaves at once.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    try:
        record(main)()  # an exception in a rank goes to torchrun's error file for that rank; its summary shows it
    except Exception:
        traceback.print_exc()
        _leave(1)
    _leave(0)
