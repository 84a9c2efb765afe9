"""Modular addition, ``(a + b) mod p``: the problem on which networks *grok* (Power et al. 2022).

A small network memorises the training pairs within a few hundred steps and then, with weight decay,
finds the rule much later: validation accuracy jumps from chance to near 100% long after the training
accuracy did. Without decay it stays near chance within the same budget. The data are generated, so
nothing is downloaded: all ``p * p`` pairs, of which ``train_fraction`` are for training.

The model is an embedding MLP (each number's embedding, concatenated, one hidden ReLU layer, ``p``
logits) written with an explicit leading *member* dimension: ``EmbeddingMLP(seeds=[0, 1, 2])`` is three
independent networks run as one, so :func:`grokking_curves` trains a grid of seeds and weight decays
in one batched run (a few small operations per step instead of one set per run). With ``seeds=None``
it is one ordinary network for :class:`~course_lib.Trainer` (:func:`train_modular`).

>>> data = modular_data(p=7, train_fraction=0.5, seed=0)
>>> data.X_train.shape, data.y_train.shape, data.X_valid.shape
(torch.Size([24, 2]), torch.Size([24]), torch.Size([25, 2]))
>>> bool(((data.X_train[:, 0] + data.X_train[:, 1]) % 7 == data.y_train).all())
True
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from .. import metrics, profiles
from ..device import pick_device, seed_everything
from ..lr.stacked import StackedUpdate
from ..training.trainer import Trainer
from ..validate import check_choice, check_int, check_number

OPTIMIZERS = ("adamw", "adam", "sgd", "momentum")  # adam: L2 added to the gradient; adamw: decoupled decay

# The settings each size runs. Measured at default over seeds 0-2: training accuracy 99% by step 50, validation
# accuracy 90% at steps 600-750 with decay 1, 0% without (benchmarks/problems.py grokking).
SETTINGS = {
    "smoke": {"p": 47, "train_fraction": 0.5, "embed_dim": 64, "hidden": 128, "lr": 1e-2, "weight_decay": 1.0,
              "num_steps": 600},
    "default": {"p": 47, "train_fraction": 0.5, "embed_dim": 64, "hidden": 128, "lr": 1e-2, "weight_decay": 1.0,
                "num_steps": 1000},
    "gpu": {"p": 97, "train_fraction": 0.5, "embed_dim": 128, "hidden": 256, "lr": 1e-2, "weight_decay": 1.0,
            "num_steps": 3000},  # not measured: no GPU was at hand
}


def settings(size: str = "default") -> dict:
    """The problem's settings at a size profile (a copy: change it freely)."""
    check_choice("size", size, profiles.SIZES)
    return dict(SETTINGS[size])


@dataclass
class ModularData:
    """Pairs ``X (n, 2)`` of numbers in ``[0, p)`` and their sums mod ``p``; every pair is in exactly one split."""

    p: int
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_valid: torch.Tensor
    y_valid: torch.Tensor


def modular_data(p: int = 59, train_fraction: float = 0.4, seed: int = 0, device=None) -> ModularData:
    """All ``p * p`` pairs ``(a, b)`` with label ``(a + b) mod p``, split at random (``seed``) into train and validation."""
    check_int("p", p, 2)
    check_number("train_fraction", train_fraction, 0, 1, include_low=False, include_high=False)
    check_int("seed", seed, 0)
    n_train = round(train_fraction * p * p)
    if not 0 < n_train < p * p:
        raise ValueError(f"train_fraction={train_fraction} leaves no pair for training or none for validation at p={p}")
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    X = torch.stack([a.flatten(), b.flatten()], 1)
    order = torch.randperm(p * p, generator=torch.Generator().manual_seed(seed))
    X = X[order].to(device)
    y = (X[:, 0] + X[:, 1]) % p
    return ModularData(p, X[:n_train], y[:n_train], X[n_train:], y[n_train:])


class EmbeddingMLP(nn.Module):
    """``p`` logits from ``concat(E[a], E[b]) -> Linear(2d, hidden) -> ReLU -> Linear(hidden, p)``, for K members at once.

    ``seeds=None``: one network, ``forward`` returns ``(B, p)``. ``seeds=[s0, s1, ...]``: one member per
    seed, each initialised as ``torch.manual_seed(s)`` would (the same seed twice: twin members, e.g. for
    two weight decays), ``forward`` returns ``(K, B, p)``. The inputs are shared ``(B, 2)`` or per member
    ``(K, B, 2)``. The first layer is applied to the ``p`` embeddings once, not to the ``B`` pairs:
    ``W [E a; E b] = W_a E a + W_b E b``, so a step costs ``p * d * hidden`` there instead of ``B * 2d * hidden``.
    """

    def __init__(self, p: int, embed_dim: int = 64, hidden: int = 128, seeds: list[int] | None = None):
        super().__init__()
        check_int("p", p, 2)
        check_int("embed_dim", embed_dim, 1)
        check_int("hidden", hidden, 1)
        if seeds is not None and (not isinstance(seeds, (list, tuple)) or not seeds):
            raise ValueError(f"seeds must be None or a non-empty list of ints, got {seeds!r}")
        self.p, self.members = p, seeds is not None
        members = [_init_member(p, embed_dim, hidden, s if s is None else check_int("seeds", s, 0)) for s in (seeds or [None])]
        for name in members[0]:
            self.register_parameter(name, nn.Parameter(torch.stack([m[name] for m in members])))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if X.shape[-1] != 2 or X.dim() not in (2, 3) or X.dtype != torch.long:
            raise ValueError(f"EmbeddingMLP expects pairs of ints shaped (B, 2) or (K, B, 2), got {tuple(X.shape)} {X.dtype}")
        d = self.embedding.shape[-1]
        left = self.embedding @ self.weight1[:, :d]  # (K, p, hidden): every number's share through the first layer
        right = self.embedding @ self.weight1[:, d:]
        if X.dim() == 2:
            h = left[:, X[:, 0]] + right[:, X[:, 1]]  # (K, B, hidden)
        else:
            member = torch.arange(len(X), device=X.device)[:, None]
            h = left[member, X[..., 0]] + right[member, X[..., 1]]
        out = torch.baddbmm(self.bias2, torch.relu(h + self.bias1), self.weight2)  # (K, B, p)
        return out if self.members else out[0]


def _init_member(p: int, d: int, hidden: int, seed: int | None) -> dict[str, torch.Tensor]:
    """One member's weights, drawn as nn.Embedding and nn.Linear draw them (N(0, 1); U(+-1/sqrt(fan_in)))."""
    generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def uniform(*shape, fan_in):
        bound = 1 / math.sqrt(fan_in)
        return (torch.rand(*shape, generator=generator) * 2 - 1) * bound

    return {"embedding": torch.randn(p, d, generator=generator), "weight1": uniform(2 * d, hidden, fan_in=2 * d),
            "bias1": uniform(1, hidden, fan_in=2 * d), "weight2": uniform(hidden, p, fan_in=hidden),
            "bias2": uniform(1, p, fan_in=hidden)}


def _optimizer(name: str, params, lr: float, weight_decay: float, betas) -> torch.optim.Optimizer:
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=betas)
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=0.9 if name == "momentum" else 0.0)


def train_modular(lr: float | None = None, num_steps: int | None = None, *, weight_decay: float | None = None,
                  optimizer: str = "adamw", seed: int = 0, size: str = "default", steps_per_epoch: int = 10,
                  betas=(0.9, 0.98), device=None, **trainer_options) -> Trainer:
    """Train one embedding MLP on modular addition with full-batch steps; return the trainer (and its ``history``).

    ``size`` picks ``p``, the training fraction, the model and (where left ``None``) ``lr``, ``weight_decay`` and
    ``num_steps`` from :data:`SETTINGS`. ``seed`` sets the split and the initial weights. An *epoch* is
    ``steps_per_epoch`` full-batch steps, so ``history.epoch`` (and ``EarlyStopping``'s patience, in epochs)
    is read every ``steps_per_epoch`` updates. ``trainer_options`` go to :class:`~course_lib.Trainer`.
    """
    conf = settings(size)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    lr = check_number("lr", conf["lr"] if lr is None else lr, 0, include_low=False)
    weight_decay = check_number("weight_decay", conf["weight_decay"] if weight_decay is None else weight_decay, 0)
    num_steps = check_int("num_steps", conf["num_steps"] if num_steps is None else num_steps, 1)
    check_int("steps_per_epoch", steps_per_epoch, 1)
    if num_steps % steps_per_epoch:
        raise ValueError(f"num_steps ({num_steps}) must be a multiple of steps_per_epoch ({steps_per_epoch})")
    device = pick_device(device.type if isinstance(device, torch.device) else device)
    data = modular_data(conf["p"], conf["train_fraction"], seed, device)
    seed_everything(seed)  # the weights of the member EmbeddingMLP(seeds=[seed]) draws: the same generator, seeded alike
    model = EmbeddingMLP(conf["p"], conf["embed_dim"], conf["hidden"], seeds=None)
    opt = _optimizer(optimizer, model.parameters(), lr, weight_decay, betas)
    options = {"metrics": {"accuracy": metrics.accuracy}, "train_metrics": True, "progress": False, **trainer_options}
    trainer = Trainer(model, opt, device=device, **options)
    full_batch = [(data.X_train, data.y_train)] * steps_per_epoch  # a list is a loader: one epoch, steps_per_epoch steps
    trainer.fit(full_batch, [(data.X_valid, data.y_valid)], num_epochs=num_steps // steps_per_epoch)
    return trainer


@dataclass
class GrokkingCurves:
    """Plain data from :func:`grokking_curves`: ``valid_accuracy[k][i]`` is member k's at ``steps[i]``.

    Member k trained with ``seed[k]`` and ``weight_decay[k]``; the accuracies are fractions, the losses
    the mean cross-entropy, the training numbers those of the full batch before the update at that step.
    """

    steps: list[int]
    seed: list[int]
    weight_decay: list[float]
    train_loss: list[list[float]] = field(default_factory=list)
    train_accuracy: list[list[float]] = field(default_factory=list)
    valid_loss: list[list[float]] = field(default_factory=list)
    valid_accuracy: list[list[float]] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0

    def first_step(self, key: str, threshold: float) -> list[int | None]:
        """For each member, the first logged step where ``key`` (an accuracy) reaches ``threshold``; None if never."""
        check_choice("key", key, ("train_accuracy", "valid_accuracy"))
        return [next((s for s, v in zip(self.steps, values) if v >= threshold), None) for values in getattr(self, key)]

    def members(self, weight_decay: float) -> list[int]:
        """Indices of the members trained with this weight decay (one per seed)."""
        found = [k for k, w in enumerate(self.weight_decay) if w == weight_decay]
        if not found:
            raise ValueError(f"weight_decay must be one of {sorted(set(self.weight_decay))}, got {weight_decay!r}")
        return found


def grokking_curves(weight_decays=(0.0, 1.0), seeds=(0,), *, size: str = "default", lr: float | None = None,
                    num_steps: int | None = None, optimizer: str = "adamw", eval_every: int = 50, betas=(0.9, 0.98),
                    device=None, **overrides) -> GrokkingCurves:
    """Train one member per (seed, weight decay) at once, full batch; log every ``eval_every`` steps.

    The pure compute behind the weight-decay explorer: arguments are plain values, the result is plain
    data, so a widget can cache it by its arguments. Members of one seed share their split and initial
    weights and differ only in their decay. ``overrides`` change ``p``, ``train_fraction``, ``embed_dim`` or
    ``hidden`` from :data:`SETTINGS`. The update is torch.optim's formula (``lr.stacked.StackedUpdate``).
    """
    conf = settings(size)
    unknown = set(overrides) - {"p", "train_fraction", "embed_dim", "hidden"}
    if unknown:
        raise ValueError(f"overrides must be among ('p', 'train_fraction', 'embed_dim', 'hidden'), got {sorted(unknown)}")
    conf.update(overrides)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    lr = check_number("lr", conf["lr"] if lr is None else lr, 0, include_low=False)
    num_steps = check_int("num_steps", conf["num_steps"] if num_steps is None else num_steps, 1)
    check_int("eval_every", eval_every, 1)
    weight_decays, seeds = _as_list("weight_decays", weight_decays), _as_list("seeds", seeds)
    for w in weight_decays:
        check_number("weight_decays", w, 0)
    grid = [(s, w) for s in seeds for w in weight_decays]
    device = pick_device(device.type if isinstance(device, torch.device) else device)
    splits = [modular_data(conf["p"], conf["train_fraction"], check_int("seeds", s, 0), device) for s in seeds]
    X_train = torch.stack([splits[seeds.index(s)].X_train for s, _ in grid])  # (K, n, 2): each member its seed's split
    y_train = torch.stack([splits[seeds.index(s)].y_train for s, _ in grid])
    X_valid = torch.stack([splits[seeds.index(s)].X_valid for s, _ in grid])
    y_valid = torch.stack([splits[seeds.index(s)].y_valid for s, _ in grid])
    model = EmbeddingMLP(conf["p"], conf["embed_dim"], conf["hidden"], seeds=[s for s, _ in grid]).to(device)
    params = list(model.parameters())
    hyper = [{"lr": lr, "weight_decay": w, "betas": betas, "momentum": 0.9} for _, w in grid]
    rule = StackedUpdate(optimizer, hyper, device, eps=1e-8)
    curves = GrokkingCurves([], [s for s, _ in grid], [w for _, w in grid], settings={**conf, "lr": lr, "num_steps": num_steps, "optimizer": optimizer})
    for key in ("train_loss", "train_accuracy", "valid_loss", "valid_accuracy"):
        getattr(curves, key).extend([] for _ in grid)
    start = time.process_time()
    for step in range(num_steps + 1):
        logits = model(X_train)
        losses = nn.functional.cross_entropy(logits.transpose(1, 2), y_train, reduction="none").mean(1)  # (K,)
        if step % eval_every == 0 or step == num_steps:
            _log(curves, step, model, logits, losses, y_train, X_valid, y_valid)
        if step == num_steps:
            break
        grads = torch.autograd.grad(losses.sum(), params)  # members are independent: one backward for all
        rule.step(params, list(grads))
    curves.seconds = time.process_time() - start
    return curves


def _log(curves, step, model, logits, losses, y_train, X_valid, y_valid) -> None:
    with torch.no_grad():
        valid_logits = model(X_valid)
        numbers = {"train_loss": losses, "train_accuracy": (logits.argmax(-1) == y_train).float().mean(1),
                   "valid_loss": nn.functional.cross_entropy(valid_logits.transpose(1, 2), y_valid, reduction="none").mean(1),
                   "valid_accuracy": (valid_logits.argmax(-1) == y_valid).float().mean(1)}
    curves.steps.append(step)
    for key, values in numbers.items():
        for k, value in enumerate(values.tolist()):
            getattr(curves, key)[k].append(value)


def _as_list(name: str, values) -> list:
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    if not values:
        raise ValueError(f"{name} must hold at least one value, got {values!r}")
    return values
