"""Diagnosis: why the MLP probe reads less than the linear probe on the untrained Karel model.

On the committed traces of one checkpoint (default: the untrained one), for every facing and
initial-facing target of the generated probe set (concatenated layers, original semantics), it fits
side by side: the linear probe, the MLP probes as `karel_probes` fits them, the MLP on inputs z-scored
by scikit-learn's StandardScaler (the linear probe's scaling), and the MLP at other learning rates,
without weight decay and dropout, and with a larger step budget. It prints the smallest feature
standard deviation (a near-constant feature would blow up under z-scoring) and each variant's test
accuracy, so that scaling, regularisation and the optimiser budget can be told apart.

Usage:
    python benchmarks/karel_mlp_untrained.py                 # step 0, input 0's initial facing and facing at 0
    python benchmarks/karel_mlp_untrained.py --step 6000 --all-targets
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from sklearn.preprocessing import StandardScaler

from worldprobe.config import load_params
from worldprobe.karel.content import _subsample, mlp_settings, targets
from worldprobe.karel.probes import LinearProbe, MLPProbes, accuracy
from worldprobe.karel.traces import feature_sets, load_traces
from worldprobe.threads import set_torch_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=0)
    parser.add_argument("--all-targets", action="store_true", help="every facing offset and frame, not only two")
    args = parser.parse_args()
    set_torch_threads(1)
    params = load_params()
    probing = params.karel.active_probing
    traces = load_traces(f"data/karel/traces/step_{args.step:06d}.npz")["generated"]
    rows = _subsample(len(traces["train"].trace.program), probing.max_train_rows, params.seed)
    keys = targets(traces["test"].trace, ["original"])[0]
    y = {split: targets(st.trace, ["original"])[1] for split, st in traces.items()}
    x = {split: feature_sets(st.hidden, ["concat"])["concat"] for split, st in traces.items()}
    y["train"], x["train"] = y["train"][rows], x["train"][rows]
    print(f"step {args.step}: {len(rows):,} train rows, {x['train'].shape[1]} features, "
          f"smallest feature std {x['train'].std(0).min():.4f}")
    scaler = StandardScaler().fit(x["train"])
    scaled = {split: scaler.transform(v).astype(np.float32) for split, v in x.items()}
    base = mlp_settings(probing, params.karel.active.probe_hidden)
    variants = {"mlp (karel_probes)": (base, x), "mlp, StandardScaler inputs": (base, scaled),
                "mlp, lr / 10": (dataclasses.replace(base, lr=base.lr / 10), x),
                "mlp, no weight decay or dropout": (dataclasses.replace(base, weight_decay=0.0, dropout=0.0), x),
                "mlp, lr / 10, unregularised, 2x steps": (dataclasses.replace(
                    base, lr=base.lr / 10, weight_decay=0.0, dropout=0.0, max_steps=2 * base.max_steps), x)}
    chosen = [k for k in keys if args.all_targets or k.name == "initial_0"
              or (k.name == "facing" and k.frame == "absolute" and k.offset == 0)]
    for key in chosen:
        i = keys.index(key)
        linear = LinearProbe(probing.linear_C, probing.linear_max_iter, probing.linear_tol).fit(
            x["train"], y["train"][:, i], x["val"], y["val"][:, i])
        print(f"\n{key.frame} {key.name} offset {key.offset}: linear {accuracy(linear.predict(x['test']), y['test'][:, i]):.3f}")
        for name, (settings, inputs) in variants.items():
            bank = MLPProbes(settings, params.seed).fit(inputs["train"], y["train"][:, [i]], inputs["val"],
                                                         y["val"][:, [i]])
            score = accuracy(bank.predict(inputs["test"])[:, 0], y["test"][:, i])
            print(f"  {name}: {score:.3f} (best val check at step {int(bank.best_step_[0])} of {bank.steps_})")


if __name__ == "__main__":
    main()
