import os

import pytest
import torch

os.environ.setdefault("COURSE_STRICT", "1")
torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


@pytest.fixture
def digits():
    from course_lib import datasets

    return datasets.load_digits_split()
