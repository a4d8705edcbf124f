"""Stage generalization: MLP vs linear, block and entity-type holdout, cross-prompt transfer, PCA-k
probes and space/time neurons, all at the main run's best layer (chosen by the probes stage on train).

Usage: python stages/generalization.py <dataset>
Reads data/entities, data/activations/<dataset>, metrics/probes/<dataset>.json and the model
(models/<model.name>); writes metrics/generalization/<dataset>.json and
plots/generalization/<dataset>/*.csv (shapes documented in worldprobe.evaluation).
"""

import sys
from pathlib import Path

from worldprobe.config import load_params
from worldprobe.evaluation import ProbeData, generalize, load_runs
from worldprobe.familiarity_probes import filter_probe_data
from worldprobe.io import atomic_path, read_json, write_json
from worldprobe.models import load_model
from worldprobe.probes import compute_threads
from worldprobe.records import read_entities

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    dataset = sys.argv[1]
    params = load_params()
    data = ProbeData.from_table(*read_entities(Path("data/entities") / f"{dataset}.parquet"))
    data, runs, _ = load_runs(Path("data/activations") / dataset, data)
    mode = params.data.datasets[dataset].familiarity  # all | known | unknown (worldprobe.familiarity)
    data, runs = filter_probe_data(data, runs, Path("data/familiarity") / f"{dataset}.parquet", mode)
    probe_metrics = read_json(Path("metrics/probes") / f"{dataset}.json")
    hf_model = load_model(params.model, control=None).model
    with compute_threads(params.probes.threads):
        result = generalize(data, runs, probe_metrics, params.probes, params.seed, hf_model, params.model.name)
    write_json(Path("metrics/generalization") / f"{dataset}.json", result.metrics)
    with atomic_path(Path("plots/generalization") / dataset, directory=True) as out:
        for name, table in result.tables.items():
            table.to_csv(out / f"{name}.csv", index=False)
    m, r = result.metrics, lambda x: None if x is None else round(x, 3)
    print(f"{dataset}: layer {m['layer']}: R2 linear {r(m['mlp_vs_linear']['linear']['r2'])}, "
          f"MLP {r(m['mlp_vs_linear']['mlp']['r2'])}; block-holdout prox error "
          f"{r(m['block_holdout'].get('mean_prox_error_default'))} -> {r(m['block_holdout'].get('mean_prox_error_heldout'))}")
