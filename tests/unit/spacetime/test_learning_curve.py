import numpy as np
import pytest

from tests.fixtures.probe_data import probe_data, write_store
from worldprobe.config import LearningCurveConfig, ProbesConfig
from worldprobe.spacetime.inputs import load_runs
from worldprobe.spacetime.learning_curve import crossing, curve_table, learning_curve, nested_subsamples

CFG = ProbesConfig()


def test_nested_subsamples_are_nested_seeded_train_only_and_skip_sizes_above_the_split():
    data = probe_data(400, seed=1)
    n_train = int(data.train.sum())
    masks = nested_subsamples(data.train, [50, "all", 10, 100, 10_000], seed=3)
    assert [int(m.sum()) for m in masks] == [10, 50, 100, n_train]  # sorted; 10,000 skipped; all = the split
    for small, big in zip(masks, masks[1:]):
        assert not (small & ~big).any()  # every subsample contains the smaller ones
    assert all(not (m & ~data.train).any() for m in masks)  # train rows only
    again = nested_subsamples(data.train, [10, 50, 100, "all"], seed=3)
    assert all((a == b).all() for a, b in zip(masks, again))
    other = nested_subsamples(data.train, [50], seed=4)[0]
    assert (other != masks[1]).any()


def test_crossing_finds_where_the_probe_stays_above():
    ns = [10, 20, 40, 80]
    c = crossing(ns, [0.1, 0.3, 0.5, 0.6], [0.2, 0.25, 0.55, 0.5])
    assert (c.full_n, c.probe_above_at_full_n, c.stays_above_from) == (80, True, 80)  # above at 20, below at 40
    assert c.diff_at_full_n == pytest.approx(0.1)
    assert crossing(ns, [0.3, 0.4, 0.5, 0.6], [0.2, 0.2, 0.2, 0.2]).stays_above_from == 10
    below = crossing(ns, [0.3, 0.4, 0.5, 0.6], [0.2, 0.2, 0.2, 0.7])
    assert (below.probe_above_at_full_n, below.stays_above_from) == (False, None)
    gap = crossing(ns, [0.3, 0.4, 0.5, 0.6], [0.2, 0.2, None, None])  # control measured up to n = 20 only
    assert (gap.full_n, gap.stays_above_from) == (20, 10)
    assert crossing(ns, [None] * 4, [0.1] * 4).full_n is None


def test_curve_rises_with_n_on_a_synthetic_signal_and_the_controls_stay_below(tmp_path):
    """Layer 2 carries the year through 40 noisy features; layers 0-1 and the random-weights store are noise,
    the entity strings carry nothing: the probe's R² grows with n at its chosen layer and beats both controls."""
    n, d = 1200, 40
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(n, d))
    data = probe_data(n, seed=2, year=1700 + 100 * signal[:, :8].sum(1) / np.sqrt(8) + rng.normal(0, 20, n))
    layers = np.stack([rng.normal(size=(n, d)), rng.normal(size=(n, d)), signal]).astype("float32")
    write_store(tmp_path / "tiny" / "main", data.ids, layers)
    write_store(tmp_path / "tiny~random_weights" / "main", data.ids, rng.normal(size=(3, n, d)).astype("float32"),
                control="random_weights")
    data, runs, _ = load_runs(tmp_path, data)
    curve = learning_curve(data, runs, CFG, LearningCurveConfig(sizes=[30, 100, 300, "all"]), seed=0)
    r2 = [p.r2 for p in curve.points]
    assert [p.n_train for p in curve.points] == [30, 100, 300, int(data.train.sum())]
    assert all(b > a for a, b in zip(r2, r2[1:])) and r2[-1] > 0.8
    assert all(p.best_layer == 2 for p in curve.points[1:])
    assert all(p.random_weights_r2 < 0.05 and p.surface_r2 < 0.2 for p in curve.points)
    assert curve.crossings["random_weights"].stays_above_from == 30
    assert curve.crossings["surface"].probe_above_at_full_n
    assert curve.random_weights_model_tag == "tiny~random_weights"
    table = curve_table(curve)
    assert list(table.columns[:4]) == ["n_train", "r2", "surface_r2", "random_weights_r2"]
    assert table["r2"].tolist() == r2


def test_a_random_weights_control_on_a_subsample_trains_on_the_probes_rows_up_to_its_size(tmp_path):
    n, d = 600, 12
    rng = np.random.default_rng(1)
    signal = rng.normal(size=(n, d))
    data = probe_data(n, seed=1, year=1700 + 100 * signal[:, 0] + rng.normal(0, 20, n))
    write_store(tmp_path / "tiny" / "main", data.ids, np.stack([signal, signal]).astype("float32"))
    sub = np.sort(rng.choice(n, 200, replace=False))
    write_store(tmp_path / "tiny~random_weights" / "main", data.ids[sub], rng.normal(size=(2, 200, d)).astype("float32"),
                control="random_weights", subsample=200)
    data, runs, _ = load_runs(tmp_path, data)
    covered = np.isin(data.ids, data.ids[sub])
    masks = nested_subsamples(data.train, [20, 100, "all"], seed=0, first=covered)
    n_first = int((data.train & covered).sum())
    assert not (masks[1] & ~covered).any() and masks[-1].sum() == data.train.sum()  # inside the subsample first
    assert nested_subsamples(data.train, [20, 100], seed=0, first=np.ones(n, bool))[1].tolist() == \
        nested_subsamples(data.train, [20, 100], seed=0)[1].tolist()  # no subsample: the order of old
    curve = learning_curve(data, runs, CFG, LearningCurveConfig(sizes=[20, 100, n_first, "all"]), seed=0)
    rw = [p.random_weights_r2 for p in curve.points]
    assert all(r is not None for r in rw[:3]) and rw[3] is None  # none beyond the subsample
    assert curve.crossings["random_weights"].full_n == n_first
