"""Thread settings: how many BLAS (numpy/scipy) and torch intra-op threads a stage computes with.

One helper, fed from params (``activations.threads``, ``probes.threads``, a Karel profile's
``threads``). On a shared machine fewer threads are often faster (spinning threads wait for a time
slice at every small op), and torch's results can depend on the count in the last digits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits


def set_torch_threads(n: int) -> None:
    """Torch intra-op threads for the rest of the process (a Ray replica's whole life)."""
    torch.set_num_threads(n)


@contextmanager
def compute_threads(n: int | None) -> Iterator[None]:
    """Limit BLAS (numpy/scipy) and torch intra-op threads to ``n`` inside the block (None: no limit)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(n):
            yield
    finally:
        torch.set_num_threads(before)
