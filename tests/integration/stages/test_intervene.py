"""Stage intervene end to end on a tiny Gemma-3: activations stage, then the causal test, for world and people.

A random tiny model knows nothing, so only the plumbing and the artifacts are checked here: the
saved directions reproduce a probe refitted on the stored activations, the metrics load as their
typed record with every control beside the probe, and the dose-response tables are complete.
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
    params["intervention"].update(n_entities=5, deltas=[-2, 2], control_deltas=[2], n_random=2, layer_offsets=[0, 1],
                                  pca_components=4, n_candidates=4, max_new_tokens=3, n_boot=100, threads=1)
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
    for model_tag in (tag, f"{tag}~random_weights"):
        directions = DirectionSet.load(root / "data/directions" / dataset / f"{model_tag}.json")
        store = ActivationStore(root / "data/activations" / dataset / model_tag / "main")
        table = pd.read_parquet(root / "data/entities" / f"{dataset}.parquet").set_index("id").loc[store.ids]
        train = (table.split == "train").to_numpy()
        d = directions.directions[-1]
        X = np.asarray(store.layer(d.layer))
        probe = RidgeLOO(alpha_grid(AlphaGrid())).fit(X[train], table[d.target].to_numpy()[train])
        np.testing.assert_allclose(d.predict(X), probe.predict(X), rtol=1e-8, atol=1e-6)
        assert d.control == (None if model_tag == tag else "random_weights") and d.hook_point == store.meta.layer_names[d.layer]
        fitted = {x.layer for x in directions.directions}
        assert fitted == set(range(store.n_layers)) if model_tag == tag else fitted < set(range(store.n_layers))


@pytest.mark.parametrize("dataset", ["world", "people"])
def test_metrics_put_every_control_beside_the_probe(workspace, dataset):
    root, _ = workspace
    m = InterventionMetrics.load(root / "metrics/intervention" / f"{dataset}.json")
    targets = ["latitude", "longitude"] if dataset == "world" else ["year"]
    assert m.n_entities == 5 and len(m.entity_ids) == 5 and m.known_entities is None
    # best + [0, 1], never after the last block (4 blocks: an edit at store layer 4 reaches no later position)
    assert m.layers == sorted({min(m.best_layer + o, 3) for o in (0, 1)})
    kinds = {(e.model, e.kind) for e in m.all_entities.effects}
    assert kinds == {("main", k) for k in ("probe", "mean_difference", "orthogonal", "random")} | {("random_weights", "probe")}
    assert {(c.edited_target, c.layer, c.versus) for c in m.all_entities.comparisons} == {
        (t, layer, v) for t in targets for layer in m.layers for v in ("random", "orthogonal", "random_weights")
    }
    random = [e for e in m.all_entities.effects if e.kind == "random"]
    # the random tiny model writes no year, so people's slopes are unmeasurable (None), never NaN
    assert all(len(e.direction_slopes) == (2 if dataset == "world" else 0) for e in random)
    if dataset == "people":
        assert m.baseline["year_parsed"] == 0.0 and all(e.slope is None for e in m.all_entities.effects)
    assert {(s.edited_target, s.layer) for s in m.specificity} == {(t, layer) for t in targets for layer in m.layers}
    assert all(s.kl_probe >= 0 and s.kl_random >= 0 for s in m.specificity)
    assert all(p.read_layer >= p.layer for p in m.propagation)
    for target in targets:
        table = pd.read_csv(root / "plots/intervention" / dataset / f"{target}.csv")
        assert list(table.delta_sd) == [-2.0, 0.0, 2.0]
        assert {"probe", "mean_difference", "orthogonal", "random_mean", "random_min", "random_max", "random_weights"} <= set(table)
    assert (root / "plots/intervention/figures" / f"{dataset}.png").stat().st_size > 1000
