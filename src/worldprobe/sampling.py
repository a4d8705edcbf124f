"""Seeded draws shared by the stages: per-dataset seeds, and subsamples that keep a split's proportions."""

from __future__ import annotations

import zlib

import pandas as pd
from sklearn.model_selection import train_test_split


def derived_seed(seed: int, dataset: str, purpose: str) -> int:
    """A stable per-dataset, per-purpose seed (Python's ``hash`` is salted per process, crc32 is not)."""
    return zlib.crc32(f"{seed}:{dataset}:{purpose}".encode())


def subsample(split: pd.Series, max_entities: int | None, seed: int) -> pd.Index:
    """Rows dropped to reach ``max_entities``, drawn so that the train/test proportions are kept."""
    if max_entities is None or len(split) <= max_entities:
        return split.index[:0]
    counts = split.value_counts()
    stratify = split if (counts >= 2).all() and len(counts) > 1 else None
    _, dropped = train_test_split(split.index, train_size=max_entities, stratify=stratify, random_state=seed)
    return pd.Index(dropped)
