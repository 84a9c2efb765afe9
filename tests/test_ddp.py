"""DDP for real: torchrun starts two processes that talk over gloo on this CPU."""

import math
import sys
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import DistributedSampler, TensorDataset

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
    launched = ddp_example.launch(out, num_epochs=10**6, timeout=10)  # started (2 s alone), then stopped
    assert launched["status"] == "timeout" and "did not finish within 10 s" in launched["message"]
    deadline = time.monotonic() + 30
    while processes_mentioning(str(out)) and time.monotonic() < deadline:  # the workers take a moment to exit
        time.sleep(0.5)
    assert not processes_mentioning(str(out)), "a worker outlived the stopped launch"


@pytest.mark.parametrize(
    "arguments, match",
    [
        ({"nproc_per_node": 0}, "nproc_per_node must be an int >= 1"),
        ({"nproc_per_node": True}, "nproc_per_node must be an int >= 1"),
        ({"nproc_per_node": 2.0}, "nproc_per_node must be an int >= 1"),
        ({"nproc_per_node": "2"}, "nproc_per_node must be an int >= 1"),
        ({"num_epochs": 0}, "num_epochs must be an int >= 1"),
        ({"num_epochs": True, "nproc_per_node": True}, "num_epochs must be an int >= 1"),
        ({"num_epochs": 1.5}, "num_epochs must be an int >= 1"),
        ({"timeout": 0}, "timeout must be a finite number > 0"),
        ({"timeout": math.nan}, "timeout must be a finite number > 0"),
        ({"timeout": math.inf}, "timeout must be a finite number > 0"),
        ({"timeout": "60"}, "timeout must be a finite number > 0"),
        ({"out": None}, "out must be a file path in an existing folder"),
        ({"out": "no/such/folder/run.pt"}, "out must be a file path in an existing folder"),
    ],
)
def test_launch_checks_every_argument_before_starting_anything(tmp_path, monkeypatch, arguments, match):
    """nproc_per_node=True with num_epochs=0 launched torchrun twice for a run that had to fail."""

    def no_process(*args, **kwargs):
        raise AssertionError(f"a process was started: {args}")

    monkeypatch.setattr(ddp_example.subprocess, "Popen", no_process)
    arguments = {"out": tmp_path / "run.pt", **arguments}
    with pytest.raises(ValueError, match=match):
        ddp_example.launch(**arguments)
    assert list(tmp_path.iterdir()) == []  # not even the data file was written


def test_main_refuses_a_bad_epoch_count_before_joining_the_others(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(SystemExit):
        ddp_example.main(["--num-epochs", "0"])
    assert "--num-epochs" in capsys.readouterr().err


def torchrun_output(first_rank: int, first_code: int, other_code: int = 1) -> str:
    """torchrun's own output when both ranks fail: its agent's line for the first failure, then its summary."""
    other = 1 - first_rank
    return f"""[rank0]: something rank 0 printed while it was being stopped
E1207 19:04:44.906000 32345 [...]/api.py:1002] failed (exitcode: {first_code}) local_rank: {first_rank} (pid: 3) of binary: python
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
Failures:
[1]:
  time      : 2026-12-07_19:04:44
  rank      : {other} (local_rank: {other})
  exitcode  : {other_code} (pid: 4)
Root Cause (first observed failure):
[0]:
  time      : 2026-12-07_19:04:44
  rank      : {first_rank} (local_rank: {first_rank})
  exitcode  : {first_code} (pid: 3)
"""


def _rank_logs(root, rank, stderr):
    folder = root / "logs" / "0f3c_run" / "attempt_0" / str(rank)
    folder.mkdir(parents=True)
    (folder / "stderr.log").write_text(stderr)


def test_a_failure_names_the_first_failing_process_with_its_own_error(tmp_path):
    """It used to keep the last 1,500 characters of torchrun's mixed stderr, which held the other
    rank's shutdown and torchrun's summary, not the error of the rank that aborted."""
    _rank_logs(tmp_path, 0, "rank 0 was stopped\n" * 200)
    _rank_logs(
        tmp_path,
        1,
        "x" * 5000 + "\nterminate called after throwing an instance of 'gloo::IoException'\n"
        "  what():  Connection refused\nFatal Python error: Aborted\n",
    )
    (described,) = ddp_example._failures(torchrun_output(1, -6), str(tmp_path / "logs"))
    assert described.startswith("local rank 1 failed first (killed by SIGABRT)")
    assert described.endswith("what():  Connection refused\nFatal Python error: Aborted")
    assert "rank 0 was stopped" not in described
    assert ddp_example._failures("torchrun: error: unrecognized arguments", str(tmp_path / "logs")) == []


def test_a_rank_that_only_lost_its_peer_is_not_named_as_the_cause(tmp_path):
    """torchrun orders failures by whole seconds: rank 1 raised, left, and rank 0, which then lost its connection
    within the same second, was named first (seen in the suite)."""
    _rank_logs(tmp_path, 0, "RuntimeError: [../gloo/transport/tcp/pair.cc:561] Connection closed by peer [127.0.0.1]:1")
    _rank_logs(tmp_path, 1, "IndexError: Target 10 is out of bounds.")
    (described,) = ddp_example._failures(torchrun_output(0, 1, other_code=1), str(tmp_path / "logs"))
    assert described.startswith("local rank 1 failed first (exit code 1)")
    assert described.endswith("Target 10 is out of bounds.")


@pytest.mark.slow
def test_a_rank_that_fails_is_named_with_its_own_error(tmp_path, monkeypatch):
    """A real launch in which only rank 1 fails (its samples carry a label the model has no class for): rank 0
    then loses its peer in the all-reduce and fails too. The message names rank 1 and its own error. torchrun
    does not start the processes again (with --max-restarts 1 the second try read the first try's addresses
    from torchrun's store and failed with "Connection refused" in both ranks)."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    train_set, valid = ddp_example._data()
    labels = train_set.tensors[1].clone()
    ranks = [set(DistributedSampler(train_set, num_replicas=2, rank=rank, seed=0)) for rank in (0, 1)]
    only_rank_1 = ranks[1] - ranks[0]
    labels[list(only_rank_1)] = 10  # (the sampler pads the shorter rank with a sample of the other)
    monkeypatch.setattr(ddp_example, "_data", lambda path=None: (TensorDataset(train_set.tensors[0], labels), valid))
    launched = ddp_example.launch(tmp_path / "run.pt", num_epochs=1, timeout=240)
    assert launched["status"] == "failed", launched["message"]
    assert launched["message"].count("failed first") == 1, launched["message"]  # one try
    assert "local rank 1 failed first (exit code 1)" in launched["message"], launched["message"]
    assert "Target 10 is out of bounds" in launched["message"], launched["message"]
    assert not list(Path(launched["logs"]).glob("*/attempt_1")), "torchrun started the processes again"


def test_saved_data_is_the_courses_split(tmp_path):
    train_set, (X_valid, y_valid) = ddp_example._data()
    path = tmp_path / "data.pt"
    torch.save(
        {"X_train": train_set.tensors[0], "y_train": train_set.tensors[1], "X_valid": X_valid, "y_valid": y_valid}, path
    )
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
