"""Data-parallel training with ``DistributedDataParallel``, launched by ``torchrun``.

One process per device. Each process holds the whole model and a different slice of every batch
(``DistributedSampler``); during backward DDP averages the gradients of all processes (an all-reduce),
so every process takes the same step and the copies stay identical. The same code runs on CPUs with
the gloo backend and on NVIDIA GPUs with NCCL:

    torchrun --standalone --nproc_per_node=2 -m course_lib.ddp_example --num-epochs 3 --out run.pt

``--out`` saves what rank 0 saw (losses of every rank, the final weights, whether the ranks agree);
:func:`single_process_run` trains the same model on the same batches in one process, so a notebook or
a test can check that two processes with batch ``B`` each give the run of one process with batch ``2B``.
"""
from __future__ import annotations

import argparse
import os
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from . import datasets, metrics, models
from .callbacks import Callback
from .device import seed_everything
from .trainer import Trainer


class SetEpoch(Callback):
    """``DistributedSampler`` reshuffles only when told the epoch: forgetting it repeats epoch 0's order."""

    def __init__(self, sampler):
        self.sampler = sampler

    def on_epoch_start(self, trainer) -> None:
        self.sampler.set_epoch(trainer.epoch)


def _data():
    split = datasets.load_digits_split(seed=0)
    return TensorDataset(split.X_train, split.y_train), (split.X_valid, split.y_valid)


def _trainer(model, device, lr, callbacks):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return Trainer(model, optimizer, metrics={"accuracy": metrics.accuracy}, device=device, progress=False,
                   callbacks=callbacks)


def _valid_batches(valid, device):
    X, y = valid
    return [(X.to(device), y.to(device))]


def distributed_run(num_epochs: int = 3, batch_size: int = 32, lr: float = 0.1, seed: int = 0) -> dict:
    """The body of one process: called by every rank that ``torchrun`` starts."""
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    use_nccl = torch.cuda.is_available() and torch.cuda.device_count() >= world_size
    device = torch.device("cuda", local_rank) if use_nccl else torch.device("cpu")
    if use_nccl:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if use_nccl else "gloo")
    start = time.perf_counter()
    try:
        train_set, valid = _data()
        sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        loader = DataLoader(train_set, batch_size=batch_size, sampler=sampler)
        seed_everything(seed)  # the same initial weights in every process (DDP also broadcasts rank 0's)
        model = DistributedDataParallel(models.MLP(64, 10, width=64, depth=2).to(device),
                                        device_ids=[local_rank] if use_nccl else None)
        trainer = _trainer(model, device, lr, [SetEpoch(sampler)])
        history = trainer.fit(loader, _valid_batches(valid, device), num_epochs=num_epochs)
        weights = torch.cat([p.detach().flatten() for p in model.module.parameters()]).cpu()
        every_rank = [None] * world_size
        dist.all_gather_object(every_rank, {"losses": history.step["loss"], "weights": weights})
    finally:
        dist.destroy_process_group()
    return {"backend": "nccl" if use_nccl else "gloo", "world_size": world_size, "device": str(device),
            "batch_size_per_rank": batch_size, "num_epochs": num_epochs,
            "losses_per_rank": [r["losses"] for r in every_rank], "weights": every_rank[0]["weights"],
            "max_weight_difference_between_ranks": max(float((r["weights"] - weights).abs().max()) for r in every_rank),
            "valid_accuracy": history.epoch["valid_accuracy"][-1], "seconds": time.perf_counter() - start}


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


def single_process_run(world_size: int = 2, num_epochs: int = 3, batch_size: int = 32, lr: float = 0.1, seed: int = 0) -> dict:
    """What ``world_size`` DDP processes compute, done by one process with ``world_size`` times the batch."""
    train_set, valid = _data()
    loader = _SameBatchesAsRanks(train_set, world_size, batch_size, seed)
    seed_everything(seed)
    model = models.MLP(64, 10, width=64, depth=2)
    history = _trainer(model, "cpu", lr, [SetEpoch(loader)]).fit(loader, _valid_batches(valid, "cpu"), num_epochs=num_epochs)
    return {"losses": history.step["loss"], "weights": torch.cat([p.detach().flatten() for p in model.parameters()]),
            "valid_accuracy": history.epoch["valid_accuracy"][-1]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="where rank 0 saves its result (torch.save)")
    args = parser.parse_args(argv)
    if "RANK" not in os.environ:
        parser.error("start me with torchrun, e.g. torchrun --standalone --nproc_per_node=2 -m course_lib.ddp_example")
    result = distributed_run(args.num_epochs, args.batch_size, args.lr, args.seed)
    if int(os.environ["RANK"]) == 0:
        print(f"{result['world_size']} processes ({result['backend']}, {result['device']}): "
              f"valid accuracy {result['valid_accuracy']:.3f}, ranks differ by "
              f"{result['max_weight_difference_between_ranks']:.1e}, {result['seconds']:.1f} s")
        if args.out:
            torch.save(result, args.out)


if __name__ == "__main__":
    main()
