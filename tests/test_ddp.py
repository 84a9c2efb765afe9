"""DDP for real: torchrun starts two processes that talk over gloo on this CPU."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from course_lib import ddp_example

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_two_processes_equal_one_process_with_twice_the_batch(tmp_path):
    out = tmp_path / "run.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}  # gloo on the CPU even on a GPU machine
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "course_lib.ddp_example", "--num-epochs", "1", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    result = torch.load(out, weights_only=True)
    assert result["backend"] == "gloo" and result["world_size"] == 2
    assert result["max_weight_difference_between_ranks"] == 0.0  # DDP keeps the copies identical
    assert result["losses_per_rank"][0] != result["losses_per_rank"][1]  # ...while each saw other samples

    reference = ddp_example.single_process_run(world_size=2, num_epochs=1)
    mean_loss = torch.tensor(result["losses_per_rank"]).mean(dim=0)
    assert torch.allclose(mean_loss, torch.tensor(reference["losses"]), atol=1e-5)
    assert torch.allclose(result["weights"], reference["weights"], atol=1e-5)


def test_same_batches_loader_covers_every_sample_once_per_epoch():
    dataset, _ = ddp_example._data()
    loader = ddp_example._SameBatchesAsRanks(dataset, world_size=2, batch_size=32, seed=0)
    seen = torch.cat([y for _, y in loader])
    assert len(loader) == sum(1 for _ in loader)
    assert len(dataset) <= len(seen) <= len(dataset) + 1  # DistributedSampler pads to a multiple of the ranks
    first = [x for x, _ in loader][0]
    loader.set_epoch(1)
    assert not torch.equal(first, [x for x, _ in loader][0])  # a new epoch, a new order


def test_main_asks_for_torchrun(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit):
        ddp_example.main([])
