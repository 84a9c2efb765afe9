import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint_sequential

from course_lib import memory


def mlp(inplace=False, width=32):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(8, width),
        nn.ReLU(inplace=inplace),
        nn.Linear(width, width),
        nn.ReLU(inplace=inplace),
        nn.Linear(width, 3),
    )


def test_saved_bytes_are_the_input_and_each_relu_output_once():
    model, x = mlp(), torch.randn(16, 8)
    with memory.SavedTensors(ignore=model.parameters()) as saved:
        model(x)
    # input 16x8, two ReLU outputs 16x32 (each also saved by the next Linear: counted once), float32
    assert saved.bytes == 4 * (16 * 8 + 2 * 16 * 32)
    assert saved.count == 5 and saved.bytes_by_dtype == {"float32": saved.bytes}
    assert memory.saved_bytes(model, x) == saved.bytes


def test_parameters_count_unless_ignored():
    model, x = mlp(), torch.randn(16, 8)
    with memory.SavedTensors() as everything:
        model(x)
    weights = sum(layer.weight.numel() * 4 for layer in model if isinstance(layer, nn.Linear) and layer is not model[0])
    assert everything.bytes == memory.saved_bytes(model, x) + weights  # the first weight is not saved: x needs no grad


def test_counting_does_not_change_gradients():
    x = torch.randn(16, 8)
    plain, counted = mlp(), mlp()
    plain(x).sum().backward()
    with memory.SavedTensors():
        counted(x).sum().backward()
    for a, b in zip(plain.parameters(), counted.parameters()):
        assert torch.equal(a.grad, b.grad)


def test_inplace_relu_saves_the_same_bytes_but_lowers_the_forward_peak():
    x = torch.randn(64, 8)
    saved, peaks = {}, {}
    for inplace in (False, True):
        model = mlp(inplace, width=64)
        saved[inplace] = memory.saved_bytes(model, x)
        with memory.LiveTensors() as live:
            model(x)
        peaks[inplace] = live.peak_bytes
    assert saved[True] == saved[False]
    activation = 64 * 64 * 4
    assert 0.9 * activation <= peaks[False] - peaks[True] <= activation  # about one activation fewer alive at once


def test_bf16_autocast_halves_the_activations():
    model, x = mlp(), torch.randn(16, 8)
    with memory.SavedTensors(ignore=model.parameters()) as saved, torch.autocast("cpu", dtype=torch.bfloat16):
        model(x)
    assert list(saved.bytes_by_dtype) == ["bfloat16"]  # even the input is saved as its bf16 copy
    weight_copies = 2 * (32 * 32 + 32 * 3)  # bf16 copies of the weights the backward needs
    assert saved.bytes == memory.saved_bytes(model, x) // 2 + weight_copies


def test_checkpointing_saves_less_and_live_tensors_follow_backward():
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Sequential(nn.Linear(32, 32), nn.ReLU()) for _ in range(6)])
    x = torch.randn(64, 32)
    plain = memory.saved_bytes(model, x)
    with memory.SavedTensors(ignore=model.parameters()) as saved, memory.LiveTensors() as live:
        out = checkpoint_sequential(model, 3, x, use_reentrant=False)
        forward_peak = live.peak_bytes
        out.sum().backward()
    assert saved.bytes < plain
    assert live.peak_bytes >= forward_peak > 0 and live.live_bytes <= live.peak_bytes


def test_peak_bytes_on_cpu_and_bad_device():
    model, x = mlp(), torch.randn(16, 8)
    peak, method = memory.peak_bytes(lambda: model(x).sum().backward(), "cpu")
    assert peak > 0 and "LiveTensors" in method
    with pytest.raises(ValueError, match="device"):
        memory.cuda_peak_bytes(lambda: None, "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_peak_bytes():
    x = torch.randn(1024, 1024, device="cuda")
    peak, above = memory.cuda_peak_bytes(lambda: x @ x, "cuda")
    assert above >= 1024 * 1024 * 4 and peak >= above


def test_format_bytes():
    assert memory.format_bytes(512) == "512 B"
    assert memory.format_bytes(3 * 2**20) == "3.0 MiB"
    assert memory.format_bytes(5 * 2**30) == "5.0 GiB"
