import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.decomposition import PCA
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

from worldprobe.config import ProbesConfig
from worldprobe.evaluation import (
    ProbeData,
    cross_prompt,
    fit_linear,
    great_circle_km,
    holdout,
    load_runs,
    pca_curve,
    proximity_error,
    score,
    spearman_columns,
    surface_control,
)
from worldprobe.probes import alpha_grid
from worldprobe.records import ActivationMeta, ActivationWriter, EntityTableInfo, StoreError

CFG = ProbesConfig()


def test_great_circle_reads_lon_lat_columns():
    paris, new_york = [2.3522, 48.8566], [-74.0060, 40.7128]
    assert great_circle_km(np.array([paris]), np.array([new_york]))[0] == pytest.approx(5837, abs=5)
    # lon 0 and lon 180 at lat 60: 60 degrees apart over the pole, not the 180 degrees that
    # reading the columns as [lat, lon] would give
    d = great_circle_km(np.array([[0.0, 60.0]]), np.array([[180.0, 60.0]]))[0]
    assert d == pytest.approx(60 / 360 * 2 * np.pi * 6371.0088, rel=1e-9)


def test_proximity_error_time_by_hand():
    true, pred = np.array([0.0, 10.0, 20.0]), np.array([0.0, 14.0, 11.0])
    # 0: exact -> nobody closer. 1: own error 4, prediction 11 is 1 from 10 -> 1 of 2.
    # 2: own error 9, prediction 14 is 6 from 20 -> 1 of 2.
    np.testing.assert_allclose(proximity_error(true, pred, "time"), [0.0, 0.5, 0.5])
    np.testing.assert_allclose(proximity_error(true, pred, "time", among=np.array([False, True, True])), [0.5, 0.5])


def test_proximity_error_place_by_hand_and_the_papers_swapped_order():
    # [lon, lat]. Entity 0 at (0, 80) is predicted at (90, 80): 1,568 km away on the sphere; entity 1's
    # prediction (0, 65) is 15 degrees = 1,668 km from it, farther -> error 0. Read as [lat, lon]
    # (the paper's code), the own prediction is 90 "degrees" off and the other only 15 -> error 1.
    true = np.array([[0.0, 80.0], [0.0, 65.0]])
    pred = np.array([[90.0, 80.0], [0.0, 65.0]])
    own = great_circle_km(true[:1], pred[:1])[0]
    other = great_circle_km(true[:1], pred[1:])[0]
    assert own == pytest.approx(1568, abs=2) and other == pytest.approx(1668, abs=2)
    np.testing.assert_array_equal(proximity_error(true, pred, "place"), [0.0, 0.0])
    np.testing.assert_array_equal(proximity_error(true, pred, "place", swapped=True), [1.0, 0.0])


def test_score_keys_and_perfect_predictions():
    rng = np.random.default_rng(0)
    places = np.c_[rng.uniform(-180, 180, 50), rng.uniform(-80, 80, 50)]
    m = score(places, places, "place", ("longitude", "latitude"))
    assert m["r2"] == 1.0 and m["spearman"] == pytest.approx(1.0) and m["prox_error"] == 0.0 and m["mae"] == 0.0
    assert m["mae_unit"] == "km" and set(m["r2_per_target"]) == {"longitude", "latitude"}
    assert "prox_error_paper_swapped" in m
    years = rng.uniform(1500, 2000, 50)
    t = score(years, years[::-1], "time", ("year",))
    assert t["mae_unit"] == "years" and "prox_error_paper_swapped" not in t
    assert t["r2"] == pytest.approx(r2_score(years, years[::-1]))
    assert t["mae"] == pytest.approx(np.abs(years - years[::-1]).mean())
    assert score(years, np.full(50, 1800.0), "time", ("year",))["spearman"] is None  # undefined, not NaN


def test_spearman_columns_equals_scipy():
    rng = np.random.default_rng(1)
    A, y = rng.normal(size=(40, 5)), rng.normal(size=40)
    A[:, 1] = np.round(A[:, 1])  # ties
    expected = [spearmanr(A[:, j], y).statistic for j in range(5)]
    np.testing.assert_allclose(spearman_columns(A, y), expected, rtol=1e-12)


def _data(n=400, kind="time", seed=0, groups=("block",), **columns):
    rng = np.random.default_rng(seed)
    split = np.where(rng.random(n) < 0.75, "train", "test")
    table = pd.DataFrame({"id": [f"e{i}" for i in range(n)], "text": [f"entity {i}" for i in range(n)],
                          "entity_type": "thing", "popularity": 1.0, "split": split})
    if kind == "time":
        table["year"] = rng.uniform(1500, 2000, n)
    else:
        table["longitude"], table["latitude"] = rng.uniform(-180, 180, n), rng.uniform(-60, 60, n)
    for k, v in columns.items():
        table[k] = v
    info = EntityTableInfo("synthetic", kind, groups=groups)
    return ProbeData.from_table(table, info)


def test_holdout_never_trains_on_the_held_out_group():
    """One-hot group features, group 0 the all-zero reference: a probe that saw any training row of
    group g learns g's offset; one that did not predicts group 0's year for it, >= 100 years off."""
    n = 600
    block = np.r_[np.zeros(60, int), np.arange(n - 60) % 4 + 1]
    data = _data(n, block=block, year=1500 + 100 * block + np.random.default_rng(1).normal(0, 1, n))
    X = np.eye(5)[block][:, 1:]
    default = fit_linear(X, data, CFG).predict(X[data.test])[:, None]
    summary, rows = holdout(X, data, CFG.model_copy(update={"holdout_blocks": 3}), "block", default)
    assert len(rows) == 3 and "0" not in {r["group"] for r in rows}  # the K largest groups only
    for row in rows:
        group = int(row["group"])
        assert row["mae_default"] < 5
        assert row["mae_heldout"] == pytest.approx(100 * group, abs=5)
        assert row["prox_error_heldout"] > row["prox_error_default"]
        assert row["n_train_removed"] == int((data.train & (block == group)).sum())
        assert row["n_test"] == int((data.test & (block == group)).sum())
    assert summary["mean_prox_error_heldout"] == pytest.approx(np.mean([r["prox_error_heldout"] for r in rows]))


def test_holdout_skips_small_groups_and_missing_columns():
    n = 400
    group = np.where(np.arange(n) < 390, "big", "tiny").astype(object)
    group[:200] = "other"
    data = _data(n, seed=3, block=group)
    X = np.random.default_rng(0).normal(size=(n, 3))
    default = fit_linear(X, data, CFG).predict(X[data.test])[:, None]
    summary, rows = holdout(X, data, CFG, "block", default)
    assert {r["group"] for r in rows} == {"big", "other"}
    n_tiny = int((data.test & (group == "tiny")).sum())
    assert 0 < n_tiny < CFG.min_holdout_test  # (this seed's split)
    assert (summary["n_groups"], summary["n_eligible"], summary["min_test"]) == (3, 2, CFG.min_holdout_test)
    missing, no_rows = holdout(X, data, CFG, "country", default)
    assert no_rows == [] and "no group column 'country'" in missing["skipped_reason"]


def test_pca_curve_equals_sklearn_pca_then_ridgecv():
    n, d = 500, 30
    rng = np.random.default_rng(4)
    latent = rng.normal(size=(n, 3))
    X = latent @ rng.normal(size=(3, d)) * 3 + rng.normal(size=(n, d))
    data = _data(n, seed=4, year=1700 + 50 * latent[:, 0] + rng.normal(0, 5, n))
    cfg = CFG.model_copy(update={"pca_components": [1, 2, 3, 10, 30, 100]})
    full = score(data.y[data.test], fit_linear(X, data, cfg).predict(X[data.test]), "time", ("year",))
    curve = pca_curve(X, data, cfg, seed=0, full=full, full_edge=False)
    assert [c["k"] for c in curve] == [1, 2, 3, 10, "full"]  # k >= d is skipped
    # independent reference for k = 2
    mean, std = X[data.train].mean(0), X[data.train].std(0)
    pca = PCA(2).fit((X[data.train] - mean) / std)
    y_mean, y_std = data.y[data.train].mean(0), data.y[data.train].std(0)
    ridge = RidgeCV(alphas=alpha_grid(cfg.alphas)).fit(pca.transform((X[data.train] - mean) / std),
                                                        (data.y[data.train, 0] - y_mean) / y_std)
    pred = ridge.predict(pca.transform((X[data.test] - mean) / std)) * y_std + y_mean
    assert curve[1]["r2"] == pytest.approx(r2_score(data.y[data.test, 0], pred), abs=1e-9)
    assert curve[1]["explained_variance"] == pytest.approx(pca.explained_variance_ratio_.sum())
    assert curve[-1]["r2"] == full["r2"] and curve[2]["r2"] > 0.9 > curve[0]["r2"] - 0.5


def test_surface_control_reads_the_entity_string_only():
    n = 400
    rng = np.random.default_rng(5)
    stems = ["".join(rng.choice(list("abcdefghij"), 6)) for _ in range(n)]
    east = rng.random(n) < 0.5
    text = [s + ("ville" if e else "burg") for s, e in zip(stems, east)]
    data = _data(n, kind="place", seed=5, text=text, longitude=np.where(east, 60.0, -60.0) + rng.normal(0, 5, n))
    informed = surface_control(data, CFG)
    assert informed["r2_per_target"]["longitude"] > 0.9
    assert informed["r2_per_target"]["latitude"] < 0.05  # random latitudes: nothing in the string
    assert informed["n_features"] > 0 and set(informed["alpha"]) == {"longitude", "latitude"}


def _store(path, ids, layers, prompt="main", control=None):
    n_layers, n, d = layers.shape
    with ActivationWriter(path, np.asarray(ids), n_layers, d) as w:
        w.write(np.arange(n), layers)
        w.close(ActivationMeta("tiny", "h", control, "synthetic", prompt, "{text}", n_layers, d, n, "float32"))


def test_load_runs_drops_and_reports_entities_without_activations(tmp_path):
    data = _data(60)
    acts = np.random.default_rng(0).normal(size=(2, 60, 4)).astype("float32")
    _store(tmp_path / "tiny" / "main", data.ids, acts)
    _store(tmp_path / "tiny" / "empty", data.ids[::-1][:58], acts[:, ::-1][:, :58], prompt="empty")
    kept, runs, report = load_runs(tmp_path, data)
    assert report["n_dropped"] == 2 and report["by_store"] == {"tiny/empty": 2}
    assert sorted(report["examples"]) == ["e0", "e1"]
    assert len(kept.ids) == 58 and [r.prompt for r in runs] == ["empty", "main"]
    for run in runs:  # rows aligned to the table whatever the store's order
        np.testing.assert_array_equal(run.layer(1), acts[1, 2:])
    _store(tmp_path / "other" / "main", np.r_[data.ids, ["stranger"]], np.zeros((2, 61, 4), "float32"))
    with pytest.raises(StoreError, match="1 stored ids are not in the entity table"):
        load_runs(tmp_path, data)
    with pytest.raises(StoreError, match="no activation stores"):
        load_runs(tmp_path / "nothing", data)


def test_cross_prompt_centring_removes_a_constant_prompt_offset(tmp_path):
    n, d = 300, 8
    rng = np.random.default_rng(6)
    X = rng.normal(size=(n, d))
    data = _data(n, seed=6, year=1700 + 80 * X[:, 0] + rng.normal(0, 5, n))
    layers = np.stack([X, X]).astype("float32")
    _store(tmp_path / "tiny" / "main", data.ids, layers)
    _store(tmp_path / "tiny" / "empty", data.ids, layers + 5.0, prompt="empty")  # same geometry, shifted
    data, runs, _ = load_runs(tmp_path, data)
    main = next(r for r in runs if r.prompt == "main")
    rows = {(r["train_prompt"], r["test_prompt"], r["variant"]): r for r in cross_prompt(runs, main, 1, data, CFG)["rows"]}
    own = rows["main", "main", "raw"]["r2"]
    assert own > 0.9
    assert rows["main", "empty", "raw"]["r2"] < own - 0.5  # the offset ruins the raw transfer
    assert rows["main", "empty", "centred"]["r2"] == pytest.approx(own, abs=1e-4)
