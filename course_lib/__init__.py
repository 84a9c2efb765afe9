"""course_lib: the small library behind the Training Strategy course.

The top level holds the few names every notebook uses and the modules that stand alone (``models``,
``metrics``, ``diagnosis``, ``plots``, ``claims``...). The rest is grouped by layer, one module per idea
the course teaches: ``training`` (the loop and its parts), ``lr`` (schedules, sweeps, the lr finder),
``data`` (data and augmentation), ``problems`` (problems with their model and a one-call training
helper) and ``widgets``: ``from course_lib.lr import schedules``.
"""

from .device import pick_device, seed_everything
from .profiles import get_size
from .training.callbacks import Callback, LambdaCallback
from .training.early_stopping import EarlyStopping
from .training.history import History
from .training.trainer import Trainer

__all__ = [
    "Callback",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "Trainer",
    "get_size",
    "pick_device",
    "seed_everything",
]
__version__ = "0.1.0"
