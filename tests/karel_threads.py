"""Karel tests run torch on one thread: at these sizes two threads only spin and stall on a shared
machine (a 2 s test took 20 s), and training results depend on the thread count."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")  # module: before module-scoped fixtures that train
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
