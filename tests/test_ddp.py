"""DDP for real: torchrun starts two processes that talk over gloo on this CPU."""
import sys
import time
from pathlib import Path

import pytest
import torch

from course_lib import ddp_example


def processes_mentioning(text: str) -> list[str]:
    """Command lines of the running processes that contain ``text`` (Linux: read from /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        if text in line:
            found.append(line)
    return found


@pytest.mark.slow
def test_two_processes_equal_one_process_with_twice_the_batch(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # gloo on the CPU even on a GPU machine
    out = tmp_path / "run.pt"
    launched = ddp_example.launch(out, num_epochs=1, timeout=240)
    assert launched["status"] == "ok", launched["message"]
    result = torch.load(out, weights_only=True)
    assert result["backend"] == "gloo" and result["world_size"] == 2
    assert result["max_weight_difference_between_ranks"] == 0.0  # DDP keeps the copies identical
    assert result["losses_per_rank"][0] != result["losses_per_rank"][1]  # ...while each saw other samples

    reference = ddp_example.single_process_run(world_size=2, num_epochs=1)
    mean_loss = torch.tensor(result["losses_per_rank"]).mean(dim=0)
    assert torch.allclose(mean_loss, torch.tensor(reference["losses"]), atol=1e-5)
    assert torch.allclose(result["weights"], reference["weights"], atol=1e-5)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process list from /proc")
def test_a_launch_out_of_time_is_stopped_with_all_its_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    out = tmp_path / "endless.pt"
    launched = ddp_example.launch(out, num_epochs=10**6, timeout=20)  # started, if the machine allows, then stopped
    assert launched["status"] == "timeout" and "did not finish within 20 s" in launched["message"]
    deadline = time.monotonic() + 30
    while processes_mentioning(str(out)) and time.monotonic() < deadline:  # the workers take a moment to exit
        time.sleep(0.5)
    assert not processes_mentioning(str(out)), "a worker outlived the stopped launch"


def test_launch_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="nproc_per_node"):
        ddp_example.launch(tmp_path / "run.pt", nproc_per_node=0)
    with pytest.raises(ValueError, match="timeout"):
        ddp_example.launch(tmp_path / "run.pt", timeout=0)


def test_saved_data_is_the_courses_split(tmp_path):
    train_set, (X_valid, y_valid) = ddp_example._data()
    path = tmp_path / "data.pt"
    torch.save({"X_train": train_set.tensors[0], "y_train": train_set.tensors[1], "X_valid": X_valid, "y_valid": y_valid}, path)
    loaded, (X_loaded, y_loaded) = ddp_example._data(path)
    assert all(torch.equal(a, b) for a, b in zip(loaded.tensors, train_set.tensors))
    assert torch.equal(X_loaded, X_valid) and torch.equal(y_loaded, y_valid)


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
