import numpy as np
import pandas as pd
import pytest

from worldprobe.io import atomic_path, read_json, write_json
from worldprobe.records import (
    ActivationMeta,
    ActivationStore,
    ActivationWriter,
    EntityTableInfo,
    StoreError,
    read_entities,
    write_entities,
)


def _table():
    return pd.DataFrame(
        {
            "id": ["a", "b"],
            "text": ["Paris", "Berlin"],
            "entity_type": ["city", "city"],
            "popularity": [1.0, 2.0],
            "split": ["train", "test"],
            "longitude": [2.35, 13.4],
            "latitude": [48.85, 52.52],
            "country": ["France", "Germany"],
        }
    )


def test_entity_table_round_trip(tmp_path):
    info = EntityTableInfo("world", "place", groups=("country", "entity_type"))
    write_entities(tmp_path / "e.parquet", _table(), info)
    table, read_info = read_entities(tmp_path / "e.parquet")
    assert read_info == info
    pd.testing.assert_frame_equal(table, _table())


def test_entity_table_rejects_missing_columns_and_bad_splits(tmp_path):
    info = EntityTableInfo("world", "place", groups=("country",))
    with pytest.raises(StoreError, match="lacks columns"):
        write_entities(tmp_path / "e.parquet", _table().drop(columns="latitude"), info)
    with pytest.raises(StoreError, match="split values"):
        write_entities(tmp_path / "e.parquet", _table().assign(split=["train", "val"]), info)
    assert not (tmp_path / "e.parquet").exists()


def _meta(n, d, layers):
    return ActivationMeta("tiny", "h", None, "world", "main", "{text}", layers, d, n, "float32")


def test_activation_store_round_trip_any_row_order(tmp_path):
    ids = np.array(["a", "b", "c"])
    acts = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    with ActivationWriter(tmp_path / "s", ids, n_layers=2, d_model=4) as writer:
        writer.write(np.array([2, 0]), acts[:, [2, 0]])
        writer.write(np.array([1]), acts[:, [1]])
        writer.close(_meta(3, 4, 2))
    store = ActivationStore(tmp_path / "s")
    assert list(store.ids) == ["a", "b", "c"]
    np.testing.assert_array_equal(store.layer(1), acts[1])


def test_interrupted_writer_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with ActivationWriter(tmp_path / "s", np.array(["a"]), 1, 2) as writer:
            writer.write(np.array([0]), np.zeros((1, 1, 2), "float32"))
            raise RuntimeError("killed")
    with pytest.raises(StoreError, match="without close"):
        with ActivationWriter(tmp_path / "s", np.array(["a"]), 1, 2):
            pass
    assert list(tmp_path.iterdir()) == []


def test_unwritten_rows_are_refused(tmp_path):
    with pytest.raises(StoreError, match="1 entities were never written"):
        with ActivationWriter(tmp_path / "s", np.array(["a", "b"]), 1, 2) as writer:
            writer.write(np.array([0]), np.zeros((1, 1, 2), "float32"))
            writer.close(_meta(2, 2, 1))


def test_corrupt_stores_are_detected(tmp_path):
    with ActivationWriter(tmp_path / "s", np.array(["a", "b"]), 1, 2) as writer:
        writer.write(np.array([0, 1]), np.ones((1, 2, 2), "float32"))
        writer.close(_meta(2, 2, 1))
    layer = tmp_path / "s" / "layer_00.npy"
    layer.write_bytes(layer.read_bytes()[:-4])
    with pytest.raises(StoreError, match="unreadable or truncated"):
        ActivationStore(tmp_path / "s").layer(0)
    np.save(layer, np.ones((2, 3), "float32"))
    with pytest.raises(StoreError, match=r"shape \(2, 3\), expected \(2, 2\)"):
        ActivationStore(tmp_path / "s").layer(0)
    (tmp_path / "s" / "meta.json").unlink()
    with pytest.raises(StoreError, match="incomplete activation store"):
        ActivationStore(tmp_path / "s")


def test_atomic_json(tmp_path):
    write_json(tmp_path / "m.json", {"b": 1, "a": 2})
    assert read_json(tmp_path / "m.json") == {"a": 2, "b": 1}
    with pytest.raises(ValueError):
        write_json(tmp_path / "n.json", {"x": float("nan")})
    assert not (tmp_path / "n.json").exists()
    with pytest.raises(KeyError):
        with atomic_path(tmp_path / "d", directory=True) as tmp:
            (tmp / "f").write_text("partial")
            raise KeyError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def test_atomic_outputs_get_ordinary_permissions(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        write_json(tmp_path / "m.json", {})
        with atomic_path(tmp_path / "d", directory=True):
            pass
    finally:
        os.umask(umask)
    assert (tmp_path / "m.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
