"""The causal test's figure: the layer sweep of each edited target, the probe beside its controls, and the
ablation of the probe subspace beside a random one (every entity: subset ``all``)."""

from __future__ import annotations

from ..figures import plt
from .outputs import InterventionMetrics

SUBSET = "all"
UNITS = {"latitude": "°N", "longitude": "°E", "year": "years"}
CONTROL_STYLES = {"random": ("--", "s"), "orthogonal": (":", "^")}


def _targets(metrics: InterventionMetrics) -> list[str]:
    return list(dict.fromkeys(e.edited_target for e in metrics.effects if e.kind == "probe"))


def _errorbar(ax, rows, x_shift: float, **style) -> None:
    """Effects (or ablations) by layer with their 95 % intervals; missing values are left out."""
    rows = [r for r in rows if r[1] is not None]
    if not rows:
        return
    x = [r[0] + x_shift for r in rows]
    y = [r[1] for r in rows]
    lo = [y_ - (r[2] if r[2] is not None else y_) for r, y_ in zip(rows, y)]
    hi = [(r[3] if r[3] is not None else y_) - y_ for r, y_ in zip(rows, y)]
    ax.errorbar(x, y, yerr=[lo, hi], capsize=2, **style)


def sweep_figure(metrics: InterventionMetrics):
    """One panel per edited target (x: layer; y: the effect on that target's own readout at every ratio, the
    probe solid, the random and orthogonal directions dashed at the control ratios) and a last panel for the
    ablation (the increase of the readout's error by layer, the probe subspace beside a random one)."""
    m = metrics
    targets = _targets(m)
    fig, axes = plt.subplots(1, len(targets) + 1, figsize=(5.2 * (len(targets) + 1), 4.2), squeeze=False)
    colours = {ratio: f"C{i}" for i, ratio in enumerate(sorted(set(m.ratios) | set(m.control_ratios)))}
    step = min(b - a for a, b in zip(m.layers, m.layers[1:])) if len(m.layers) > 1 else 1
    kinds = ["probe", *CONTROL_STYLES]
    shift = {(kind, ratio): step * 0.06 * (i - len(colours) * len(kinds) / 2)
             for i, (kind, ratio) in enumerate((k, r) for r in colours for k in kinds)}
    for ax, target in zip(axes[0], targets):
        own = [e for e in m.effects if e.subset == SUBSET and e.edited_target == target and e.readout == target]
        for ratio in m.ratios:
            rows = sorted((e.layer, e.effect, e.lo, e.hi) for e in own if e.kind == "probe" and e.ratio == ratio)
            _errorbar(ax, rows, shift[("probe", ratio)], color=colours[ratio], ls="-", marker="o", ms=4, lw=1.8,
                      label=f"probe, ratio {ratio:g}")
        for kind, (ls, marker) in CONTROL_STYLES.items():
            for ratio in m.control_ratios:
                rows = sorted((e.layer, e.effect, e.lo, e.hi) for e in own if e.kind == kind and e.ratio == ratio)
                _errorbar(ax, rows, shift[(kind, ratio)], color=colours[ratio], ls=ls, marker=marker, ms=3, lw=1,
                          alpha=0.8, label=f"{kind} |effect|, ratio {ratio:g}")
        ax.axhline(0, color="0.5", lw=0.6)
        ax.set(xlabel="edited layer", xticks=m.layers,
               ylabel=f"effect on the {target} readout ({UNITS.get(target, 'target units')})",
               title=f"edit {target}: effect on its own readout")
        ax.legend(fontsize=6.5, ncol=1)
    ax = axes[0][-1]
    ablation = [a for a in m.ablation if a.subset == SUBSET]
    units = "km" if m.readout == "CountryReadout" else "years"
    lines = sorted({(a.subspace, a.dim) for a in ablation}, key=lambda k: (k[0] != "probe", k[1]))
    for i, (subspace, dim) in enumerate(lines):
        rows = sorted((a.layer, a.error_increase, a.error_lo, a.error_hi) for a in ablation
                      if (a.subspace, a.dim) == (subspace, dim))
        style = {"probe": ("C3", "-"), "random": ("0.45", "--"), "all": ("C0", ":")}[subspace]
        _errorbar(ax, rows, step * 0.06 * (i - (len(lines) - 1) / 2), color=style[0], ls=style[1],
                  marker="o" if dim == min(d for _, d in lines) else "s", ms=4,
                  label="whole residual (positive control)" if subspace == "all" else f"{subspace} subspace, dim {dim}")
    ax.axhline(0, color="0.5", lw=0.6)
    ax.set(xlabel="ablated layer", xticks=m.layers, ylabel=f"readout error increase ({units})",
           title="mean-ablation: probe subspace vs random")
    ax.legend(fontsize=7)
    fig.suptitle(f"{m.dataset}: {m.model}, {m.n_entities} test entities; edits sized as a ratio of the residual norm\n"
                 f"(antisymmetric effects, 95 % bootstrap intervals over entities)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig
