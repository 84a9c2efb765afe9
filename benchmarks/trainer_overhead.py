"""How much does ``Trainer.fit`` cost over a hand-written PyTorch loop?

The same MLP, digits data, seed, optimizer and epochs, trained by ``Trainer.fit`` and by a minimal
loop over on-device tensors (which also records each loss with ``.item()`` and evaluates the
validation set each epoch, as any loop worth reading would), alternating, 10 runs each, under the
course's thread policy (one thread). Also the same hand loop fed by ``torch.utils.data.DataLoader``,
to show what on-device batching saves. Times are CPU seconds of this process: with one thread that is
the wall time of an idle machine, and unlike wall time it does not count the time other programs hold
the core. Each contender's fastest run is compared, as ``timeit`` advises: a busy machine only ever
adds time (cache misses, a shared core), so the fastest run is the closest to the code's own cost.
Every run is printed, and the wall-clock ratio too.

    .venv/bin/python benchmarks/trainer_overhead.py
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course_lib import Trainer, metrics, models
from course_lib.data import datasets, loaders
from course_lib.device import apply_thread_policy, seed_everything

NUM_EPOCHS, BATCH_SIZE, RUNS = 20, 32, 10
apply_thread_policy()  # the course's thread policy (course_lib.device.thread_count), for both contenders
split = datasets.load_digits_split()


def fresh():
    seed_everything(0)
    model = models.MLP(64, 10, width=128, depth=2)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def with_trainer() -> float:
    model, optimizer = fresh()
    trainer = Trainer(model, optimizer, metrics={"accuracy": metrics.accuracy}, progress=False, device="cpu")
    train = loaders.DeviceLoader(split.X_train, split.y_train, BATCH_SIZE, seed=0)
    valid = loaders.DeviceLoader(split.X_valid, split.y_valid, 512, shuffle=False)
    history = trainer.fit(train, valid, num_epochs=NUM_EPOCHS)
    return history.epoch["valid_accuracy"][-1]


def hand_loop(train_batches) -> float:
    model, optimizer = fresh()
    losses = []
    for _ in range(NUM_EPOCHS):
        model.train()
        for inputs, targets in train_batches():
            loss = nn.functional.cross_entropy(model(inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            outputs = model(split.X_valid)
            _valid_loss = nn.functional.cross_entropy(outputs, split.y_valid).item()  # the Trainer computes it too
            valid_accuracy = (outputs.argmax(1) == split.y_valid).float().mean().item()
    return valid_accuracy


def device_batches():
    generator = torch.Generator().manual_seed(0)

    def batches():
        order = torch.randperm(len(split.X_train), generator=generator)
        X, y = split.X_train[order], split.y_train[order]
        for start in range(0, len(X), BATCH_SIZE):
            yield X[start : start + BATCH_SIZE], y[start : start + BATCH_SIZE]

    return batches


def dataloader_batches():
    loader = DataLoader(
        TensorDataset(split.X_train, split.y_train),
        batch_size=BATCH_SIZE,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )
    return lambda: loader


def timed(function) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    function()
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    candidates = {
        "Trainer.fit": with_trainer,
        "hand loop, on-device tensors": lambda: hand_loop(device_batches()),
        "hand loop, DataLoader": lambda: hand_loop(dataloader_batches()),
    }
    for function in candidates.values():  # warm up allocator and caches
        function()
    times, walls = {name: [] for name in candidates}, {name: [] for name in candidates}
    for _ in range(RUNS):
        for name, function in candidates.items():  # alternating, so drift hits all alike
            cpu, wall = timed(function)
            times[name].append(cpu)
            walls[name].append(wall)
    medians = {name: min(values) for name, values in times.items()}  # the fastest run of each (see above)
    steps = NUM_EPOCHS * -(-len(split.X_train) // BATCH_SIZE)
    print(f"{NUM_EPOCHS} epochs, {steps} updates, batch {BATCH_SIZE}, MLP 64-128-128-10, Adam, {RUNS} runs each")
    for name, median in medians.items():
        print(
            f"{name:>30}: fastest {median:.3f} CPU s ({1e6 * median / steps:.0f} us per update); "
            f"all: {', '.join(f'{t:.3f}' for t in times[name])}"
        )
    base = medians["hand loop, on-device tensors"]
    print(f"hand loop with DataLoader / hand loop on device: {medians['hand loop, DataLoader'] / base:.2f}")
    print(f"Trainer / hand loop with DataLoader: {medians['Trainer.fit'] / medians['hand loop, DataLoader']:.2f}")
    wall = {name: statistics.median(values) for name, values in walls.items()}
    print(
        "wall-clock ratio of the medians, Trainer / hand loop on device: "
        f"{wall['Trainer.fit'] / wall['hand loop, on-device tensors']:.3f}"
    )
    print(f"trainer overhead ratio: {medians['Trainer.fit'] / base:.3f}")


if __name__ == "__main__":
    main()
