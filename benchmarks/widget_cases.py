"""The control changes ``widget_latency.py`` times, per widget module: ``{control name: value}`` each.

A case names controls of the module's built ``explorer()`` and values those controls accept as they are
(``tests/test_widget_cases.py`` checks both), so the benchmark times the changes it says it times.
"""
from course_lib.widgets.study_explorer import LATENCY_CASES as STUDY_EXPLORER_CASES  # declared in the module itself

CASES = {
    "activation_explorer": [
        {"x_range": 12.0}, {"temperature": 0.3}, {"a": -3.0}, {"b": 5.0}, {"temperature": 3.0}, {"x_range": 3.0},
        {"temperature": 1.0}, {"a": -1.0},
    ],
    "augmentation_gallery": [
        {"s": 0.5}, {"s": 1.5}, {"photo": "coffee"}, {"seed": 1}, {"s": 2.5}, {"photo": "chelsea"}, {"s": 0.5},
    ],
    "capacity_explorer": [
        {"width": 32}, {"weight_decay": 1.0}, {"dropout": 0.5}, {"train_size": 1079}, {"label_noise": 0.0},
        {"width": 256}, {"train_size": 300}, {"weight_decay": 0.0}, {"width": 32},
    ],
    "early_stopping_explorer": [
        {"patience": 2}, {"patience": 12}, {"min_delta": 0.01}, {"noise": 0.15}, {"seed": 3}, {"patience": 2},
    ],
    "lr_explorer": [
        {"lr": 0.01}, {"lr": 0.3}, {"optimizer": "adam"}, {"lr": 0.001}, {"lr": 3.0}, {"optimizer": "sgd"},
        {"lr": 1.0}, {"lr": 0.1}, {"optimizer": "momentum"}, {"lr": 0.01},
    ],
    "optimizer_paths": [
        {"lr": 0.02}, {"momentum": 0.5}, {"adam_lr": 0.01}, {"lr": 0.12}, {"surface": "rosenbrock"}, {"lr": 0.001},
        {"adam_lr": 0.1}, {"momentum": 0.9}, {"surface": "valley"}, {"lr": 0.08},
    ],
    "plateau_explorer": [
        {"patience": 3}, {"factor": 0.3}, {"threshold": 0.03}, {"threshold_mode": "abs"}, {"cooldown": 4},
        {"threshold_mode": "rel"}, {"patience": 8}, {"cooldown": 0}, {"factor": 0.5}, {"patience": 5},
    ],
    "precision_explorer": [
        {"exponent": -6.0}, {"exponent": -8.5}, {"loss_scale_log2": 8}, {"loss_scale_log2": 24}, {"exponent": 4.9},
        {"exponent": -3.0}, {"loss_scale_log2": 16}, {"exponent": -6.0},
    ],
    "schedule_explorer": [
        {"schedule": "step decay"}, {"step_size": 60}, {"gamma": 0.3}, {"warmup_steps": 50},
        {"schedule": "cosine restarts"}, {"period": 150}, {"schedule": "one-cycle"}, {"pct_start": 0.5},
        {"lr": 0.01}, {"log_y": True}, {"schedule": "step decay"}, {"schedule": "cosine"}, {"num_steps": 800},
    ],
    "study_explorer": [dict(case) for case in STUDY_EXPLORER_CASES],
}
