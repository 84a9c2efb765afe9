"""Train K copies of one model at once, each with its own hyperparameters: an lr sweep in one run.

Every member starts from the same weights (``model_fn()`` after ``torch.manual_seed(seed)``) and sees
the same batches (those of ``loaders.DeviceLoader(X, y, batch_size, seed=seed)``), so the only thing
that differs is the hyperparameter. Each parameter's K copies are stacked into one ``(K, *shape)``
tensor; the forward pass runs all members together (batched matrix products for an MLP, else
``torch.func.vmap`` over ``functional_call``), and the optimizer updates are torch.optim's own
formulas written once for the whole stack, rounded as torch.optim rounds. Each member's weights stay
those of its own ordinary run up to the last bit of rounding (a batched matrix product and
``nn.Linear`` need not round alike; ``tests/test_sweep.py``). Where training is stable that
difference stays at rounding level; past the edge of stability (a large lr with momentum) any such
difference grows, as would a nudge of the initial weights, and the two runs part ways: chaos, not a
bug (``benchmarks/sweep.py`` measures both).

A member whose loss turns NaN or exceeds ``divergence_factor`` times the first loss is marked
diverged at that step and frozen (its weights are those before the step), as ``Trainer`` does.

>>> from course_lib import datasets, models
>>> X, y = datasets.make_spirals(256)
>>> result = run_sweep(lambda: models.MLP(2, 2, width=16), X, y, "sgd", lrs=[0.01, 0.1], num_steps=5)
>>> result.status
['completed', 'completed']
"""
from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from . import statuses
from .device import pick_device
from .history import History
from .loaders import DeviceLoader

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
LOSSES = ("cross_entropy", "mse")
ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.Identity)  # layers the batched MLP applies as they are


def log_grid(low: float, high: float, num: int) -> list[float]:
    """``num`` values from ``low`` to ``high`` (both included), evenly spaced on a log scale.

    >>> [round(v, 6) for v in log_grid(1e-3, 1e-1, 3)]
    [0.001, 0.01, 0.1]
    """
    if not (_number(low) and _number(high) and 0 < low < high < math.inf):
        raise ValueError(f"low and high must be numbers with 0 < low < high, got {low!r} and {high!r}")
    if not isinstance(num, int) or isinstance(num, bool) or num < 2:
        raise ValueError(f"num must be an int >= 2, got {num!r}")
    a, b = math.log10(low), math.log10(high)
    return [10 ** (a + (b - a) * i / (num - 1)) for i in range(num)]


@dataclass
class SweepResult:
    """Plain data, one entry per member: ``losses[k][i]`` is member k's loss at update i.

    ``final_loss`` is the loss on the whole training set after the run, ``valid_loss`` and
    ``valid_accuracy`` those on the validation set (``None`` without one); all are NaN for a member
    that diverged. ``epochs[k]`` holds member k's per-epoch ``train_loss`` (and validation numbers).
    """

    optimizer: str
    hyperparameters: list[dict]
    losses: list[list[float]]
    status: list[str]
    diverged_at_step: list[int | None]
    final_loss: list[float] = field(default_factory=list)
    valid_loss: list[float] | None = None
    valid_accuracy: list[float] | None = None
    epochs: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def lrs(self) -> list[float]:
        return [h["lr"] for h in self.hyperparameters]

    def __len__(self) -> int:
        return len(self.hyperparameters)

    def best(self, key: str = "final_loss") -> int:
        """Index of the member with the lowest loss (or highest ``valid_accuracy``); diverged ones never win."""
        values = getattr(self, key, None) if key in ("final_loss", "valid_loss", "valid_accuracy") else None
        if values is None:
            raise ValueError(f"key must be 'final_loss', or 'valid_loss' / 'valid_accuracy' after a sweep with validation data, got {key!r}")
        finite = [k for k, v in enumerate(values) if math.isfinite(v)]
        if not finite:
            raise ValueError("every member diverged: there is no best one")
        return (max if key == "valid_accuracy" else min)(finite, key=values.__getitem__)

    def histories(self) -> list[History]:
        """One :class:`History` per member, as ``Trainer.fit`` would have logged it (without times)."""
        out = []
        for k, losses in enumerate(self.losses):
            history = History(step={"step": list(range(len(losses))), "loss": list(losses), "lr": [self.lrs[k]] * len(losses)},
                              epoch={name: list(values) for name, values in self.epochs[k].items()},
                              status=self.status[k], diverged_at_step=self.diverged_at_step[k])
            if history.status == statuses.DIVERGED:
                history.message = f"loss became {losses[-1]:.4g} at step {history.diverged_at_step}"
            out.append(history)
        return out


def run_sweep(model_fn, X: torch.Tensor, y: torch.Tensor, optimizer: str = "sgd", lrs=(0.01,), num_steps: int = 100,
              batch_size: int = 128, momentum=None, weight_decay=None, betas=(0.9, 0.999), eps: float = 1e-8,
              seed: int = 0, X_valid=None, y_valid=None, loss: str = "cross_entropy", device=None,
              divergence_factor: float = 1e3) -> SweepResult:
    """Train one member per hyperparameter setting, all at once, for ``num_steps`` updates.

    ``lrs``, ``momentum``, ``weight_decay`` and ``betas`` each take one value (shared by all) or a
    list with one value per member. ``momentum`` defaults to 0.9 for "momentum" and "nesterov";
    ``weight_decay`` to torch's default (0, and 0.01 for "adamw"): L2 added to the gradient for SGD
    and Adam, decoupled (``w <- w * (1 - lr * wd)`` before the step) for AdamW.
    """
    hyper = _check_arguments(model_fn, X, y, optimizer, lrs, num_steps, batch_size, momentum, weight_decay, betas,
                             X_valid, y_valid, loss, divergence_factor)
    device = torch.device(device) if device is not None else pick_device()
    with torch.random.fork_rng(devices=[]):  # the weights of `torch.manual_seed(seed); model_fn()`, caller's RNG untouched
        torch.manual_seed(seed)
        model = model_fn()
    if not isinstance(model, nn.Module):
        raise ValueError(f"model_fn must return a torch.nn.Module, got {type(model).__name__}")
    for module in model.modules():
        if isinstance(module, (nn.Dropout, nn.modules.batchnorm._BatchNorm)):
            raise ValueError(f"model_fn's model must not use {type(module).__name__}: the members would differ by more than their hyperparameters")
    K, net, rule, loss_fn = len(hyper), _Batched(model.to(device), len(hyper)), _Update(optimizer, hyper, device, eps), _loss(loss)
    train = DeviceLoader(X, y, batch_size, seed=seed, device=device)
    result = SweepResult(optimizer, hyper, [[] for _ in range(K)], [statuses.COMPLETED] * K, [None] * K,
                         epochs=[{"epoch": []} for _ in range(K)])
    active, mask = [True] * K, torch.ones(K, dtype=torch.bool, device=device)  # mask: `active` as a tensor
    first_loss, step, start = None, 0, time.perf_counter()
    while step < num_steps:
        totals, count = [0.0] * K, 0
        for inputs, targets in train:
            member_losses = loss_fn(net(inputs), targets)  # (K,)
            values = member_losses.tolist()
            first_loss = values[0] if first_loss is None else first_loss  # the same for every member
            for k in (k for k in range(K) if active[k]):
                result.losses[k].append(values[k])
                totals[k] += values[k] * len(targets)
                if statuses.diverged(values[k], first_loss, divergence_factor):  # NaN, inf or exploded
                    result.status[k], result.diverged_at_step[k], active[k] = statuses.DIVERGED, step, False
                    mask = torch.tensor(active, device=device)
            if any(active):  # a frozen member's loss is left out, so its gradient is zero
                (member_losses if all(active) else torch.where(mask, member_losses, 0.0)).sum().backward()
                with torch.no_grad():
                    rule.step(net.params, active)
            count, step = count + len(targets), step + 1
            if step == num_steps:
                break
        if count == len(train.X):  # a whole epoch was trained: log it as Trainer does
            numbers = {"train_loss": [total / count for total in totals]}
            if X_valid is not None:
                numbers["valid_loss"], numbers["valid_accuracy"] = _evaluate(net, X_valid, y_valid, loss_fn, mask, device)
            for k in (k for k in range(K) if active[k]):
                result.epochs[k]["epoch"].append(len(result.epochs[k]["epoch"]) + 1)
                for name, values in numbers.items():
                    if values is not None:
                        result.epochs[k].setdefault(name, []).append(values[k])
    result.final_loss, _ = _evaluate(net, X, y, loss_fn, mask, device)
    if X_valid is not None:
        result.valid_loss, result.valid_accuracy = _evaluate(net, X_valid, y_valid, loss_fn, mask, device)
    result.seconds = time.perf_counter() - start
    return result


def plot_final_loss(results: dict[str, SweepResult], key: str = "final_loss", ax=None):
    """``key`` of every member against its lr, one line per sweep; a cross at the top marks a diverged member."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    for name, result in results.items():
        values = getattr(result, key)
        line = ax.plot(result.lrs, values, "o-", markersize=3, label=name)[0]
        diverged = [lr for lr, v in zip(result.lrs, values) if not math.isfinite(v)]
        ax.plot(diverged, [1] * len(diverged), "x", color=line.get_color(), transform=ax.get_xaxis_transform(), clip_on=False)
    ax.set_xscale("log")
    ax.set(xlabel="learning rate", ylabel=key.replace("_", " "), title=f"{key.replace('_', ' ')} after the sweep (x: diverged)")
    if results:
        ax.legend()
    return ax


@torch.no_grad()
def _evaluate(net, X, y, loss_fn, active, device, chunk: int = 1024):
    """Per-member mean loss (and accuracy for classification) on a whole set, in chunks; NaN for frozen members."""
    loss_sum, correct = torch.zeros(len(active), device=device), torch.zeros(len(active), device=device)
    for start in range(0, len(X), chunk):
        outputs, targets = net(X[start : start + chunk].to(device)), y[start : start + chunk].to(device)  # (K, n, C)
        loss_sum += loss_fn(outputs, targets) * len(targets)
        if loss_fn.name == "cross_entropy":
            correct += (outputs.argmax(-1) == targets).float().sum(1)
    nan = torch.tensor(math.nan, device=device)
    values = torch.where(active, loss_sum / len(X), nan).tolist()
    return values, torch.where(active, correct / len(X), nan).tolist() if loss_fn.name == "cross_entropy" else None


def _loss(name: str):
    def member_losses(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:  # (K, B, ...) -> (K,)
        K, B = outputs.shape[:2]
        if name == "cross_entropy":
            per_sample = nn.functional.cross_entropy(outputs.reshape(K * B, -1), targets.repeat(K), reduction="none")
            return per_sample.view(K, B).mean(1)
        if outputs.shape[1:] != targets.shape:
            raise ValueError(f"loss='mse' needs targets shaped like one member's outputs {tuple(outputs.shape[1:])}, got {tuple(targets.shape)}")
        return nn.functional.mse_loss(outputs, targets.expand_as(outputs), reduction="none").reshape(K, -1).mean(1)

    member_losses.name = name
    return member_losses


class _Batched:
    """K stacked copies of ``model``: ``params`` are ``(K, *shape)`` leaf tensors and ``net(x)`` is ``(K, B, out)``.

    For an MLP each Linear weight is stacked so that the small dimension comes first: ``(K, in, out)``
    (transposed) when ``in <= out``, else ``(K, out, in)`` as ``nn.Linear`` has it. Batched matrix
    products with a long, thin result (an output layer of 2 units) are several times slower in
    oneDNN/MKL than the same products written with the thin side first, in the forward pass and in the
    weight gradient alike. :meth:`member_parameters` gives a member's weights as the model has them.
    """

    def __init__(self, model: nn.Module, K: int):
        self.model, self.names = model, [name for name, _ in model.named_parameters()]
        self.layers = list(model.children()) if isinstance(model, nn.Sequential) else []
        self.is_mlp = bool(self.layers) and all(isinstance(m, (nn.Linear, *ELEMENTWISE)) for m in self.layers)
        self.transposed = [self.is_mlp and p.dim() == 2 and p.shape[1] <= p.shape[0] for p in model.parameters()]
        self.params = [(p.detach().t() if t else p.detach()).unsqueeze(0).repeat(K, *[1] * p.dim()).requires_grad_()
                       for p, t in zip(model.parameters(), self.transposed)]

    def member_parameters(self, k: int) -> list[torch.Tensor]:
        return [p[k].t() if t else p[k] for p, t in zip(self.params, self.transposed)]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._mlp(x) if self.is_mlp else self._vmap(x)

    def _mlp(self, x: torch.Tensor) -> torch.Tensor:
        """Linear layers as batched matrix products: weights (K, in, out) or (K, out, in), biases (K, out)."""
        params, h = iter(zip(self.params, self.transposed)), x
        for layer in self.layers:
            if not isinstance(layer, nn.Linear):  # an elementwise activation works on any shape
                h = h.relu_() if isinstance(layer, nn.ReLU) and h is not x else layer(h)  # in place saves a pass
                continue
            weight, transposed = next(params)
            bias = next(params)[0] if layer.bias is not None else None
            if h.dim() == 2:  # the shared input batch (B, in), seen by every member
                h = h.expand(len(weight), *h.shape)
            h = torch.bmm(h, weight if transposed else weight.transpose(1, 2))  # (K, B, out) = h W^T
            if bias is not None:
                h = h.add_(bias.unsqueeze(1))
        return h

    def _vmap(self, x: torch.Tensor) -> torch.Tensor:
        """Any stateless model: ``functional_call`` vmapped over the stacked parameters."""
        from torch.func import functional_call, vmap

        def one_member(params, inputs):
            return functional_call(self.model, dict(zip(self.names, params)), (inputs,))

        return vmap(one_member, in_dims=(0, None))(self.params, x)


class _Update:
    """torch.optim's SGD / Adam / AdamW step for K members at once, rounded as torch.optim rounds.

    torch's ``a.add(b, alpha=c)`` rounds once (a fused multiply-add); ``torch.addcmul(a, c, b)`` with
    a per-member column ``c`` does the same, so the update adds no rounding of its own to what the
    forward and backward passes bring (tests/test_sweep.py). Scalars such as ``1 - beta1 ** step`` are
    computed in Python floats, as torch.optim computes them.
    """

    def __init__(self, optimizer: str, hyper: list[dict], device, eps: float):
        self.kind, self.eps, self.count, self.device = optimizer, eps, 0, device
        lr, wd = [m["lr"] for m in hyper], [m["weight_decay"] for m in hyper]
        self.values = {"-lr": [-v for v in lr], "wd": wd, "1-lr*wd": [1 - a * b for a, b in zip(lr, wd)]}
        self.use_l2 = any(wd) and optimizer != "adamw"  # torch.optim skips the L2 term when wd == 0
        if optimizer in ("momentum", "nesterov"):
            self.values["momentum"] = [m["momentum"] for m in hyper]
        if optimizer in ("adam", "adamw"):
            self.beta1, self.beta2 = [m["betas"][0] for m in hyper], [m["betas"][1] for m in hyper]
            self.values.update({"beta2": self.beta2, "1-beta1": [1 - b for b in self.beta1], "1-beta2": [1 - b for b in self.beta2]})
        self.state: list[dict] = []
        self.columns: dict = {}
        self.frozen_rows, self.frozen_values = torch.zeros(0, dtype=torch.long), []

    def col(self, name: str, like: torch.Tensor) -> torch.Tensor:
        """Per-member values as a (K, 1, ..., 1) tensor that broadcasts over a stacked parameter."""
        key = (name, like.dim(), like.dtype)
        if key not in self.columns:
            values = torch.tensor(self.values[name], dtype=like.dtype, device=self.device)
            self.columns[key] = values.view(-1, *[1] * (like.dim() - 1))
        return self.columns[key]

    def step(self, params: list[torch.Tensor], active: list[bool]) -> None:
        self.count += 1
        if self.kind in ("adam", "adamw"):  # the bias corrections change every step
            self.values["-step_size"] = [neg_lr / (1 - b1 ** self.count) for neg_lr, b1 in zip(self.values["-lr"], self.beta1)]
            self.values["bias_correction2_sqrt"] = [(1 - b2 ** self.count) ** 0.5 for b2 in self.beta2]
            self.columns = {k: v for k, v in self.columns.items() if k[0] not in ("-step_size", "bias_correction2_sqrt")}
        self.state = self.state or [{} for _ in params]
        frozen = [k for k, is_active in enumerate(active) if not is_active]
        if len(frozen) != len(self.frozen_rows):  # a member diverged at this step: keep its weights from before it
            self.frozen_rows = torch.tensor(frozen, device=self.device)
            self.frozen_values = [p.detach()[self.frozen_rows].clone() for p in params]
        for p, state, frozen_values in zip(params, self.state, self.frozen_values or [None] * len(params)):
            self._update(p.detach(), p.grad, state)  # in place, every member
            if frozen_values is not None:
                p.detach().index_copy_(0, self.frozen_rows, frozen_values)  # frozen members back to their weights
            p.grad = None

    def _update(self, p, grad, state) -> None:
        col = self.col
        if self.use_l2:
            grad = torch.addcmul(grad, col("wd", p), p)  # L2 weight decay: grad + wd * w
        if self.kind in ("sgd", "momentum", "nesterov"):
            if self.kind != "sgd":
                buf = state.get("momentum_buffer")
                buf = grad.clone() if buf is None else buf.mul_(col("momentum", p)).add_(grad)  # dampening 0
                state["momentum_buffer"] = buf
                grad = torch.addcmul(grad, col("momentum", p), buf) if self.kind == "nesterov" else buf
            p.addcmul_(col("-lr", p), grad)  # w - lr * grad
            return
        if self.kind == "adamw":  # decoupled weight decay: shrink the weights, leave the gradient alone
            p.mul_(col("1-lr*wd", p))
        if not state:
            state["exp_avg"], state["exp_avg_sq"] = torch.zeros_like(p), torch.zeros_like(p)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, col("1-beta1", p))  # m <- beta1 m + (1 - beta1) g
        exp_avg_sq.mul_(col("beta2", p)).addcmul_(col("1-beta2", p) * grad, grad)  # v <- beta2 v + (1 - beta2) g^2
        denom = exp_avg_sq.sqrt().div_(col("bias_correction2_sqrt", p)).add_(self.eps)  # eps outside the square root
        p.add_(col("-step_size", p) * exp_avg / denom)  # step size lr / (1 - beta1^t)


def _check_arguments(model_fn, X, y, optimizer, lrs, num_steps, batch_size, momentum, weight_decay, betas,
                     X_valid, y_valid, loss, divergence_factor) -> list[dict]:
    """Validate everything before any work; return one dict of hyperparameters per member."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if not callable(model_fn):
        raise ValueError(f"model_fn must be a callable returning a fresh torch.nn.Module, got {model_fn!r}")
    for name, a, b in (("X, y", X, y), ("X_valid, y_valid", X_valid, y_valid)):
        if name.startswith("X_valid") and a is None and b is None:
            continue
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and len(a) == len(b) > 0):
            raise ValueError(f"{name} must be non-empty tensors of the same length")
    for name, value in (("num_steps", num_steps), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if not (_number(divergence_factor) and divergence_factor > 1):
        raise ValueError(f"divergence_factor must be a number > 1, got {divergence_factor!r}")
    if momentum is not None and optimizer not in ("momentum", "nesterov"):
        raise ValueError(f"momentum applies to optimizer 'momentum' or 'nesterov' only, got optimizer={optimizer!r}")
    given = {"lrs": lrs, "momentum": 0.9 if momentum is None else momentum, "betas": betas,
             "weight_decay": (0.01 if optimizer == "adamw" else 0.0) if weight_decay is None else weight_decay}
    lists = {name: list(value) for name, value in given.items()
             if hasattr(value, "__len__") and not (name == "betas" and len(value) == 2 and all(_number(b) for b in value))}
    sizes = {len(values) for values in lists.values()}
    if len(sizes) > 1 or 0 in sizes:
        raise ValueError(f"lrs, momentum, weight_decay and betas take one value or one per member (lists of one length > 0), "
                         f"got lengths {({name: len(values) for name, values in lists.items()})}")
    K = sizes.pop() if sizes else 1
    column = {name: lists.get(name, [value] * K) for name, value in given.items()}
    hyper = []
    for lr, mom, wd, pair in zip(column["lrs"], column["momentum"], column["weight_decay"], column["betas"]):
        if not (_number(lr) and 0 < lr < math.inf):
            raise ValueError(f"lrs must be positive finite numbers, got {lr!r}")
        if not (_number(mom) and 0 <= mom < 1) or (optimizer == "nesterov" and mom == 0):
            raise ValueError(f"momentum must be a number in [0, 1) (> 0 for nesterov), got {mom!r}")
        if not (_number(wd) and 0 <= wd < math.inf):
            raise ValueError(f"weight_decay must be a number >= 0, got {wd!r}")
        if not (hasattr(pair, "__len__") and len(pair) == 2 and all(_number(b) and 0 <= b < 1 for b in pair)):
            raise ValueError(f"betas must be a pair (beta1, beta2), each in [0, 1), or a list of such pairs, got {pair!r}")
        member = {"lr": float(lr), "weight_decay": float(wd)}
        if optimizer in ("momentum", "nesterov"):
            member["momentum"] = float(mom)
        if optimizer in ("adam", "adamw"):
            member["betas"] = (float(pair[0]), float(pair[1]))
        hyper.append(member)
    return hyper


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(value)
