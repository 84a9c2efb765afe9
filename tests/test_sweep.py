import math

import pytest
import torch
from torch import nn

from course_lib import models
from course_lib.data import datasets, loaders
from course_lib.lr import stacked, sweep
from course_lib.training import statuses

X, y = datasets.make_spirals(384, seed=1)


TORCH_OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "momentum": torch.optim.SGD,
    "nesterov": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}


def mlp():
    return models.MLP(2, 2, width=24, depth=2)


def plain_run(
    model_fn, optimizer, lr, num_steps, batch_size=64, loss_fn=nn.functional.cross_entropy, data=(X, y), **options
):
    """One ordinary torch.optim loop, stopping at the sweep's divergence rule; returns (losses, model)."""
    torch.manual_seed(0)
    model = model_fn()
    if optimizer in ("momentum", "nesterov"):
        options.setdefault("momentum", 0.9)
        options["nesterov"] = optimizer == "nesterov"
    opt = TORCH_OPTIMIZERS[optimizer](model.parameters(), lr=lr, **options)
    train, losses = loaders.DeviceLoader(*data, batch_size, seed=0), []
    while len(losses) < num_steps:
        for inputs, targets in train:
            loss = loss_fn(model(inputs), targets)
            losses.append(loss.item())
            if statuses.diverged(losses[-1], losses[0], 1e3):
                return losses, model
            opt.zero_grad()
            loss.backward()
            opt.step()
            if len(losses) == num_steps:
                break
    return losses, model


def max_diff(a, b):
    assert len(a) == len(b)
    return max(abs(p - q) for p, q in zip(a, b))


CASES = [
    ("sgd", [0.01, 0.3, 2.0], {}),
    ("sgd", [0.05, 0.5], {"weight_decay": 1e-2}),
    ("momentum", [0.003, 0.05, 0.3], {}),
    ("nesterov", [0.01, 0.1], {"momentum": 0.8, "weight_decay": 1e-3}),
    ("adam", [1e-3, 1e-2, 0.1], {}),
    ("adam", [3e-3, 3e-2], {"weight_decay": 1e-2, "betas": (0.8, 0.99)}),
    ("adamw", [1e-3, 1e-2, 0.1], {}),
    ("adamw", [3e-3, 3e-2], {"weight_decay": 0.1, "betas": (0.85, 0.995)}),
]


@pytest.mark.parametrize("optimizer, lrs, options", CASES)
def test_sweep_matches_separate_torch_optim_runs(optimizer, lrs, options):
    result = sweep.run_sweep(mlp, X, y, optimizer, lrs=lrs, num_steps=60, batch_size=64, device="cpu", **options)
    assert result.status == ["completed"] * len(lrs)
    for k, lr in enumerate(lrs):
        losses, _ = plain_run(mlp, optimizer, lr, 60, **options)
        assert max_diff(result.losses[k], losses) <= 1e-4, (optimizer, lr)


def test_members_with_their_own_momentum_weight_decay_and_betas():
    momenta = [0.0, 0.5, 0.95]
    result = sweep.run_sweep(
        mlp, X, y, "momentum", lrs=0.05, momentum=momenta, num_steps=30, batch_size=64, device="cpu"
    )
    assert [h["momentum"] for h in result.hyperparameters] == momenta
    for k, momentum in enumerate(momenta):
        assert max_diff(result.losses[k], plain_run(mlp, "momentum", 0.05, 30, momentum=momentum)[0]) <= 1e-4
    betas = [(0.9, 0.999), (0.5, 0.9)]
    decays = [0.0, 0.5]
    result = sweep.run_sweep(
        mlp,
        X,
        y,
        "adamw",
        lrs=[0.01, 0.02],
        betas=betas,
        weight_decay=decays,
        num_steps=30,
        batch_size=64,
        device="cpu",
    )
    for k in range(2):
        reference = plain_run(mlp, "adamw", [0.01, 0.02][k], 30, betas=betas[k], weight_decay=decays[k])[0]
        assert max_diff(result.losses[k], reference) <= 1e-4


def test_any_stateless_model_through_vmap_and_mse_loss():
    Xr, yr, _ = datasets.make_poly_regression(96, seed=0)

    def net():  # Softplus is not in the batched-MLP fast path: this runs through torch.func.vmap
        return nn.Sequential(nn.Linear(1, 16), nn.Softplus(), nn.Linear(16, 1))

    result = sweep.run_sweep(
        net, Xr, yr, "adam", lrs=[1e-3, 1e-2], num_steps=25, batch_size=32, loss="mse", device="cpu"
    )
    assert result.valid_accuracy is None
    for k, lr in enumerate([1e-3, 1e-2]):
        reference = plain_run(net, "adam", lr, 25, batch_size=32, loss_fn=nn.functional.mse_loss, data=(Xr, yr))[0]
        assert max_diff(result.losses[k], reference) <= 1e-4


def test_diverged_member_is_frozen_and_spoils_no_other():
    lrs = [0.05, 1e4, 0.2]  # the middle member explodes at once
    alone = sweep.run_sweep(mlp, X, y, "momentum", lrs=[0.05, 0.2], num_steps=40, batch_size=64, device="cpu")
    mixed = sweep.run_sweep(mlp, X, y, "momentum", lrs=lrs, num_steps=40, batch_size=64, device="cpu")
    assert mixed.status == ["completed", "diverged", "completed"]
    reference, _ = plain_run(mlp, "momentum", 1e4, 40)
    assert mixed.diverged_at_step[1] == len(reference) - 1 < 5
    assert len(mixed.losses[1]) == len(reference)
    # no leak: a diverged member's NaN or huge numbers would show far above this rounding-level bound
    assert max_diff(mixed.losses[0], alone.losses[0]) <= 1e-6 and max_diff(mixed.losses[2], alone.losses[1]) <= 1e-6
    assert math.isnan(mixed.final_loss[1]) and math.isfinite(mixed.final_loss[0])
    assert mixed.best() == 2 or mixed.best() == 0
    histories = mixed.histories()
    assert histories[1].status == "diverged" and histories[1].diverged_at_step == mixed.diverged_at_step[1]
    assert histories[0].step["lr"][0] == 0.05 and histories[0].num_steps == 40


def test_validation_epochs_and_histories():
    split = datasets.load_digits_split()
    result = sweep.run_sweep(
        lambda: models.MLP(64, 10, width=32),
        split.X_train[:256],
        split.y_train[:256],
        "adam",
        lrs=sweep.log_grid(1e-4, 1e-2, 3),
        num_steps=32,
        batch_size=64,
        X_valid=split.X_valid,
        y_valid=split.y_valid,
        device="cpu",
    )
    assert len(result) == 3 and result.lrs[1] == pytest.approx(1e-3)
    assert all(0 <= a <= 1 for a in result.valid_accuracy)
    assert result.best("valid_accuracy") == 2 and result.best("valid_loss") == 2  # in 32 steps, 1e-2 learns most
    history = result.histories()[2]
    assert history.epoch["epoch"] == list(range(1, 9)) and len(history.epoch["valid_loss"]) == 8
    assert history.epoch["valid_loss"][-1] == pytest.approx(result.valid_loss[2])
    assert history.epoch["valid_loss"][-1] < history.epoch["valid_loss"][0]


def test_same_weights_and_batches_as_torch_manual_seed_and_caller_rng_untouched():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    sweep.run_sweep(mlp, X, y, "sgd", lrs=[0.1], num_steps=2, seed=0, device="cpu")
    assert torch.equal(before, torch.get_rng_state())
    a = sweep.run_sweep(mlp, X, y, "sgd", lrs=[0.1], num_steps=5, seed=3, device="cpu")
    b = sweep.run_sweep(mlp, X, y, "sgd", lrs=[0.1], num_steps=5, seed=4, device="cpu")
    assert a.losses != b.losses


def test_log_grid():
    grid = sweep.log_grid(1e-4, 1.0, 5)
    assert grid[0] == pytest.approx(1e-4) and grid[-1] == pytest.approx(1.0) and grid[2] == pytest.approx(1e-2)
    for args in [(0, 1, 3), (1, 0.1, 3), (1e-3, 1, 1), (1e-3, 1, 2.5)]:
        with pytest.raises(ValueError):
            sweep.log_grid(*args)


@pytest.mark.parametrize(
    "arguments, word",
    [
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"loss": "hinge"}, "loss"),
        ({"lrs": [0.1, -1.0]}, "lrs"),
        ({"lrs": []}, "length"),
        ({"lrs": [0.1, 0.2], "weight_decay": [0.0, 0.1, 0.2]}, "length"),
        ({"num_steps": 0}, "num_steps"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"momentum": 0.9}, "momentum"),
        ({"optimizer": "momentum", "momentum": 1.0}, "momentum"),
        ({"optimizer": "nesterov", "momentum": 0.0}, "nesterov"),
        ({"optimizer": "adam", "betas": (0.9, 1.0)}, "betas"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"X_valid": X}, "X_valid"),
        ({"divergence_factor": 1}, "divergence_factor"),
        ({"model_fn": lambda: models.MLP(2, 2, dropout=0.1)}, "Dropout"),
        ({"model_fn": lambda: 3}, "model_fn"),
    ],
)
def test_bad_arguments_are_named(arguments, word):
    call = {"model_fn": mlp, "X": X, "y": y, "lrs": [0.1], "num_steps": 2, "device": "cpu", **arguments}
    with pytest.raises(ValueError, match=word):
        sweep.run_sweep(**call)


def test_plot_final_loss_marks_diverged_members():
    import matplotlib

    matplotlib.use("Agg")
    result = sweep.run_sweep(mlp, X, y, "sgd", lrs=[0.1, 1e4], num_steps=4, device="cpu")
    ax = sweep.plot_final_loss({"SGD": result})
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "learning rate"
    crosses = ax.lines[1]
    assert list(crosses.get_xdata()) == [1e4]


@pytest.mark.parametrize(
    "optimizer, options",
    [
        ("sgd", {"weight_decay": 1e-2}),
        ("momentum", {}),
        ("nesterov", {"weight_decay": 1e-3}),
        ("adam", {"weight_decay": 1e-2}),
        ("adamw", {"weight_decay": 0.1}),
    ],
)
def test_member_weights_stay_those_of_the_plain_run(optimizer, options):
    """24 updates, side by side, of the K-way update and of torch.optim on nn.Linear: the weights agree.

    The two compute the same numbers with different kernels (batched matrix products against
    nn.Linear's addmm), and no BLAS promises that two kernels round alike: on one AMD EPYC the
    first forward pass already differs by 1.2e-7. These runs are stable, so that rounding is not
    amplified; measured with the other layout of the stacked weights, the largest gap after 24
    updates was 4e-6 (Adam at lr 0.3, whose normalised step is the most sensitive to a small
    gradient's rounding). A wrong formula (a missed bias correction, weight decay in the wrong
    place, a wrong lr) moves a weight by about one update, 1e-3 or more. 1e-4 lies between.
    """
    lrs = [0.01, 0.3] if optimizer.startswith("adam") else [0.05, 0.5]
    hyper = [
        {"lr": lr, "weight_decay": options.get("weight_decay", 0.0), "momentum": 0.9, "betas": (0.9, 0.999)}
        for lr in lrs
    ]
    torch.manual_seed(0)
    net = stacked.StackedModel(mlp(), len(lrs))
    rule = stacked.StackedUpdate(optimizer, hyper, torch.device("cpu"), 1e-8)
    plain = [plain_run(mlp, optimizer, lr, 0, **options)[1] for lr in lrs]
    optimizers = [
        TORCH_OPTIMIZERS[optimizer](
            m.parameters(),
            lr=lr,
            **options,
            **({"momentum": 0.9, "nesterov": optimizer == "nesterov"} if optimizer in ("momentum", "nesterov") else {}),
        )
        for m, lr in zip(plain, lrs)
    ]
    for inputs, targets in list(loaders.DeviceLoader(X, y, 64, seed=0)) * 4:
        _, grads = net.loss_and_gradients(inputs, targets, "cross_entropy", torch.ones(len(lrs), dtype=torch.bool))
        rule.step(net.params, grads)
        for model, opt in zip(plain, optimizers):
            opt.zero_grad()
            nn.functional.cross_entropy(model(inputs), targets).backward()
            opt.step()
    for k, model in enumerate(plain):
        for mine, theirs in zip(net.member_parameters(k), model.parameters()):
            assert mine.shape == theirs.shape and torch.allclose(mine, theirs, rtol=0, atol=1e-4), (optimizer, lrs[k])


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_written_out_backward_matches_autograd(loss):
    """The MLP's hand-written passes give autograd's losses and gradients (a frozen member's are zero).

    Both are float32 sums of at most 64 products over the same numbers, in different orders: they
    agree to a few ulps of the largest gradient (measured 1e-7); a wrong transpose or a missed
    activation is wrong by the gradient's own size, 1e-2 or more.
    """
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16, bias=False), nn.ReLU(), nn.Linear(16, 2))
    net = stacked.StackedModel(model, 3)
    with torch.no_grad():
        for p in net.params:
            p.add_(0.1 * torch.randn_like(p))  # the members differ
    inputs, labels = X[:48], y[:48]
    targets = labels if loss == "cross_entropy" else torch.randn(48, 2)
    active = torch.tensor([True, False, True])
    losses, grads = net.loss_and_gradients(inputs, targets, loss, active)
    grads = [g.clone() for g in grads]  # the buffers are reused by the next call
    expected = stacked.member_losses(loss)(net._vmap(inputs), targets)
    torch.where(active, expected, 0.0).sum().backward()
    assert torch.allclose(losses, expected.detach(), rtol=0, atol=1e-5)
    for mine, theirs in zip(grads, [p.grad for p in net.params]):
        assert torch.allclose(mine, theirs, rtol=0, atol=1e-5) and not mine[1].any()
