"""The causal test's figure: the dose-response of each edited target, the probe beside every control."""

from __future__ import annotations

from ..figures import plt
from .intervention import StageResult


def dose_response_figure(result: StageResult, units: dict[str, str]):
    """One panel per target: mean change of its readout against Δ, the probe beside every control,
    titled with the layer the tables were computed at."""
    dose, dataset, layer = result.dose, result.metrics.dataset, result.metrics.dose_layer

    fig, axes = plt.subplots(1, len(dose), figsize=(5 * len(dose), 4), squeeze=False)
    for ax, (target, table) in zip(axes[0], dose.items()):
        x = table.delta_sd
        ax.fill_between(x, table.random_min, table.random_max, color="0.85", label="random directions (range)")
        ax.plot(x, table.probe, "o-", color="C0", lw=2, label="probe direction")
        ax.plot(x, table.mean_difference, "s--", color="C1", label="difference of means")
        ax.plot(x, table.orthogonal, "^:", color="C2", label="orthogonal (top-PCA)")
        ax.plot(x, table.random_weights, "x-", color="C3", label="random-weights model")
        ax.axhline(0, color="0.5", lw=0.5)
        ax.set(xlabel="Δ (probe reading moved by Δ target std)", ylabel=f"change of {target} readout ({units[target]})",
               title=f"{dataset}: edit {target} at layer {layer}")
    axes[0][0].legend(fontsize=8)
    return fig
