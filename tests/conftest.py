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
