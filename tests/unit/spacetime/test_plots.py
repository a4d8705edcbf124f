"""PNG figures from predictions of the shape the probes stage writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from worldprobe.spacetime import plots


def _place_predictions(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(-120, -70, n), rng.uniform(26, 48, n)
    return pd.DataFrame({"id": range(n), "text": "x", "longitude": lon, "latitude": lat,
                         "pred_longitude": lon + rng.normal(0, 3, n), "pred_latitude": lat + rng.normal(0, 2, n)})


@pytest.mark.parametrize("outline", ["world", "us", "nyc"])
def test_place_map_writes_a_readable_png(tmp_path, snapshot_dir, outline):
    path = tmp_path / f"map_{outline}.png"
    plots.place_map(_place_predictions(), outline, snapshot_dir / "shapes", "title", path)
    image = imread(path)
    assert image.shape[0] > 300 and image.shape[1] > 300
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_wild_predictions_stay_on_the_world_map(tmp_path, snapshot_dir):
    frame = _place_predictions()
    frame.loc[0, ["pred_longitude", "pred_latitude"]] = (400.0, -150.0)  # a ridge can predict off the globe
    plots.place_map(frame, "world", snapshot_dir / "shapes", "title", tmp_path / "w.png")
    assert (tmp_path / "w.png").stat().st_size > 0


def test_us_map_counts_what_falls_outside_the_frame():
    frame = _place_predictions()
    frame.loc[:2, ["longitude", "latitude"]] = (-150.0, 61.0)  # Alaska
    true_xy = frame[["longitude", "latitude"]].to_numpy()
    assert plots._outside(true_xy, plots.US_FRAME) == 3


def test_missing_outlines_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="cb_2018_us_state_20m.shp: US state outlines not found"):
        plots.place_map(_place_predictions(), "us", tmp_path, "title", tmp_path / "m.png")


def test_year_scatter_and_depth_grid(tmp_path):
    rng = np.random.default_rng(0)
    year = rng.uniform(1900, 2000, 100)
    plots.year_scatter(pd.DataFrame({"year": year, "pred_year": year + rng.normal(0, 10, 100)}), "t", tmp_path / "y.png")
    depth = pd.DataFrame({"layer": range(4), "rel_depth": np.arange(4) / 3, "main": [0.1, 0.4, 0.6, 0.6],
                          "random_weights": [0.0, 0.1, 0.1, 0.1], "surface": 0.3, "layer0": 0.1})
    plots.depth_grid({"a": depth, "b": depth.assign(main=np.nan)}, "m", tmp_path / "d.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.png", "y.png"]
    assert all(p.stat().st_size > 10_000 for p in tmp_path.iterdir())


def test_outline_follows_the_dataset():
    assert [plots.outline_for(d) for d in ("world", "us", "nyc", "my_cities")] == ["world", "us", "nyc", "world"]
