"""A small transformer language model on text every Python already has: the standard library's own source.

The corpus is the bytes of a fixed list of pure-Python standard-library modules, read from the running
interpreter's ``sysconfig.get_paths()["stdlib"]``: no download, and the same kind of text on every
machine. It is not the same bytes everywhere: the modules change between Python versions (of the lines
of these modules in 3.10, 96% are still there in 3.13), so every claim the course makes on it is about a
difference between training strategies, checked on the corpora of Python 3.10 and 3.13 (``stdlib=`` reads
another version's folder). The list holds only modules present from Python 3.9 to 3.13 and none that
PEP 594 removed; training text and validation text are different modules.

The model is a byte-level GPT-style transformer (token and position embeddings, ``layers`` blocks of
causal self-attention and an MLP, a linear head), with ``norm="pre"`` (LayerNorm before each sub-layer,
today's default) or ``norm="post"`` (after each residual sum, as in the 2017 transformer: the block
that needs warm-up at a large lr). :func:`train_text` is the one-call run; :func:`train_text_runs`
trains a list of configurations and keeps each run's per-step loss and validation curve, for
retrospective checkpoint selection (lesson 10).

>>> data = text_data(size="smoke")
>>> data.train.dtype, int(data.train.max()) < 256, len(data.valid) > 10_000
(torch.uint8, True, True)
"""
from __future__ import annotations

import math
import os
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from .. import profiles
from ..device import pick_device, seed_everything
from ..lr import schedules
from ..training.trainer import Trainer
from ..validate import check_choice, check_int, check_number

# Pure-Python modules present as <name>.py in every Python from 3.9 to 3.13 (checked on 3.9.18, 3.10.13,
# 3.11.7, 3.12.1 and 3.13.0); about 1.6 MB for training and 0.16 MB for validation.
TRAIN_MODULES = ("argparse", "pydoc", "tarfile", "doctest", "difflib", "pickletools", "optparse", "turtle",
                 "_pydecimal", "shutil", "subprocess", "tempfile", "functools", "contextlib", "selectors", "trace",
                 "profile", "string", "sched", "weakref", "getopt", "graphlib", "quopri", "stringprep",
                 "_markupbase", "tabnanny", "timeit", "zipapp", "pyclbr", "py_compile", "mailbox", "smtplib",
                 "imaplib", "ftplib", "pstats", "fileinput", "filecmp", "copy")
VALID_MODULES = ("calendar", "configparser", "heapq", "shlex", "textwrap", "socketserver")
NORMS = ("pre", "post")
OPTIMIZERS = ("adamw", "adam", "momentum", "sgd")
SCHEDULES = ("constant", "cosine", "step", "linear")

# Sizes: the model and its budget. gpu reads every module of the standard library (its tests excluded) too.
SETTINGS = {
    "smoke": {"width": 32, "heads": 4, "layers": 2, "context": 32, "batch_size": 32, "num_steps": 100},
    "default": {"width": 32, "heads": 4, "layers": 2, "context": 32, "batch_size": 32, "num_steps": 300},
    "gpu": {"width": 256, "heads": 8, "layers": 4, "context": 256, "batch_size": 64, "num_steps": 5000},
}


def settings(size: str = "default") -> dict:
    """The model and budget at a size profile (a copy)."""
    check_choice("size", size, profiles.SIZES)
    return dict(SETTINGS[size])


@dataclass
class TextData:
    """Bytes as ``uint8`` tensors: ``train`` and ``valid`` come from different modules; ``sources`` names them."""

    train: torch.Tensor
    valid: torch.Tensor
    sources: dict = field(default_factory=dict)

    @property
    def vocab_size(self) -> int:
        return 256


def stdlib_dir() -> str:
    """The running interpreter's standard-library folder, where the corpus is read from."""
    return sysconfig.get_paths()["stdlib"]


def read_modules(modules, stdlib: str | None = None) -> bytes:
    """The source of ``modules`` (names of ``<name>.py`` files in ``stdlib``), joined, with ``\\r\\n`` read as ``\\n``."""
    stdlib = stdlib or stdlib_dir()
    paths = [os.path.join(stdlib, f"{name}.py") for name in modules]
    missing = [name for name, path in zip(modules, paths) if not os.path.isfile(path)]
    if missing:
        raise ValueError(f"the standard library at {stdlib!r} has no source for {missing}: this Python ships without "
                         f"its .py files (some embedded or slimmed installs do); use a full install, or pass stdlib=")
    parts = []
    for path in paths:
        with open(path, "rb") as handle:
            parts.append(handle.read().replace(b"\r\n", b"\n"))
    return b"\n".join(parts)


def _all_modules(stdlib: str) -> list[str]:
    """Every .py file of the standard library but its tests and third-party packages (the gpu size's extra text)."""
    skip = {"test", "tests", "site-packages", "dist-packages", "idle_test", "__pycache__", "lib2to3"}
    found = []
    for root, dirs, files in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in skip)
        found += [os.path.relpath(os.path.join(root, f), stdlib)[:-3] for f in sorted(files) if f.endswith(".py")]
    return [m for m in found if m not in VALID_MODULES]


def text_data(size: str = "default", stdlib: str | None = None) -> TextData:
    """The corpus at a size: the fixed module lists at smoke and default; at gpu all of the standard library too.

    The text is the same for every seed (seeds change the weights and the order of the windows).
    """
    check_choice("size", size, profiles.SIZES)
    stdlib = stdlib or stdlib_dir()
    train_modules = _all_modules(stdlib) if size == "gpu" else TRAIN_MODULES
    train, valid = read_modules(train_modules, stdlib), read_modules(VALID_MODULES, stdlib)
    as_tensor = lambda raw: torch.frombuffer(bytearray(raw), dtype=torch.uint8)  # noqa: E731
    sources = {"stdlib": stdlib, "python": sys.version.split()[0], "train_modules": len(train_modules),
               "train_bytes": len(train), "valid_bytes": len(valid)}
    return TextData(as_tensor(train), as_tensor(valid), sources)


class WindowLoader:
    """``steps_per_epoch`` batches of ``batch_size`` random windows: inputs ``(B, T)`` and the next bytes ``(B, T)``.

    The offsets come from the loader's own generator (``seed``), so the batches are the same on every run
    and a checkpoint can save where they were.
    """

    def __init__(self, tokens: torch.Tensor, context: int, batch_size: int, steps_per_epoch: int, seed: int = 0,
                 device=None):
        check_int("context", context, 1)
        check_int("batch_size", batch_size, 1)
        check_int("steps_per_epoch", steps_per_epoch, 1)
        if len(tokens) <= context + 1:
            raise ValueError(f"the text ({len(tokens)} bytes) must be longer than context + 1 = {context + 1}")
        self.tokens, self.context, self.batch_size, self.steps_per_epoch = tokens.to(device), context, batch_size, steps_per_epoch
        self.generator = torch.Generator().manual_seed(check_int("seed", seed, 0))
        self._offsets = torch.arange(context + 1, device=self.tokens.device)

    def __len__(self) -> int:
        return self.steps_per_epoch

    def __iter__(self):
        for _ in range(self.steps_per_epoch):
            starts = torch.randint(len(self.tokens) - self.context - 1, (self.batch_size, 1), generator=self.generator)
            windows = self.tokens[starts.to(self.tokens.device) + self._offsets].long()  # (B, T + 1)
            yield windows[:, :-1], windows[:, 1:]


def validation_batches(tokens: torch.Tensor, context: int, num_windows: int = 256, batch_size: int = 256,
                       device=None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``num_windows`` windows spread evenly over the validation text: the same ones at every evaluation."""
    check_int("num_windows", num_windows, 1)
    starts = torch.linspace(0, len(tokens) - context - 2, num_windows).long()[:, None]
    windows = tokens[starts + torch.arange(context + 1)].long().to(device)
    return [(windows[i:i + batch_size, :-1], windows[i:i + batch_size, 1:]) for i in range(0, num_windows, batch_size)]


def lm_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the next byte, in nats: outputs ``(B, T, V)``, targets ``(B, T)``."""
    return F.cross_entropy(outputs.flatten(0, 1).float(), targets.flatten())


class Block(nn.Module):
    """Causal self-attention and an MLP (4x wide, GELU), each in a residual, normalised before or after."""

    def __init__(self, width: int, heads: int, norm: str):
        super().__init__()
        self.heads, self.norm = heads, norm
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.fc, self.out = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, heads, T, D / heads)
        return self.proj(y.transpose(1, 2).reshape(B, T, D))

    def mlp(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.gelu(self.fc(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm == "pre":
            x = x + self.attention(self.norm1(x))
            return x + self.mlp(self.norm2(x))
        x = self.norm1(x + self.attention(x))
        return self.norm2(x + self.mlp(x))


class TransformerLM(nn.Module):
    """A byte-level GPT: ``(B, T)`` bytes -> ``(B, T, 256)`` logits for the next byte. GPT-2's initialisation.

    ``norm="pre"`` adds a final LayerNorm before the head (as GPT-2); ``"post"`` has its last one in the block.
    """

    def __init__(self, vocab_size: int = 256, context: int = 32, width: int = 32, heads: int = 4, layers: int = 1,
                 norm: str = "pre"):
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("context", context), ("width", width), ("heads", heads),
                            ("layers", layers)):
            check_int(name, value, 1)
        check_choice("norm", norm, NORMS)
        if width % heads:
            raise ValueError(f"width ({width}) must be a multiple of heads ({heads})")
        self.context, self.norm = context, norm
        self.token, self.position = nn.Embedding(vocab_size, width), nn.Embedding(context, width)
        self.blocks = nn.Sequential(*[Block(width, heads, norm) for _ in range(layers)])
        self.final_norm = nn.LayerNorm(width) if norm == "pre" else nn.Identity()
        self.head = nn.Linear(width, vocab_size)
        for name, p in self.named_parameters():
            if p.dim() == 2:  # N(0, 0.02), the residual outputs scaled down by sqrt(2 * layers) (GPT-2)
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("proj.weight", "out.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] > self.context:
            raise ValueError(f"TransformerLM expects bytes shaped (B, T) with T <= context={self.context}, got {tuple(x.shape)}")
        h = self.token(x) + self.position.weight[: x.shape[1]]
        return self.head(self.final_norm(self.blocks(h)))


def make_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float, betas=(0.9, 0.95)):
    """The named optimizer; weight decay applies to the matrices (embeddings included), not to biases or LayerNorm gains."""
    check_choice("optimizer", name, OPTIMIZERS)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas)
    return torch.optim.SGD(groups, lr=lr, momentum=0.9 if name == "momentum" else 0.0)


def make_schedule(name: str | Callable, lr: float, num_steps: int, warmup_steps: int = 0) -> Callable[[int], float]:
    """A ``step -> lr`` schedule by name: constant, cosine (to 0), step (x0.1 at 50% and 75%), linear (to 0).

    ``warmup_steps > 0`` ramps it up linearly from ``lr / warmup_steps`` first (inside the same ``num_steps``).
    A callable is returned as it is.
    """
    if callable(name):
        return name
    check_choice("schedule", name, SCHEDULES)
    check_int("warmup_steps", warmup_steps, 0)
    if warmup_steps >= num_steps:
        raise ValueError(f"warmup_steps ({warmup_steps}) must be shorter than num_steps ({num_steps})")
    rest = num_steps - warmup_steps
    base = {"constant": lambda: schedules.Constant(lr), "cosine": lambda: schedules.Cosine(lr, rest),
            "step": lambda: schedules.MultiStep(lr, [max(1, rest // 2), max(2, rest * 3 // 4)], gamma=0.1),
            "linear": lambda: _Linear(lr, rest)}[name]()
    return schedules.Warmup(base, warmup_steps, start_factor=1 / warmup_steps) if warmup_steps else base


@dataclass
class _Linear:
    lr: float
    total_steps: int

    def __call__(self, step: int) -> float:
        return self.lr * max(0.0, 1 - step / self.total_steps)


def train_text(lr: float = 3e-3, num_steps: int | None = None, *, optimizer: str = "adamw", norm: str = "pre",
               schedule: str | Callable = "constant", warmup_steps: int = 0, grad_clip: float | None = 1.0,
               weight_decay: float = 0.0, seed: int = 0, size: str = "default", steps_per_epoch: int = 50,
               data: TextData | None = None, device=None, **overrides) -> Trainer:
    """Train a :class:`TransformerLM` on the standard library's bytes; return the trainer (``history.epoch`` has
    ``valid_loss`` every ``steps_per_epoch`` updates, ``history.step`` every update's loss and lr).

    ``size`` picks the model and ``num_steps`` (when ``None``) from :data:`SETTINGS`; ``overrides`` change any of
    them (``width``, ``heads``, ``layers``, ``context``, ``batch_size``) or go to :class:`~course_lib.Trainer`
    (``amp="bf16"``, ``callbacks``...). ``seed`` sets the weights and the windows; the text is fixed.
    """
    conf = settings(size)
    conf.update({k: overrides.pop(k) for k in list(overrides) if k in conf})
    lr = check_number("lr", lr, 0, include_low=False)
    num_steps = check_int("num_steps", conf["num_steps"] if num_steps is None else num_steps, 1)
    check_int("steps_per_epoch", steps_per_epoch, 1)
    if num_steps % steps_per_epoch:
        raise ValueError(f"num_steps ({num_steps}) must be a multiple of steps_per_epoch ({steps_per_epoch})")
    check_number("weight_decay", weight_decay, 0)
    check_number("grad_clip", grad_clip, 0, include_low=False, allow_none=True)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    plan = make_schedule(schedule, lr, num_steps, warmup_steps)
    data = data if data is not None else _cached_data(size)
    device = pick_device(device.type if isinstance(device, torch.device) else device)
    seed_everything(seed)
    model = TransformerLM(data.vocab_size, conf["context"], conf["width"], conf["heads"], conf["layers"], norm)
    opt = make_optimizer(optimizer, model, lr, weight_decay)
    options = {"loss_fn": lm_loss, "progress": False, "grad_clip": grad_clip, **overrides}
    trainer = Trainer(model, opt, schedule=plan, device=device, **options)
    train = WindowLoader(data.train, conf["context"], conf["batch_size"], steps_per_epoch, seed, trainer.device)
    valid = validation_batches(data.valid, conf["context"], device=trainer.device)
    trainer.fit(train, valid, num_epochs=num_steps // steps_per_epoch)
    return trainer


_DATA: dict = {}


def _cached_data(size: str) -> TextData:
    key = (size, stdlib_dir())
    if key not in _DATA:
        _DATA[key] = text_data(size)
    return _DATA[key]


@dataclass
class TextRun:
    """One configuration's run: its settings, every step's training loss, the validation loss every ``eval_every`` steps."""

    config: dict
    steps: list[int]
    train_loss: list[float]
    valid_steps: list[int]
    valid_loss: list[float]
    status: str
    seconds: float

    @property
    def best(self) -> tuple[int, float]:
        """(step, validation loss) of the best evaluation: retrospective checkpoint selection."""
        finite = [(v, s) for s, v in zip(self.valid_steps, self.valid_loss) if math.isfinite(v)]
        if not finite:
            return (self.valid_steps[-1] if self.valid_steps else 0, math.nan)
        value, step = min(finite)
        return step, value

    @property
    def final(self) -> float:
        return self.valid_loss[-1] if self.valid_loss else math.nan


def train_text_runs(configs: list[dict], *, size: str = "default", eval_every: int = 50, device=None) -> list[TextRun]:
    """Train each configuration (keyword arguments of :func:`train_text`) and keep its curves as plain data.

    On one CPU thread a loop is as fast as training the members as one batched model (measured in FINDINGS:
    12 members through ``torch.func.vmap`` took 1.5 times as long per member as 12 runs in a row), so this
    trains them one after another. CPU seconds per run are ``time.process_time``.
    """
    if not isinstance(configs, (list, tuple)) or not configs or not all(isinstance(c, dict) for c in configs):
        raise ValueError(f"configs must be a non-empty list of dicts of train_text arguments, got {configs!r}")
    runs = []
    for config in configs:
        start = time.process_time()
        trainer = train_text(**{"size": size, "steps_per_epoch": eval_every, "device": device, **config})
        history = trainer.history
        valid_steps = [int(e) * eval_every for e in history.epoch.get("epoch", [])]
        runs.append(TextRun(dict(config), list(range(history.num_steps)), list(history.step["loss"]), valid_steps,
                            list(history.epoch.get("valid_loss", [])), history.status, time.process_time() - start))
    return runs
