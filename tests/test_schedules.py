import math

import pytest
import torch
from torch.optim import lr_scheduler as torch_schedulers

from course_lib.lr import schedules

N = 60


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (
            schedules.StepDecay(0.1, step_size=7, gamma=0.5),
            lambda o: torch_schedulers.StepLR(o, step_size=7, gamma=0.5),
        ),
        (
            schedules.MultiStep(0.1, [10, 25, 40], gamma=0.1),
            lambda o: torch_schedulers.MultiStepLR(o, [10, 25, 40], gamma=0.1),
        ),
        (schedules.Exponential(0.1, gamma=0.95), lambda o: torch_schedulers.ExponentialLR(o, gamma=0.95)),
        (
            schedules.Cosine(0.1, total_steps=N, min_lr=1e-3),
            lambda o: torch_schedulers.CosineAnnealingLR(o, T_max=N, eta_min=1e-3),
        ),
        (
            schedules.CosineRestarts(0.1, period=10, period_mult=2, min_lr=1e-4),
            lambda o: torch_schedulers.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2, eta_min=1e-4),
        ),
        (
            schedules.OneCycle(0.1, total_steps=N),
            lambda o: torch_schedulers.OneCycleLR(o, max_lr=0.1, total_steps=N, cycle_momentum=False),
        ),
        (
            schedules.Warmup(schedules.Cosine(0.1, N - 10), warmup_steps=10, start_factor=0.1),
            lambda o: torch_schedulers.SequentialLR(
                o,
                [
                    torch_schedulers.LinearLR(o, start_factor=0.1, total_iters=10),
                    torch_schedulers.CosineAnnealingLR(o, T_max=N - 10),
                ],
                milestones=[10],
            ),
        ),
    ],
    ids=["step", "multistep", "exponential", "cosine", "restarts", "onecycle", "warmup_cosine"],
)
def test_schedules_match_pytorch_builtins(ours, theirs):
    assert schedules.lr_curve(ours, N) == pytest.approx(schedules.trace(theirs, N, lr=0.1), rel=1e-9, abs=1e-12)


def test_inverse_time_and_warmup_never_start_at_zero():
    assert schedules.lr_curve(schedules.InverseTime(0.1, k=0.5), 3) == pytest.approx([0.1, 0.1 / 1.5, 0.05])
    warm = schedules.warmup_cosine(0.1, warmup_steps=5, total_steps=20)
    assert warm(0) > 0 and warm(5) == pytest.approx(0.1) and warm(19) < warm(5)


def test_as_lambda_lr_drives_every_group_with_its_ratio():
    body, head = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([{"params": [body], "lr": 0.1}, {"params": [head], "lr": 1.0}])
    schedule = schedules.Cosine(0.1, total_steps=10)
    scheduler = schedules.as_lambda_lr(optimizer, schedule)
    for step in range(10):
        assert optimizer.param_groups[0]["lr"] == pytest.approx(schedule(step))
        assert optimizer.param_groups[1]["lr"] == pytest.approx(10 * schedule(step))
        optimizer.step()
        scheduler.step()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: schedules.Constant(0), "lr must be a finite number > 0"),
        (lambda: schedules.Constant(-1e-3), "lr must be"),
        (lambda: schedules.Constant(math.nan), "lr must be"),
        (lambda: schedules.StepDecay(0.1, step_size=0), "step_size"),
        (lambda: schedules.StepDecay(0.1, 5, gamma=1.5), "gamma must be a finite number in"),
        (lambda: schedules.MultiStep(0.1, [30, 10]), "milestones must be strictly increasing"),
        (lambda: schedules.MultiStep(0.1, [10, 10]), "milestones must be strictly increasing"),
        (lambda: schedules.MultiStep(0.1, []), "milestones must be a non-empty"),
        (lambda: schedules.MultiStep(0.1, 5), "milestones must be a non-empty list"),  # was a TypeError
        (lambda: schedules.Cosine(0.1, 10, min_lr="0"), "min_lr must be a finite number in \\[0, 0.1\\)"),  # item 9
        (lambda: schedules.Cosine(0.1, 10, min_lr=0.2), "min_lr"),
        (lambda: schedules.InverseTime(0.1, k=-1), "k must be"),
        (lambda: schedules.OneCycle(0.1, total_steps=1), "total_steps"),
        (lambda: schedules.Warmup(schedules.Constant(0.1), warmup_steps=0), "warmup_steps"),
        (
            lambda: schedules.Warmup(schedules.Constant(0.1), 5, start_factor=0),
            r"start_factor must be a finite number in \(0, 1\]",
        ),
        (lambda: schedules.Warmup("cosine", 5), "schedule must be a step -> lr callable"),
        (
            lambda: schedules.warmup_cosine(0.1, warmup_steps=50, total_steps=20),
            "warmup_steps .50. must be shorter than total_steps .20.",
        ),
        (lambda: schedules.Constant(0.1)(-1), "step must be >= 0"),
        (lambda: schedules.lr_curve(schedules.Constant(0.1), 0), "num_steps"),
    ],
)
def test_bad_schedule_arguments_name_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()
