"""course_lib: the small library behind the Training Strategy course.

The top level holds the few names every notebook uses; the rest is reached by module, one module per
idea the course teaches: ``from course_lib import datasets, schedules, plots``.
"""
from .callbacks import Callback, LambdaCallback
from .device import pick_device, seed_everything
from .early_stopping import EarlyStopping
from .history import History
from .profiles import get_size
from .trainer import Trainer

__all__ = ["Callback", "EarlyStopping", "History", "LambdaCallback", "Trainer", "get_size", "pick_device", "seed_everything"]
__version__ = "0.1.0"
