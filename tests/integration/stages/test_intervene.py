"""Stage intervene end to end on a tiny Gemma-3: activations stage, then the causal test, for world and people.

A random tiny model knows nothing, so only the plumbing and the artifacts are checked here: the
saved directions reproduce a probe refitted on the stored activations, the metrics load as their
typed record with every control, size, subset, ablation and side effect beside the probe, and the
sweep tables are complete.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from tests.integration.stages.conftest import run_stage
from tests.tiny_lm import save_tiny_model
from worldprobe.causal.directions import DirectionSet
from worldprobe.causal.outputs import InterventionMetrics
from worldprobe.config import AlphaGrid
from worldprobe.estimators import RidgeLOO, alpha_grid
from worldprobe.lm.models import model_tag
from worldprobe.records import ActivationStore, EntityTableInfo, write_entities

N = 120
COUNTRIES = ["France", "Japan", "Peru", "Chile"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    rng = np.random.default_rng(0)
    model_dir = save_tiny_model(root / "tiny_model", "gemma3")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["model"]["name"] = str(model_dir)
    params["activations"].update(prompts=["main"], control_prompts=["main"], threads=1)
    params["intervention"].update(n_entities=5, ratios=[0.1, 0.5], control_ratios=[0.5], ablation_iterations=[1, 2],
                                  pca_components=4, n_candidates=4, n_boot=100, threads=1)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    for dataset, kind in (("world", "place"), ("people", "time")):
        table = pd.DataFrame({
            "id": [f"{dataset}{i}" for i in range(N)],
            "text": ["".join(rng.choice(list("abcdefghijklmnop"), 6)) for _ in range(N)],
            "entity_type": "x", "popularity": 1.0, "split": np.where(np.arange(N) < 90, "train", "test"),
        })
        if kind == "place":
            table["country"] = rng.choice(COUNTRIES, N)
            table["longitude"], table["latitude"] = rng.uniform(-180, 180, N), rng.uniform(-60, 70, N)
            groups = ("country", "entity_type")
        else:
            table["year"], table["century"] = rng.uniform(1000, 2000, N), 1
            groups = ("century", "entity_type")
        write_entities(root / "data/entities" / f"{dataset}.parquet", table, EntityTableInfo(dataset, kind, groups))
    with pytest.MonkeyPatch.context() as mp:
        for dataset in ("world", "people"):
            run_stage(root, "activations", dataset, mp)
            run_stage(root, "intervene", dataset, mp)
    return root, model_tag(str(model_dir))


@pytest.mark.parametrize("dataset", ["world", "people"])
def test_saved_directions_reproduce_a_probe_fitted_on_the_store(workspace, dataset):
    root, tag = workspace
    directions = DirectionSet.load(root / "data/directions" / dataset / f"{tag}.json")
    store = ActivationStore(root / "data/activations" / dataset / tag / "main")
    table = pd.read_parquet(root / "data/entities" / f"{dataset}.parquet").set_index("id").loc[store.ids]
    train = (table.split == "train").to_numpy()
    d = directions.directions[-1]
    X = np.asarray(store.layer(d.layer))
    probe = RidgeLOO(alpha_grid(AlphaGrid())).fit(X[train], table[d.target].to_numpy()[train])
    np.testing.assert_allclose(d.predict(X), probe.predict(X), rtol=1e-8, atol=1e-6)
    assert d.control is None and d.hook_point == store.meta.layer_names[d.layer]
    assert {x.layer for x in directions.directions} == set(range(store.n_layers))
    assert sorted(p.name for p in (root / "data/directions" / dataset).iterdir()) == [f"{tag}.json"]


@pytest.mark.parametrize("dataset", ["world", "people"])
def test_metrics_put_every_control_size_and_ablation_beside_the_probe(workspace, dataset):
    root, _ = workspace
    m = InterventionMetrics.load(root / "metrics/intervention" / f"{dataset}.json")
    targets = ["latitude", "longitude"] if dataset == "world" else ["year"]
    readouts = ["latitude", "longitude"] if dataset == "world" else ["year", "latitude", "longitude"]  # people: birthplace
    assert m.n_entities == 5 and len(m.entity_ids) == 5 and m.subsets["all"] == 5
    assert m.readout == ("CountryReadout" if dataset == "world" else "CenturyReadout")
    assert m.layers == [1, 3]  # 4 blocks: every other store layer up to the last block's input
    assert m.readings == 5 * len(m.layers) * (len(targets) * 2 * (2 + 2 * 1) + 2 * 2 + 1)
    for s in m.edit_sizes:
        assert s.edit_norm == pytest.approx(s.ratio * s.residual_norm) and s.delta_sd > 0
    assert {(e.kind, e.edited_target, e.readout, e.layer, e.ratio) for e in m.effects if e.subset == "all"} == {
        (k, t, r, layer, ratio) for t in targets for r in readouts for layer in m.layers
        for k, ratios in (("probe", m.ratios), ("random", m.control_ratios), ("orthogonal", m.control_ratios))
        for ratio in ratios}
    assert {(c.subset, c.edited_target, c.layer, c.ratio, c.versus) for c in m.comparisons} == {
        (sub, t, layer, 0.5, v) for sub in m.subsets for t in targets for layer in m.layers for v in ("random", "orthogonal")}
    assert {(s.edited_target, s.layer, s.kind) for s in m.specificity} == {
        (t, layer, k) for t in targets for layer in m.layers for k in ("probe", "random", "orthogonal")}
    assert all(s.kl >= 0 for s in m.specificity)
    dims = {2 * len(targets) // 2 * i for i in (1, 2)}
    assert {(a.subspace, a.dim) for a in m.ablation if a.subset == "all" and a.layer == 1} == {
        *((k, d) for k in ("probe", "random") for d in dims), ("all", max(a.dim for a in m.ablation))}
    assert {(c.layer, c.dim) for c in m.ablation_comparisons if c.subset == "all"} == {(layer, d) for layer in m.layers for d in dims}
    for target in targets:
        table = pd.read_csv(root / "plots/intervention" / dataset / f"{target}.csv")
        assert list(table.layer) == m.layers
        assert set(table) == {"layer", "probe_0.1", "probe_0.5", "random_0.5", "orthogonal_0.5"}
    assert (root / "plots/intervention/figures" / f"{dataset}.png").stat().st_size > 1000
