"""Test tiers (TransformerLens-style): tests/unit, tests/integration, tests/acceptance.

Each test is marked with its tier from its folder, so `pytest -m unit` runs the fast tier alone.
"""

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO.parent / "shared" / "snapshot"


def pytest_collection_modifyitems(items):
    for item in items:
        tier = Path(str(item.fspath)).relative_to(REPO / "tests").parts[0]
        if tier in ("unit", "integration", "acceptance"):
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def snapshot_dir() -> Path:
    if not SNAPSHOT.is_dir():
        pytest.fail(f"the offline snapshot is expected at {SNAPSHOT} (see README)")
    return SNAPSHOT


@pytest.fixture(scope="module")  # module: before the module-scoped fixtures that train a Karel model
def one_torch_thread():
    """Karel tests run torch on one thread: at these sizes two threads only spin and stall on a shared
    machine (a 2 s test took 20 s), and training results depend on the thread count. A test module
    asks for it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
