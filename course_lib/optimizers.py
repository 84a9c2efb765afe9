"""The optimizers the course calls by name: one name, one ``torch.optim`` setting, wherever it is used.

``train_digits(optimizer="momentum")`` builds one with :func:`build`; an lr sweep
(:func:`course_lib.lr.sweep.run_sweep`) runs the same update rules for many lrs at once and takes the
same names. "momentum" and "nesterov" are SGD with momentum 0.9.

>>> build("nesterov", [torch.zeros(3, requires_grad=True)], lr=0.1).defaults["nesterov"]
True
"""

from __future__ import annotations

import torch

from .validate import check_choice, check_number

NAMES = ("sgd", "momentum", "nesterov", "adam", "adamw")


def build(name: str, parameters, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """The optimizer ``name`` (one of :data:`NAMES`) over ``parameters``."""
    check_choice("optimizer", name, NAMES)
    check_number("lr", lr, 0, include_low=False)
    check_number("weight_decay", weight_decay, 0)
    if name in ("sgd", "momentum", "nesterov"):
        momentum = 0.0 if name == "sgd" else 0.9
        return torch.optim.SGD(
            parameters, lr=lr, momentum=momentum, nesterov=name == "nesterov", weight_decay=weight_decay
        )
    return (torch.optim.Adam if name == "adam" else torch.optim.AdamW)(parameters, lr=lr, weight_decay=weight_decay)
