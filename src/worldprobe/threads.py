"""Thread settings: how many BLAS (numpy/scipy) and torch intra-op threads a stage computes with.

Two helpers, fed from params (``activations.threads``, ``probes.threads``, a Karel profile's
``threads``): a block's limit for BLAS and torch together, or torch's count for the rest of a
process that computes with torch alone. On a shared machine fewer threads are often faster (spinning
threads wait for a time slice at every small op), and torch's results can depend on the count in the
last digits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits


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


def set_torch_threads(n: int) -> None:
    """torch's intra-op threads for the rest of the process, for code that computes with torch alone
    and keeps one count throughout (a stage's readout or batched probes, a Ray replica)."""
    torch.set_num_threads(n)
