import os

import pytest
import torch

os.environ.setdefault("COURSE_STRICT", "1")
# The tests train tiny models: one thread is as fast as two on a quiet machine and many times faster on
# a busy one (see course_lib.device.one_thread). Notebook kernels are separate processes, unaffected.
torch.set_num_threads(1)


@pytest.fixture
def digits():
    from course_lib import datasets

    return datasets.load_digits_split()


def _widget_cases() -> dict:
    """``benchmarks/widget_cases.CASES``: the control changes per widget that the latency benchmark times."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "widget_cases.py"
    spec = importlib.util.spec_from_file_location("widget_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CASES


WIDGET_CASES = _widget_cases()
