"""A dataset of the user's own (``source: file``): a CSV/TSV or Parquet file copied into raw as is.

CSV cells are kept as text like the snapshot's (the build stage parses them); a Parquet file keeps
its own column types. The columns named in the dataset's ``columns`` mapping must exist, checked
here so that a typo fails at ``pull`` with the file's real columns listed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..config import DatasetConfig
from .snapshot import read_text_table

READERS = {".csv": ",", ".tsv": "\t", ".txt": ","}
# the pull stages depend on this folder, so DVC reruns them when a user's file changes
OWN_DATA_DIR = Path("data/own")


class UserFileError(ValueError):
    """The user's own dataset file is missing, of an unknown format, or lacks a mapped column."""


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".zip", ".xz", ".zst"):
        suffixes = suffixes[:-1]  # pandas decompresses by the last suffix
    return suffixes[-1] if suffixes else ""


def require_tracked(name: str, dataset: DatasetConfig) -> None:
    """A pipeline's own-file dataset must lie under ``data/own/``, the folder ``pull`` depends on."""
    path = Path(dataset.path)
    if path.is_absolute() or OWN_DATA_DIR not in path.parents:
        raise UserFileError(
            f"data.datasets.{name}.path: {path} is outside {OWN_DATA_DIR}/; put your file there "
            f"(git add or dvc add it) so that `dvc repro` notices when it changes"
        )


def read_user_file(name: str, dataset: DatasetConfig) -> pd.DataFrame:
    path = Path(dataset.path)
    if not path.is_file():
        raise UserFileError(f"data.datasets.{name}.path: no such file {path} (relative paths start at the repository root)")
    suffix = _suffix(path)
    if suffix == ".parquet":
        table = pd.read_parquet(path)
    elif suffix in READERS:
        table = read_text_table(path, READERS[suffix])
    else:
        raise UserFileError(f"data.datasets.{name}.path: {path} is neither CSV/TSV (optionally compressed) nor Parquet")
    mapped = {role: col for role, col in dataset.columns.model_dump().items() if col and role != "groups"}
    mapped.update({f"groups[{i}]": col for i, col in enumerate(dataset.columns.groups)})
    absent = {role: col for role, col in mapped.items() if col not in table.columns}
    if absent:
        wrong = ", ".join(f"{role}: {col!r}" for role, col in absent.items())
        raise UserFileError(
            f"data.datasets.{name}.columns names columns missing from {path}: {wrong}; "
            f"the file has {', '.join(map(str, table.columns))}"
        )
    if table.empty:
        raise UserFileError(f"data.datasets.{name}.path: {path} has no rows")
    return table
