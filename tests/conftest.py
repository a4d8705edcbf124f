"""Test tiers (TransformerLens-style): tests/unit, tests/integration, tests/acceptance.

Each test is marked with its tier from its folder, so `pytest -m unit` runs the fast tier alone.
"""

from pathlib import Path

import pytest

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
