"""The familiarity figure and table over every dataset (the ``familiarity_report`` stage).

``plots/familiarity/figures/familiarity.png``: left, the probe's test R² on all / known / unknown test
entities per dataset with 95 % bootstrap intervals and the controls on the known entities; right, the
probe's R² by popularity decile. ``plots/familiarity/summary.csv`` holds the bars (``dvc plots``);
``docs/familiarity.md`` (:mod:`worldprobe.familiarity.docs`) a table of fraction known, the split, matched n
and the knowledge probe.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..figures import plt, save_figure
from .probes import GROUPS, KNOWLEDGE_BASELINES, FamiliarityProbeReport, Interval, KnowledgeProbe, MatchedN


def summary_table(reports: dict[str, FamiliarityProbeReport]) -> pd.DataFrame:
    """One row per (dataset, predictor, group): the figure's bars and the ``dvc plots`` table."""
    rows = []
    for ds, rep in reports.items():
        for s in rep.split:
            for g, m in s.groups.items():
                if m is not None:
                    rows.append({"label": f"{ds} {s.predictor} {g}", "dataset": ds, "predictor": s.predictor,
                                 "group": g, "n": m.n, "r2": m.r2.value, "r2_lo": m.r2.lo, "r2_hi": m.r2.hi,
                                 "mae": m.mae.value, "mae_unit": m.mae_unit})
    return pd.DataFrame(rows, columns=["label", "dataset", "predictor", "group", "n", "r2", "r2_lo", "r2_hi",
                                       "mae", "mae_unit"])


def familiarity_figure(reports: dict[str, FamiliarityProbeReport], path: Path) -> None:
    """Left: probe R² on all / known / unknown test entities per dataset (95 % bootstrap), with the
    controls on the known entities; right: the probe's R² by popularity decile."""
    table = summary_table(reports)
    floor = -0.5  # a group with a narrow spread (e.g. known people) can have any negative R²: clipped, value printed
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    colours = {"all": "0.6", "known": "tab:blue", "unknown": "tab:orange"}
    names = list(reports)
    for i, ds in enumerate(names):
        probe = table[(table.dataset == ds) & (table.predictor == "probe")].set_index("group")
        for j, g in enumerate(GROUPS):
            if g in probe.index:
                r, x = probe.loc[g], i + (j - 1) * 0.27
                lo, hi = max(r.r2_lo, floor), max(r.r2_hi, floor)
                left.bar(x, max(r.r2, floor), 0.25, color=colours[g], label=g if i == 0 else None,
                         yerr=[[max(r.r2, floor) - lo], [hi - max(r.r2, floor)]], capsize=2)
                if r.r2 < floor:
                    left.annotate(f"{r.r2:.2g}", (x, floor), ha="center", va="bottom", fontsize=7)
        controls = table[(table.dataset == ds) & (table.group == "known") & (table.predictor != "probe")]
        for marker, (_, c) in zip("sD^", controls.iterrows()):
            left.plot(i, max(c.r2, floor), marker, color="k", ms=5, label=f"{c.predictor} (known)" if i == 0 else None)
    left.set_xticks(range(len(names)), names)
    left.set_ylabel(f"test R² (best layer; clipped at {floor})")
    left.set_ylim(floor - 0.05, 1)
    left.axhline(0, color="k", lw=0.5)
    left.legend(fontsize=7)
    left.set_title("probe R² by familiarity, controls on known entities")
    for ds, rep in reports.items():
        if rep.popularity_deciles:
            d = rep.popularity_deciles
            right.plot([r.decile for r in d], [max(r.r2, floor) if r.r2 is not None else np.nan for r in d], "o-", label=ds)
    right.set_xlabel("popularity decile of the test entities (1 = least popular)")
    right.set_ylabel(f"probe test R² within the decile (clipped at {floor})")
    right.set_ylim(floor - 0.05, 1)
    right.axhline(0, color="k", lw=0.5)
    right.legend(fontsize=7)
    right.set_title("R² by popularity decile")
    save_figure(fig, path)


def _fmt(iv: Interval | None) -> str:
    return "—" if iv is None or iv.value is None else f"{iv.value:.3f} [{iv.lo:.3f}, {iv.hi:.3f}]"


def _rho(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def markdown_report(summaries: dict[str, dict], reports: dict[str, FamiliarityProbeReport]) -> str:
    """The full table of ``docs/familiarity.md``: fraction known, R² split, controls on known, matched n, knowledge probe."""
    lines = ["| dataset | filter | known (test) | constant-answer chance | R² all | R² known | R² unknown | "
             "known − unknown (R²; MAE) | probe − controls on known (R²) | known-only vs random (matched n, R² on all test) | "
             "knowledge probe AUROC (layer) | surprisal | popularity | both | answer prior | name TF-IDF | "
             "within-block Spearman, probe / surface: known; unknown |", "|" + "---|" * 17]
    for ds, rep in reports.items():
        s = summaries[ds]
        probe = next(x for x in rep.split if x.predictor == "probe").groups
        gap = "; ".join(f"{d.value:+.3g} ({d.verdict})" for d in rep.differences
                        if d.a == "known" and d.value is not None) or "—"
        ctrl = "; ".join(f"{d.b}: {d.value:+.3f} ({d.verdict})" for d in rep.differences
                         if d.a == "probe" and d.metric == "r2" and d.value is not None) or "—"
        if isinstance(rep.matched_n, MatchedN):
            m = rep.matched_n
            diff = next(d for d in m.differences if d.on.startswith("all"))
            matched = f"n={m.n_train}: {m.known_only['all']:.3f} vs {m.random_mean['all']:.3f} ({diff.verdict})"
        else:
            matched = rep.matched_n
        if isinstance(rep.knowledge_probe, KnowledgeProbe):
            k = rep.knowledge_probe
            keen = [f"{_fmt(k.test_auroc)} ({k.layer})", *(_fmt(k.baselines.get(b)) for b in KNOWLEDGE_BASELINES)]
        else:
            keen = [rep.knowledge_probe, *("—" for _ in KNOWLEDGE_BASELINES)]
        within = "; ".join(f"{_rho(w.spearman.get('probe'))} / {_rho(w.spearman.get('surface'))}"
                           for w in (rep.within_block["known"], rep.within_block["unknown"]))
        lines.append(f"| {ds} | {rep.filter} | {s['fraction_known_test']:.3f} ({rep.n_test_known}/{rep.n_test}) | "
                     f"{s['chance_known']:.3f} | {_fmt(probe['all'].r2 if probe['all'] else None)} | "
                     f"{_fmt(probe['known'].r2 if probe['known'] else None)} | "
                     f"{_fmt(probe['unknown'].r2 if probe['unknown'] else None)} | "
                     f"{gap} | {ctrl} | "
                     f"{matched} | {' | '.join(keen)} | {within} ({rep.within_block['all'].block}) |")
    units = "; ".join(f"{ds}: {_unit(rep.resampled)}" for ds, rep in reports.items())
    lines += ["", f"Intervals: 95 % percentile bootstrap over the labelled test entities, resampling {units}."]
    return "\n".join(lines) + "\n"


def _unit(resampled: str | None) -> str:
    """What a resample drew (metrics written before ``resampled`` existed resampled entities)."""
    return "entities" if resampled in (None, "entity") else f"whole {resampled} groups"
