"""The model axis: ``model`` and every model under ``models`` probed on the same entities, each beside its
own controls, so that R² can be read against model size (the paper's 7B -> 13B -> 70B question).

Each model of the axis was run by the activations stage on one seeded subsample of the prompt variants'
entities (``models.<name>.max_entities``; main prompt and the random-weights control only), stored under
``data/models/<name>/<dataset>``; ``model`` itself holds every entity (``data/activations/<dataset>``),
read here on the same subsample. Every model is then probed as the probes stage probes ``model`` (same
estimator, layer selection on train, controls and paired intervals, :func:`probe_dataset`), what its
probe adds to each control is measured as the incremental stage does (:func:`adds`), and each model's R²
is compared with ``model``'s on the same test entities, paired. The familiarity filter is not applied:
its labels are ``model``'s answers, not the other models'.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Params
from ..lm.activations import axis_dir
from ..lm.models import parameter_count
from ..lm.token_mean import headline_token_means
from ..records import StoreError, read_entities
from ..stats import bootstrap, paired_r2_difference
from .incremental import adds
from .inputs import ProbeData, Run, load_runs, main_run, random_weights_run
from .outputs import AxisControl, AxisModel, ModelAxisMetrics, ProbeMetrics
from .probes import probe_dataset


@dataclass
class ModelAxisResult:
    metrics: ModelAxisMetrics
    layers: pd.DataFrame  # model, n_params, layer, rel_depth, r2: each model's probe at every layer


def _restricted(runs: list[Run], keep: np.ndarray) -> list[Run]:
    return [Run(r.model_tag, r.prompt, r.store, r.rows[keep]) for r in runs]


def matched_entities(model_runs: list[Run], axis_runs: dict[str, list[Run]], model_name: str) -> np.ndarray:
    """The entities every model of the axis holds in its main and random-weights runs, and ``model`` in
    its random-weights run (its main run holds every entity)."""
    keep = np.ones(len(model_runs[0].rows), dtype=bool)
    for name, runs in [(model_name, model_runs), *axis_runs.items()]:
        own = main_run(runs, name)
        for run in (own, random_weights_run(runs, own)):
            if run is None:
                raise StoreError(f"{name}: no random-weights store; the model axis compares every model with it")
            keep &= run.covered
    return keep


def _axis_model(name: str, runs: list[Run], data: ProbeData, params: Params, dataset: str, models_dir: Path,
                weights: np.ndarray, groups: np.ndarray,
                reference: np.ndarray | None) -> tuple[AxisModel, np.ndarray, pd.DataFrame]:
    """One model (``params.model``) probed with its controls: the record, its probe's test predictions and its
    layer curve."""
    main = main_run(runs, name)
    probed = [main, random_weights_run(runs, main)]
    token_mean = headline_token_means(params, dataset, data.ids, data.table["text"].tolist(), main.prompt, models_dir)
    result = probe_dataset(data, probed, params.probes, params.validity, params.seed, name, token_mean=token_mean)
    m: ProbeMetrics = result.metrics
    frame, targets = result.predictions, list(data.targets)
    y = frame[targets].to_numpy(float)
    probe = frame[[f"pred_{t}" for t in targets]].to_numpy(float)
    fold_seed, folds = params.seed, params.incremental.folds
    controls = {}
    for c, control_r2 in m.controls.r2_by_control().items():
        columns = [f"{c}_pred_{t}" for t in targets]
        controls[c] = AxisControl(
            r2=control_r2,
            beats=m.validity.verdicts.get(c),
            adds=adds(weights, y, probe, frame[columns].to_numpy(float), groups, folds, fold_seed)
            if columns[0] in frame.columns else None,
        )
    run = m.runs[main.model_tag][main.prompt]
    best = run.layers[run.best_layer]
    record = AxisModel(
        name=name, model_tag=main.model_tag, n_params=parameter_count(params.model, models_dir), n_layers=main.n_layers,
        best_layer=run.best_layer, rel_depth=best.rel_depth, r2=best.r2,
        r2_ci_low=m.validity.r2_ci_low, r2_ci_high=m.validity.r2_ci_high, controls=controls,
        minus_model=None if reference is None else paired_r2_difference(weights, y, probe, reference),
    )
    layers = pd.DataFrame({"model": name, "n_params": record.n_params, "layer": [r.layer for r in run.layers],
                           "rel_depth": [r.rel_depth for r in run.layers], "r2": [r.r2 for r in run.layers]})
    return record, probe, layers


def compare_models(dataset: str, params: Params, root: str | Path = ".") -> ModelAxisResult:
    """``model`` and every model of ``models`` on ``dataset``'s matched entities (see the module)."""
    root = Path(root)
    data = ProbeData.from_table(*read_entities(root / "data" / "entities" / f"{dataset}.parquet"))
    data = data.grouped_by(params.validity.split_groups.get(dataset))
    data, model_runs, _ = load_runs(root / "data" / "activations" / dataset, data)
    axis_runs = {name: load_runs(axis_dir(name, root) / dataset, data)[1] for name in params.models}
    keep = matched_entities(model_runs, axis_runs, params.model.name)
    data = data.subset(keep)
    grouped = data.split_group is not None
    groups = data.groups_of(data.test)
    groups = data.ids[data.test] if groups is None else groups
    weights = bootstrap(groups if grouped else None, int(data.test.sum()), params.validity.n_boot, params.seed).weights
    models_dir = root / "models"
    records, curves, reference = [], [], None
    for name, runs, own in [(params.model.name, model_runs, params),
                            *((n, axis_runs[n], params.for_model(n)) for n in params.models)]:
        record, probe, layers = _axis_model(name, _restricted(runs, keep), data, own, dataset, models_dir,
                                            weights, groups, reference)
        reference = probe if reference is None else reference
        records.append(record)
        curves.append(layers)
    metrics = ModelAxisMetrics(dataset=dataset, kind=data.kind, n_train=int(data.train.sum()),
                               n_test=int(data.test.sum()), resampling="split groups" if grouped else "test entities",
                               models=records)
    return ModelAxisResult(metrics, pd.concat(curves, ignore_index=True))
