"""The small typed records that stages hand to each other.

* **Entity table** (``data/entities/<dataset>.parquet``): one row per entity with the columns
  ``id, text, entity_type, popularity, split`` plus the targets (``longitude, latitude`` for places,
  ``year`` for time) and the dataset's group columns for holdouts. :class:`EntityTableInfo` travels
  in the parquet file's metadata and says which columns are which.
* **Activation store** (``data/activations/<dataset>/<model>/<prompt>/``): ``layer_00.npy`` …
  ``layer_NN.npy``, each an ``(n_entities, d_model)`` array (layer 0 = embedding output, layer i =
  residual stream after block i, at the last entity token), ``ids.npy`` (entity ids, same order)
  and ``meta.json`` (:class:`ActivationMeta`). ``meta.json`` is written last: a directory without it
  is incomplete and is refused.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .io import Output, atomic_path

PLACE_TARGETS = ("longitude", "latitude")  # the paper's order
TIME_TARGETS = ("year",)
BASE_COLUMNS = ("id", "text", "entity_type", "popularity", "split")
SPLITS = ("train", "test")
_INFO_KEY = b"worldprobe"


class StoreError(ValueError):
    """An entity table or activation store on disk is missing, incomplete or inconsistent."""


@dataclass(frozen=True)
class EntityTableInfo:
    dataset: str
    kind: Literal["place", "time"]
    groups: tuple[str, ...] = ()  # columns usable as holdout blocks, e.g. ("country", "entity_type")
    target_note: str = ""  # e.g. "birth year (Pantheon), not the paper's death year"

    @property
    def targets(self) -> tuple[str, ...]:
        return PLACE_TARGETS if self.kind == "place" else TIME_TARGETS

    @property
    def columns(self) -> tuple[str, ...]:
        return BASE_COLUMNS + self.targets + tuple(g for g in self.groups if g not in BASE_COLUMNS)


def write_entities(path: str | Path, table: pd.DataFrame, info: EntityTableInfo) -> None:
    missing = [c for c in info.columns if c not in table.columns]
    if missing:
        raise StoreError(f"entity table for {info.dataset} lacks columns {missing}")
    bad_split = set(table["split"].unique()) - set(SPLITS)
    if bad_split:
        raise StoreError(f"entity table for {info.dataset} has split values {sorted(bad_split)}")
    if table["id"].duplicated().any():
        raise StoreError(f"entity table for {info.dataset} has duplicate ids")
    arrow = pa.Table.from_pandas(table.reset_index(drop=True), preserve_index=False)
    meta = dict(arrow.schema.metadata or {})
    meta[_INFO_KEY] = json.dumps(asdict(info)).encode()
    with atomic_path(path) as tmp:
        pq.write_table(arrow.replace_schema_metadata(meta), tmp)


def read_entities(path: str | Path) -> tuple[pd.DataFrame, EntityTableInfo]:
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: no entity table (run the build stage first)")
    arrow = pq.read_table(path)
    raw = (arrow.schema.metadata or {}).get(_INFO_KEY)
    if raw is None:
        raise StoreError(f"{path}: not an entity table written by worldprobe (no table info)")
    info = json.loads(raw)
    info["groups"] = tuple(info["groups"])
    return arrow.to_pandas(), EntityTableInfo(**info)


@dataclass(frozen=True)
class ActivationMeta:
    model: str  # registry name, HF id or path
    model_hash: str  # hash of the weights actually used (distinguishes the random-weights control)
    control: str | None  # None for the real model, "random_weights" for its seeded re-initialisation
    dataset: str
    prompt: str  # prompt variant name
    prompt_template: str  # e.g. "<bos>What are the lat/lon coordinates of {text}"
    n_layers: int  # number of stored layers, embedding output included
    d_model: int
    n_entities: int
    dtype: str  # storage dtype
    # weights and matmuls (model.dtype resolved; bfloat16 stores still hold float32 residuals);
    # None: a store written before this was recorded (the committed float32 run)
    compute_dtype: str | None = None
    position: str = "last entity token"
    layer_names: tuple[str, ...] = field(default=())  # e.g. ("embed", "blocks.0.resid_post", ...)
    seed: int = 0
    subsample: int | None = None  # a prompt variant: drawn down to this many entities (seeded); None = every entity
    extra: dict = field(default_factory=dict)


class ActivationStore:
    """Read-only, memory-mapped view of one (dataset, model, prompt) activation directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        meta_path = self.path / "meta.json"
        if not meta_path.is_file():
            raise StoreError(f"{self.path}: incomplete activation store (no meta.json); rerun the activations stage")
        raw = json.loads(meta_path.read_text())
        raw["layer_names"] = tuple(raw.get("layer_names", ()))
        self.meta = ActivationMeta(**raw)
        self.ids = np.load(self.path / "ids.npy", allow_pickle=False)
        if len(self.ids) != self.meta.n_entities:
            raise StoreError(f"{self.path}: {len(self.ids)} ids but meta says {self.meta.n_entities} entities")

    @property
    def n_layers(self) -> int:
        return self.meta.n_layers

    def layer(self, index: int) -> np.ndarray:
        """The ``(n_entities, d_model)`` array of one layer, memory-mapped; shape checked against the meta."""
        if not 0 <= index < self.n_layers:
            raise StoreError(f"{self.path}: layer {index} out of range 0..{self.n_layers - 1}")
        file = self.path / f"layer_{index:02d}.npy"
        try:
            array = np.load(file, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise StoreError(f"{file}: unreadable or truncated ({exc})") from None
        expected = (self.meta.n_entities, self.meta.d_model)
        if array.shape != expected:
            raise StoreError(f"{file}: shape {array.shape}, expected {expected}")
        return array


class ActivationWriter:
    """Streams rows into per-layer ``.npy`` memmaps; the directory appears at ``path`` only on :meth:`close`.

    Use as a context manager; rows may arrive in any order (length-sorted batches) via :meth:`write`.
    """

    def __init__(self, path: str | Path, ids: np.ndarray, n_layers: int, d_model: int, dtype: str = "float32"):
        self.path = Path(path)
        self.ids = np.asarray(ids)
        self.n_layers, self.d_model, self.dtype = n_layers, d_model, dtype
        self._written = np.zeros(len(self.ids), dtype=bool)
        self._ctx = atomic_path(self.path, directory=True)

    def __enter__(self) -> ActivationWriter:
        self._tmp = self._ctx.__enter__()
        shape = (len(self.ids), self.d_model)
        self._layers = [
            np.lib.format.open_memmap(self._tmp / f"layer_{i:02d}.npy", mode="w+", dtype=self.dtype, shape=shape)
            for i in range(self.n_layers)
        ]
        np.save(self._tmp / "ids.npy", self.ids.astype(str), allow_pickle=False)
        return self

    def write(self, rows: np.ndarray, layers: np.ndarray) -> None:
        """``layers``: ``(n_layers, len(rows), d_model)`` activations for entity positions ``rows``."""
        if layers.shape != (self.n_layers, len(rows), self.d_model):
            raise StoreError(f"expected activations of shape {(self.n_layers, len(rows), self.d_model)}, got {layers.shape}")
        for array, values in zip(self._layers, layers):
            array[rows] = values
        self._written[rows] = True

    def close(self, meta: ActivationMeta) -> None:
        if not self._written.all():
            raise StoreError(f"{self.path}: {int((~self._written).sum())} entities were never written")
        for array in self._layers:
            array.flush()
        del self._layers
        (self._tmp / "meta.json").write_text(json.dumps(asdict(meta), indent=2))

    def __exit__(self, exc_type, exc, tb) -> bool | None:
        if exc_type is None and hasattr(self, "_layers"):
            unfinished = StoreError(f"{self.path}: ActivationWriter left without close(meta)")
            self._ctx.__exit__(StoreError, unfinished, None)  # discards the temporary directory
            raise unfinished
        return self._ctx.__exit__(exc_type, exc, tb)


# --------------------------------------------------------------------------- familiarity labels


def read_labels(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no familiarity labels (run the familiarity stage first)")
    labels = pd.read_parquet(path)
    labels["id"] = labels["id"].astype(str)
    return labels


def known_flags(ids: np.ndarray, labels: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(labelled, known) masks aligned to ``ids``; unlabelled entities are neither."""
    flag = pd.Series(labels["known"].to_numpy(bool), index=labels["id"]).reindex(ids)
    labelled = flag.notna().to_numpy()
    return labelled, labelled & flag.fillna(False).to_numpy(bool)


def write_labels(path: str | Path, labels: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        labels.to_parquet(tmp, index=False)


# --------------------------------------------------------------------------- build report


class RowsOut(Output):
    train: int
    test: int
    total: int


class PopularityReport(Output):
    source: str | None
    min_popularity: float
    missing_in_output: int


class DataReport(Output):
    """Counts of one build: ``rows_in`` always equals the removals plus ``rows_out.total``."""

    dataset: str
    kind: Literal["place", "time"]
    target: str
    rows_in: int
    rejected: dict[str, int]  # by reason, every reason listed
    rejected_total: int
    duplicates_removed: int
    filtered: dict[str, int]  # by filter rule, every rule listed
    filtered_total: int
    subsampled: int
    rows_out: RowsOut
    split_rule: str
    popularity: PopularityReport
    groups: list[str]


class DroppedEntities(Output):
    n_dropped: int
    by_store: dict[str, int]
    examples: list[str]
