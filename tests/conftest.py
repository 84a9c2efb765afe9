import os

import pytest

from course_lib.device import apply_thread_policy

os.environ.setdefault("COURSE_STRICT", "1")
apply_thread_policy()  # the course's one thread policy (course_lib.device.thread_count); kernels apply it themselves


@pytest.fixture
def digits():
    from course_lib.data import datasets

    return datasets.load_digits_split()
