"""Figures as files: matplotlib without a display, and one atomic PNG writer every study's figures go through."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; no display on CI or the pipeline machines

import matplotlib.pyplot as plt  # noqa: E402

from .io import atomic_path  # noqa: E402

DPI = 130


def save_figure(fig: plt.Figure, path: Path, dpi: int = DPI) -> None:
    """Write ``fig`` as a PNG atomically and release it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
