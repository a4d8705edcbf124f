"""Stage generalization: MLP vs linear, block and entity-type holdout, cross-prompt transfer, PCA-k
probes and space/time neurons, all at the main run's best layer (chosen by the probes stage on train).

Usage: python stages/generalization.py <dataset>
Reads data/entities, data/activations/<dataset>, metrics/probes/<dataset>.json and the model
(models/<model.name>); writes metrics/generalization/<dataset>.json and
plots/generalization/<dataset>/*.csv (shapes: worldprobe.spacetime.outputs).
"""

from pathlib import Path

from worldprobe.io import atomic_path
from worldprobe.lm.models import load_model
from worldprobe.lm.token_mean import headline_token_means
from worldprobe.spacetime.generalization import generalize, strongest_control
from worldprobe.spacetime.inputs import main_run, probe_inputs
from worldprobe.spacetime.probes import token_mean_rows
from worldprobe.spacetime.outputs import Holdout, ProbeMetrics
from worldprobe.stage import dataset_and_params
from worldprobe.threads import compute_threads


def main() -> None:
    dataset, params = dataset_and_params(__doc__)
    data, runs, _ = probe_inputs(dataset, params)
    probe_metrics = ProbeMetrics.load(Path("metrics/probes") / f"{dataset}.json")
    hf_model = load_model(params.model, control=None).model
    token_mean = None
    if strongest_control(probe_metrics) == "layer0_token_mean":  # the control MLP reads it
        prompt = main_run(runs, params.model.name).prompt
        token_mean = token_mean_rows(
            headline_token_means(params, dataset, data.ids, data.table["text"].tolist(), prompt), data)
    with compute_threads(params.probes.threads):
        result = generalize(data, runs, probe_metrics, params.probes, params.seed, hf_model, params.validity.n_boot,
                            params.model.name, token_mean)
    result.metrics.save(Path("metrics/generalization") / f"{dataset}.json")
    with atomic_path(Path("plots/generalization") / dataset, directory=True) as out:
        for name, table in result.tables.items():
            table.to_csv(out / f"{name}.csv", index=False)
    m, r = result.metrics, lambda x: None if x is None else round(x, 3)
    block = m.block_holdout if isinstance(m.block_holdout, Holdout) else None
    c = m.mlp_vs_linear
    print(f"{dataset}: layer {m.layer}: R2 linear {r(c.linear.r2)}, MLP {r(c.mlp.r2_mean)} (sd {r(c.mlp.r2_sd)}), "
          f"MLP - linear {r(c.mlp_minus_linear.diff)} [{r(c.mlp_minus_linear.ci_low)}, {r(c.mlp_minus_linear.ci_high)}], "
          f"MLP on {c.control} {r(c.control_mlp.r2_mean)}; block-holdout prox error "
          f"{r(block and block.mean_prox_error_default)} -> {r(block and block.mean_prox_error_heldout)}")


if __name__ == "__main__":
    main()
