import numpy as np
import pytest
from sklearn.metrics import r2_score

from worldprobe.spacetime.metrics import great_circle_km, proximity_error, score
from worldprobe.stats import r2


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


@pytest.mark.parametrize("scale", ["world", "city"])
@pytest.mark.parametrize("swapped", [False, True])
def test_place_proximity_error_is_the_haversine_ordering(scale, swapped):
    """Compared by unit-vector dot products, counted as a haversine for every pair would count them,
    from continents apart down to metres apart (a city's predictions), and for the paper's swapped order."""
    from sklearn.metrics.pairwise import haversine_distances

    rng = np.random.default_rng(1)
    n, spread = 500, (60.0 if scale == "world" else 0.05)
    true = np.c_[rng.uniform(-74.0, -73.9, n), rng.uniform(40.6, 40.8, n)] if scale == "city" else \
        np.c_[rng.uniform(-180, 180, n), rng.uniform(-85, 85, n)]
    pred = true + rng.normal(0, spread, true.shape)
    to_rad = np.radians if swapped else (lambda a: np.radians(a[:, ::-1]))
    d = haversine_distances(to_rad(true), to_rad(pred))
    expected = (d < np.diag(d)[:, None]).sum(1) / (n - 1)
    np.testing.assert_array_equal(proximity_error(true, pred, "place", swapped=swapped), expected)


def test_score_keys_and_perfect_predictions():
    rng = np.random.default_rng(0)
    places = np.c_[rng.uniform(-180, 180, 50), rng.uniform(-80, 80, 50)]
    m = score(places, places, "place", ("longitude", "latitude"))
    assert m.r2 == 1.0 and m.spearman == pytest.approx(1.0) and m.prox_error == 0.0 and m.mae == 0.0
    assert m.mae_unit == "km" and set(m.r2_per_target) == {"longitude", "latitude"}
    assert "prox_error_paper_swapped" in m.model_fields_set
    years = rng.uniform(1500, 2000, 50)
    t = score(years, years[::-1], "time", ("year",))
    assert t.mae_unit == "years" and "prox_error_paper_swapped" not in t.model_fields_set
    assert t.r2 == pytest.approx(r2_score(years, years[::-1]))
    assert t.mae == pytest.approx(np.abs(years - years[::-1]).mean())
    assert score(years, np.full(50, 1800.0), "time", ("year",)).spearman is None  # undefined, not NaN


@pytest.mark.parametrize("kind", ["place", "time"])
def test_stats_r2_is_the_r2_of_score(kind):
    rng = np.random.default_rng(2)
    y = rng.uniform(-60, 60, size=(50, 2 if kind == "place" else 1))
    pred = y + rng.normal(0, 20, size=y.shape)
    targets = ("longitude", "latitude") if kind == "place" else ("year",)
    assert r2(y, pred) == score(y, pred, kind, targets).r2
