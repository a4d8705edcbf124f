"""``docs/karel.md``: the Karel study's method and results, every number from the committed outputs.

:func:`render` reads ``metrics/karel/{synthesis,semantics,regression}.json`` and ``plots/karel/*.csv``
under ``root`` and fills ``doc.md.j2``; :func:`summary` is the README's verdict sentence. Counts the
JSON does not hold (rows scored per offset, MLP fits stopped on their plateau) come from
``plots/karel/semantics.csv``, the same probe rows the metrics summarise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..markdown import num, render_template
from .analysis import RegressionSummary, SemanticsSummary
from .outputs import KarelSynthesis

TEMPLATE = Path(__file__).with_name("doc.md.j2")

DOC_PATH = Path("docs/karel.md")
FEATURES = ("concat", "mean")  # all layers side by side; their mean (the paper's feature)


def half_width(n: int) -> float:
    """The widest 95 % normal interval of an accuracy on ``n`` rows (at accuracy 0.5): 1.96 · 0.5 / √n."""
    return 0.98 / math.sqrt(n)


@dataclass(frozen=True)
class Outputs:
    synthesis: KarelSynthesis
    semantics: SemanticsSummary
    regression: RegressionSummary
    accuracy: pd.DataFrame  # plots/karel/accuracy.csv, indexed by step
    rows: pd.DataFrame  # plots/karel/semantics.csv: one row per probe or baseline score

    @classmethod
    def load(cls, root: Path) -> Outputs:
        return cls(
            synthesis=KarelSynthesis.load(root / "metrics/karel/synthesis.json"),
            semantics=SemanticsSummary.load(root / "metrics/karel/semantics.json"),
            regression=RegressionSummary.load(root / "metrics/karel/regression.json"),
            accuracy=pd.read_csv(root / "plots/karel/accuracy.csv").set_index("step"),
            rows=pd.read_csv(root / "plots/karel/semantics.csv"),
        )

    # ------------------------------------------------------------------ lookups

    @property
    def steps(self) -> list[int]:
        return sorted(self.semantics.checkpoints)

    @property
    def final(self) -> int:
        return self.semantics.final_step

    def probe(self, step: int, frame: str, feature: str, offset: int, probe: str = "linear",
              semantics: str = "original") -> float | None:
        by_probe = self.semantics.checkpoints[step].frames[frame].probes[feature]
        return by_probe[probe][semantics][offset] if probe in by_probe else None

    def baseline(self, step: int, frame: str, name: str, offset: int) -> float | None:
        return self.semantics.checkpoints[step].frames[frame].baselines["original"][name][offset]

    def initial(self, step: int, feature: str, spec_input: int = 0, probe: str = "linear") -> float | None:
        return self.semantics.checkpoints[step].initial[feature].get(probe, {}).get(spec_input)

    def composed(self, step: int, feature: str, offset: int, probe: str = "linear") -> float | None:
        return self.semantics.checkpoints[step].composed[feature].get(probe, {}).get(offset)

    def fit(self, frame: str, feature: str, target: str, offset: int | None, probe: str = "linear"):
        return self.regression.fits[f"{frame}/{feature}/{probe}/{target}/{offset}"]

    def synthesis_at(self, step: int) -> float:
        return float(self.accuracy.loc[step, "accuracy_spec"])

    # ------------------------------------------------------------------ derived from the probe rows

    def scored_rows(self, step: int) -> dict[int, int]:
        """Test rows the facing probes are scored on, per offset (an action +k ahead must exist)."""
        r = self.rows
        at = r[(r.step == step) & (r.target == "facing") & (r.probe == "linear") & (r.frame == "absolute")
               & (r.semantics == "original") & (r.feature == "concat")]
        return {int(o): int(n) for o, n in zip(at.offset, at.n_test)}

    def mlp_fits(self) -> dict[str, tuple[int, int]]:
        """MLP probe fits, as (stopped on the val plateau, all), for the facing and initial-facing probes
        and apart for the positive control (the composed score is no fit: it adds two predictions)."""
        mlp = self.rows[(self.rows.probe == "mlp") & self.rows.converged.notna()]
        stopped = mlp.converged.astype(str) == "True"
        is_control = mlp.target == "control"
        return {"probes": (int(stopped[~is_control].sum()), int((~is_control).sum())),
                "control": (int(stopped[is_control].sum()), int(is_control.sum()))}

    def control_readings(self) -> list[dict]:
        """The positive control per feature set and probe: every checkpoint below 1.00 at two decimals."""
        out = []
        for feature in FEATURES:
            for probe in ("linear", "mlp"):
                values = {s: c.control[feature][probe] for s, c in sorted(self.semantics.checkpoints.items())
                          if probe in c.control.get(feature, {})}
                low = {s: v for s, v in values.items() if round(v, 2) < 1.0}
                out.append({"feature": feature, "probe": probe, "n": len(values), "low": low,
                            "min": min(values.values())})
        return out

    @property
    def trained_steps(self) -> list[int]:
        return [s for s in self.steps if s != self.semantics.first_step]

    @property
    def trained_train_rows(self) -> list[int]:
        return [self.semantics.checkpoints[s].n_probe_train_rows for s in self.trained_steps]

    @property
    def trained_initial(self) -> list[float]:
        """Input 0's initial facing, linear on the concatenation, at every trained checkpoint."""
        return [self.initial(s, "concat") for s in self.trained_steps]

    def largest_gap(self, frame: str, probe: str) -> float:
        """The largest |original − alternative| accuracy at the final checkpoint over features, semantics, offsets."""
        gaps = [abs(g.final) for by_probe in self.semantics.intervention[frame].values()
                for by_alt in [by_probe.get(probe, {})] for by_offset in by_alt.values()
                for g in by_offset.values() if g.final is not None]
        return max(gaps)

    def peak(self, frame: str, feature: str, offset: int) -> tuple[int, float]:
        """The trained checkpoint where the direct probe reads best."""
        step = max(self.trained_steps, key=lambda s: self.probe(s, frame, feature, offset))
        return step, self.probe(step, frame, feature, offset)


def render(root: Path = Path(".")) -> str:
    out = Outputs.load(root)
    return render_template(TEMPLATE, o=out, half_width=half_width, features=FEATURES)


def summary(root: Path = Path(".")) -> str:
    """One or two sentences of the findings, for the README."""
    o = Outputs.load(root)
    f, direct, paper = o.final, o.probe(o.final, "absolute", "concat", 0), o.regression.paper_r2[0]
    fit = o.fit("absolute", "concat", "facing", 0)
    unchanged = o.baseline(f, "absolute", "unchanged", 0)
    # a direction is claimed only where the slope is distinguishable from flat across checkpoints
    trend = (("rises" if fit.content.slope > 0 else "falls") if fit.content.p < 0.05
             else "shows no trend distinguishable from flat")
    return (f"**Program semantics (Karel)**: a {o.synthesis.train.n_params:,}-parameter model trained on programs solves "
            f"{num(100 * o.synthesis.final.accuracy_spec, 1)} % of test specifications (best constant program "
            f"{num(100 * o.synthesis.chance.constant_spec, 1)} %), but a linear probe reads the robot's facing at "
            f"{num(direct)} at the end, {'below' if direct < unchanged else 'above'} the \"facing unchanged\" "
            f"baseline ({num(unchanged)}; an oracle: it is given the facing before the action), and across "
            f"checkpoints that content {trend} as synthesis improves (R² {num(fit.content.r2)}, p "
            f"{num(fit.content.p, 3)}, against the paper's {num(paper, 3)}). The rotation since the input is read at "
            f"{num(o.probe(f, 'relative', 'concat', 0))}, but the actions written so far already determine it, so "
            "that is no evidence of semantics without a syntax-only null (not yet built).")
