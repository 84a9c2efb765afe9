import os

import pytest

from course_lib.device import apply_thread_policy

os.environ.setdefault("COURSE_STRICT", "1")
apply_thread_policy()  # the course's one thread policy (course_lib.device.thread_count); kernels apply it themselves


@pytest.fixture
def digits():
    from course_lib.data import datasets

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
