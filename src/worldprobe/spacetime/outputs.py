"""What the space-and-time stages hand each other: every JSON they write (the build's data report is
the core's, :class:`worldprobe.records.DataReport`), as a frozen pydantic model.

Writers build these models and ``save`` them; readers ``load`` them (:class:`worldprobe.io.Output`)
and use attributes, so a missing key, a string where a number belongs or a NaN fails at load with the file
and the key's path. On disk: JSON with sorted keys (``worldprobe.io.write_json``); a field with a
default that the writer did not set is left out (``prox_error_paper_swapped`` exists for places only).

* ``metrics/probes/<dataset>.json`` - :class:`ProbeMetrics` (probes)
* ``metrics/generalization/<dataset>.json`` - :class:`GeneralizationMetrics` (generalization)
* ``metrics/learning_curve/<dataset>.json`` - :class:`LearningCurve` (learning_curve)
* ``metrics/incremental/<dataset>.json`` - :class:`IncrementalMetrics` (incremental)
* ``metrics/models/<dataset>.json`` - :class:`ModelAxisMetrics` (model_axis)
* ``metrics/spacetime/summary.json`` - :class:`SpacetimeSummary` (report)

The metrics themselves (``r2``, ``prox_error``, ...) are defined in :mod:`worldprobe.spacetime.metrics`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, RootModel

from ..config import AlphaGrid
from ..io import Output, OutputError, Saved
from ..records import DroppedEntities
from ..stats import PairedDifference

# --------------------------------------------------------------------------- probes


class Scores(Output):
    """Test metrics of one set of predictions (:func:`worldprobe.spacetime.metrics.score`); ``None`` = undefined."""

    r2: float | None  # places: mean of the longitude and latitude R²
    r2_per_target: dict[str, float | None]
    spearman: float | None
    spearman_per_target: dict[str, float | None]
    prox_error: float | None
    prox_error_paper_swapped: float | None = None  # places only
    mae: float | None
    mae_unit: Literal["km", "years"]


class RidgeFit(Scores):
    alpha: dict[str, float]  # per target
    alpha_at_grid_edge: bool
    train_loo_r2: float  # mean over targets: what chooses the best layer
    selection: str | None = None  # set where alpha was not chosen by leave-one-out (then train_loo_r2 is that CV's R²)


class LayerRecord(RidgeFit):
    layer: int
    rel_depth: float  # layer / (n_layers - 1)


class SurfaceControl(RidgeFit):
    n_features: int


class RunRecord(Output):
    """The ridge probe on every layer of one activation store."""

    control: str | None
    model: str
    d_model: int
    n_layers: int  # layer 0 (the embeddings) included
    n_train: int | None = None  # entities fitted and scored: fewer than the dataset's for a subsampled prompt variant
    n_test: int | None = None
    best_layer: int
    best: LayerRecord
    layers: list[LayerRecord]

    def r2_at(self, layer: int) -> float | None:
        return next((r.r2 for r in self.layers if r.layer == layer), None)


class RandomWeightsControl(Output):
    model_tag: str
    prompt: str
    best_layer: int
    best: LayerRecord


class Controls(Output):
    surface: SurfaceControl  # TF-IDF of the entity string
    layer0: LayerRecord  # the main run's embedding layer, read at the prompt's last token
    # the embeddings averaged over the entity's own tokens (worldprobe.lm.token_mean); absent in metrics written before it
    layer0_token_mean: LayerRecord | None = None
    random_weights: RandomWeightsControl | None  # None where the control was not run

    def r2_by_control(self) -> dict[str, float | None]:
        """Each control's test R² (``None``: not run, or undefined)."""
        return {"surface": self.surface.r2, "layer0": self.layer0.r2,
                "layer0_token_mean": None if self.layer0_token_mean is None else self.layer0_token_mean.r2,
                "random_weights": None if self.random_weights is None else self.random_weights.best.r2}


class RunKey(Output):
    model_tag: str
    prompt: str


class WithinBlock(Output):
    """Targets and predictions centred on each block's test mean (blocks with >= ``min_test`` test
    entities), pooled: does the predictor order entities *within* a block? Per predictor (``probe``
    and each control); places: mean over longitude and latitude. ``probe_spearman_ci_*``: the probe's
    95 % bootstrap interval, resampled as every interval of :class:`Validity`."""

    block: str
    min_test: int
    n_blocks: int
    n: int
    spearman: dict[str, float | None]
    r2: dict[str, float | None]
    probe_spearman_ci_low: float | None = None
    probe_spearman_ci_high: float | None = None


class EraScores(Output):
    n: int
    r2: float | None
    spearman: float | None


class Validity(Output):
    """What the headline probe (main run, best layer) shows beyond its controls and its blocks.

    Every interval resamples the way the split was drawn (``resampling``): whole ``split_group``
    groups where the split holds them out together, test entities elsewhere. ``verdicts``: probe R²
    minus each control's, paired. ``group_mean_r2`` (places): each test entity predicted by the train
    mean of its block. ``r2_group_ridge``: ridge on the block one-hot; ``r2_beyond_group``: ridge on
    one-hot + activations minus it (paired). ``eras`` (people): before / from ``era_split_year``.
    """

    split_group: str | None
    resampling: str
    n_boot: int
    selection: str  # how alpha and best layer were chosen
    r2_ci_low: float
    r2_ci_high: float
    verdicts: dict[str, PairedDifference]
    group_mean_r2: float | None = None
    r2_group_ridge: float | None = None
    r2_beyond_group: PairedDifference | None = None
    within_block: WithinBlock
    eras: dict[str, EraScores] | None = None


class FixedEffects(Output):
    """The ridge probe at the best layer with the block as an unpenalised term (block fixed effects): by
    Frisch-Waugh-Lovell, a ridge on the activations and the target both centred on their train block
    means (a block no train place shares: the overall train means), so the penalty shrinks the
    activations only. ``r2``: block means plus that ridge on the test places; ``gain``: its R² minus the
    block's train means alone (the oracle), paired; ``share``: the gain as a share of what the oracle
    leaves unexplained."""

    r2: float
    gain: PairedDifference
    share: float | None
    alpha_at_grid_edge: bool


class BlockChecks(Output):
    """Places against their block (country, state, borough), blocks read by one rule
    (:func:`worldprobe.spacetime.validity.block_labels`). ``oracle_r2``: each test place predicted by
    the train mean of its true block; ``beats``: probe R² minus the oracle's; ``adds``: what the probe's
    prediction adds to the oracle's (cross-fitted least squares, the block term unshrunk);
    ``block_alone_r2``: that fit on the oracle alone; ``beyond_block_share``: ``adds`` as a share of
    what the block leaves unexplained (1 - ``block_alone_r2``); ``block_read_r2``: the probe's predictions
    scored against each test place's block mean (how much of the blocks' spread the probe reads);
    ``fixed_effects``: the activations beyond the block with the block term unshrunk."""

    block: str
    n_test_blocks: int
    unseen_test_blocks: int  # test blocks no train place shares (the oracle falls back on the train mean)
    unseen_test_entities: int
    missing_block_entities: int  # test places with no block value: one block of their own
    oracle_r2: float
    beats: PairedDifference
    adds: PairedDifference
    block_alone_r2: float
    beyond_block_share: float | None
    block_read_r2: float | None
    fixed_effects: FixedEffects


class IncrementalMetrics(Output):
    """``metrics/incremental/<dataset>.json``: what the probe adds to each control (``adds``: R² of the
    control's and the probe's test predictions together minus the control's alone, least squares
    cross-fitted over ``folds`` folds), the probe's within-block Spearman minus each control's, and for
    places the block checks; every interval paired and resampled as the split was drawn (``resampling``)."""

    dataset: str
    kind: Literal["place", "time"]
    n_test: int
    folds: int
    n_boot: int
    resampling: Literal["split groups", "test entities"]
    adds: dict[str, PairedDifference]
    within_block_spearman: dict[str, PairedDifference]
    block: BlockChecks | None = None


class AxisControl(Output):
    """One control of one model of the model axis: its R², what the probe beats it by (``beats``: probe R²
    minus the control's) and what the probe adds to it (``adds``, as :class:`IncrementalMetrics`), paired."""

    r2: float | None
    beats: PairedDifference | None  # None: the control was not measured
    adds: PairedDifference | None


class AxisModel(Output):
    """One model probed at the axis's matched entities, selected and scored as the probes stage does."""

    name: str  # params: model.name or a key of models
    model_tag: str
    n_params: int  # from the config (tied weights once)
    n_layers: int
    best_layer: int
    rel_depth: float  # best_layer / (n_layers - 1)
    r2: float | None
    r2_ci_low: float
    r2_ci_high: float
    controls: dict[str, AxisControl]
    minus_model: PairedDifference | None  # this model's probe R² minus params model's, paired (None: model itself)


class ModelAxisMetrics(Output):
    """``metrics/models/<dataset>.json``: ``model`` and every model of ``models`` probed on the same entities
    (the axis's seeded subsample), each with its controls, every interval paired on the same test entities
    and resampled as the split was drawn (``resampling``)."""

    dataset: str
    kind: Literal["place", "time"]
    n_train: int
    n_test: int
    resampling: Literal["split groups", "test entities"]
    models: list[AxisModel]  # params model first


class ProbeMetrics(Output):
    """``metrics/probes/<dataset>.json``: ``runs[model_tag][prompt]`` for every store, the headline
    run (``main``) and the controls. Best layer: ``best_layer_criterion``, never a test number."""

    dataset: str
    kind: Literal["place", "time"]
    target_note: str
    targets: list[str]
    n_train: int
    n_test: int
    entities_without_activations: DroppedEntities
    standardize: bool
    alphas: AlphaGrid
    best_layer_criterion: str
    main: RunKey
    runs: dict[str, dict[str, RunRecord]]
    controls: Controls
    validity: Validity

    @property
    def headline(self) -> RunRecord:
        try:
            return self.runs[self.main.model_tag][self.main.prompt]
        except KeyError:
            raise OutputError(f"{self.dataset}: no run {self.main.model_tag}/{self.main.prompt} (main)") from None

    def real_models(self) -> list[str]:
        """Model tags of trained models (every run of a control model carries its ``control`` name)."""
        return sorted(tag for tag, prompts in self.runs.items() if all(r.control is None for r in prompts.values()))


# --------------------------------------------------------------------------- generalization


class MLPScores(Scores):
    seed: int
    weight_decay: float  # the one chosen on validation
    weight_decay_at_grid_edge: bool  # the smallest or largest of probes.mlp.weight_decays: widen the grid
    val_mse: dict[str, float]  # per weight decay
    epochs: dict[str, int]


class MLPSeeds(Output):
    """One MLP recipe trained from ``probes.mlp.seeds`` seeds: each network's scores, and the mean and
    standard deviation of their R² (the spread the seed alone causes)."""

    features: str  # what the networks read
    seeds: list[MLPScores]
    r2_mean: float | None
    r2_sd: float | None


class MLPvsLinear(Output):
    """The MLP probe against the linear probe on the same activations, and against the same MLP on the
    strongest control's features. Differences are R² (mean over seeds) minus R², on the same test
    entities, with the paired bootstrap resampled as the split was drawn."""

    validation: str  # the rows early stopping and weight-decay choice hold out
    linear: Scores
    mlp: MLPSeeds
    mlp_minus_linear: PairedDifference
    control: str  # the strongest control with features for every entity (probes stage, head-to-head R²)
    control_mlp: MLPSeeds
    mlp_minus_control_mlp: PairedDifference


class LayerStability(Output):
    """How firmly the train split picks the best layer: the selection score (each layer's held-out
    residuals on the train split, as the probes stage computes them) recomputed on ``n_boot`` resamples
    of the train rows, drawn as the split was (whole groups where it holds groups out). The probes are
    not refitted on each resample, so this is the selection score's own sampling noise."""

    layer: int  # the probes stage's choice (on all train rows)
    share_chosen: dict[str, float]  # per layer (str), the share of resamples choosing it; layers never chosen left out
    best_layer_share: float  # share_chosen of ``layer``
    n_boot: int


class SphereTarget(Output):
    """Places: the ridge probe at the best layer fitted to points on the unit sphere (x, y, z) instead
    of longitude/latitude, its predictions read back as longitude/latitude and scored as the headline."""

    r2_xyz: float | None  # mean R² of x, y and z
    scores: Scores  # of the predictions read back as [lon, lat]
    latlon_prox_error: float | None  # the headline probe's, same test entities
    # mean proximity error of the sphere probe minus the lon/lat probe's (negative: the sphere target is better),
    # paired bootstrap resampled as the split was drawn
    prox_error_minus_latlon: PairedDifference
    alpha_at_grid_edge: bool


class HoldoutGroup(Output):
    """``*_default``: the reference probe, trained on a seeded random subset of the whole train split of
    the held-out probe's size ``n_train`` (fair: only whether the group was seen differs);
    ``*_full_train``: the probe trained on the whole train split (more data than the held-out probe)."""

    group: str
    n_test: int
    n_train_removed: int
    n_train: int  # rows each of the held-out and the reference probe trains on
    prox_error_default: float
    prox_error_heldout: float
    prox_error_full_train: float
    mae_default: float
    mae_heldout: float
    mae_full_train: float


class Holdout(Output):
    """Each of the K largest eligible groups held out in turn (K = ``probes.holdout_blocks``), plus the
    paper's groups beyond them; ``mean_*`` over the K largest, ``mean_*_paper`` over the paper's."""

    column: str
    groups: list[HoldoutGroup]
    n_groups: int  # in the test split
    n_eligible: int  # with >= min_test test entities
    min_test: int
    note: str
    mean_prox_error_default: float | None
    mean_prox_error_heldout: float | None
    mean_mae_default: float | None
    mean_mae_heldout: float | None
    mean_prox_error_full_train: float | None
    paper_groups: list[str]  # the groups the paper's code holds out for this column (empty: none named)
    mean_prox_error_default_paper: float | None  # over the paper's groups among ``groups``
    mean_prox_error_heldout_paper: float | None


class HoldoutSkipped(Output):
    column: str | None
    skipped_reason: str


class CrossPromptRow(Output):
    train_prompt: str
    test_prompt: str
    variant: Literal["raw", "centred"]
    r2: float | None
    spearman: float | None
    prox_error: float | None


class CrossPrompt(Output):
    prompts: list[str]
    n_train: int | None = None  # the entities every prompt holds (prompt variants run on a subsample)
    n_test: int | None = None
    rows: list[CrossPromptRow]


class PCAPoint(Output):
    k: int | Literal["full"]
    explained_variance: float
    r2: float | None
    spearman: float | None
    prox_error: float | None
    alpha_at_grid_edge: bool


class PCACurve(Output):
    """``fit``: how the PCA was fitted (``probes.pca_fit``): ``standardized_train`` on the train split's
    standardised activations, ``raw_all`` on the raw activations of every entity (the paper's code);
    ``fit_rows``: the entities it saw. The ridge on the components always trains on the train split."""

    fit: Literal["standardized_train", "raw_all"]
    fit_rows: int
    curve: list[PCAPoint]


class Neuron(Output):
    rank: int
    neuron: str
    train_spearman: float | None
    test_spearman: float | None


class TargetNeurons(Output):
    probe_test_spearman: float | None
    top: list[Neuron]


class Neurons(Output):
    layer: int  # the best layer: the probe beside the neurons is fitted there
    block: int  # the block whose MLP is read, from its input (store layer ``block``): ``layer``, or the last block
    # when ``layer`` is the last stored layer (no block after it), i.e. then one layer before the probe's
    n_neurons: int
    targets: dict[str, TargetNeurons]


class GeneralizationMetrics(Output):
    """``metrics/generalization/<dataset>.json``, all at the main run's best layer ``layer``."""

    dataset: str
    kind: Literal["place", "time"]
    model_tag: str
    prompt: str
    layer: int
    layer_criterion: str
    mlp_vs_linear: MLPvsLinear
    layer_stability: LayerStability
    sphere: SphereTarget | None  # places only
    block_holdout: Holdout | HoldoutSkipped
    entity_type_holdout: Holdout | HoldoutSkipped
    cross_prompt: CrossPrompt
    pca: PCACurve
    neurons: Neurons

    def holdout_means(self) -> dict[str, tuple[float | None, float | None]]:
        """Mean proximity error (reference at the same n, held out) per holdout kind, and over the paper's
        groups as ``<kind>_paper`` where the paper's code names groups; skipped kinds are left out."""
        means = {}
        for kind, h in (("block", self.block_holdout), ("entity_type", self.entity_type_holdout)):
            if isinstance(h, Holdout):
                means[kind] = (h.mean_prox_error_default, h.mean_prox_error_heldout)
                if h.paper_groups:
                    means[f"{kind}_paper"] = (h.mean_prox_error_default_paper, h.mean_prox_error_heldout_paper)
        return means


# --------------------------------------------------------------------------- learning curve


class CurvePoint(Output):
    """One train size: test R² of the probe and of each control, trained on the same subsample."""

    n_train: int
    r2: float | None
    best_layer: int  # the probe's, chosen by train LOO R² on this subsample
    surface_r2: float | None
    random_weights_r2: float | None
    random_weights_best_layer: int | None


class CurveCrossing(Output):
    """Probe against one control along the curve (point estimates; intervals: the paired verdicts)."""

    full_n: int | None  # the largest n where both were measured
    diff_at_full_n: float | None  # probe R² - control R²
    probe_above_at_full_n: bool | None
    stays_above_from: int | None  # smallest n from which the probe is above at every larger n; None: not at full n


class LearningCurve(Output):
    """``metrics/learning_curve/<dataset>.json``."""

    model_tag: str
    prompt: str
    random_weights_model_tag: str | None
    sizes: list[int | Literal["all"]]  # as requested (learning_curve.sizes)
    n_train_split: int
    n_test: int
    points: list[CurvePoint]
    crossings: dict[str, CurveCrossing]  # surface, random_weights
    note: str


# --------------------------------------------------------------------------- report


class SummaryControls(Output):
    """Test R² of each control on the same split (``None`` where not measured)."""

    surface: float | None
    layer0: float | None
    layer0_token_mean: float | None = None  # absent in summaries written before this control
    random_weights: float | None


class HoldoutMeans(Output):
    default: float | None
    heldout: float | None


class SummaryCurvePoint(Output):
    """One point of the learning curve: test R² of the probe and each control at the same ``n_train``."""

    n_train: int
    r2: float | None
    surface_r2: float | None
    random_weights_r2: float | None


class SummaryMLP(Output):
    """The MLP probe in short (:class:`MLPvsLinear`): R² spread over seeds and the paired differences."""

    seeds: int
    r2_sd: float | None
    validation: str
    minus_linear: PairedDifference
    control: str
    control_features: str
    control_r2: float | None  # the same MLP on that control's features, mean over seeds
    minus_control: PairedDifference


class SummaryEntry(Output):
    """One (model, prompt) of one dataset. The headline run also carries the generalization stage's
    ``mlp_r2``, ``mlp``, ``best_layer_share``, ``sphere`` and ``holdout`` means, from :class:`Validity` the 95 % bootstrap interval of its R²
    (``r2_ci_*``), the paired probe - control differences (``beats``), the one-hot ridge beyond the block and
    within-block metrics and, for people, the eras, from :class:`IncrementalMetrics` what the probe adds to
    each control (``adds``), its within-block order against each control's and the block checks, and from
    the learning-curve stage
    ``learning_curve`` with, per control, the difference at full n and where the curves cross
    (``learning_curve_crossings``)."""

    best_layer: int
    n_layers: int
    rel_depth: float
    r2: float
    spearman: float | None
    prox_error: float | None
    controls: SummaryControls
    mlp_r2: float | None = None  # mean over seeds
    mlp: SummaryMLP | None = None
    best_layer_share: float | None = None  # of train resamples whose selection score picks best_layer
    sphere: PairedDifference | None = None  # mean proximity error, unit-sphere target minus lon/lat (places)
    holdout: dict[str, HoldoutMeans] | None = None
    r2_ci_low: float | None = None
    r2_ci_high: float | None = None
    learning_curve: list[SummaryCurvePoint] | None = None
    learning_curve_crossings: dict[str, CurveCrossing] | None = None
    beats: dict[str, PairedDifference] | None = None  # probe R² - control R² (the probes stage's verdicts)
    adds: dict[str, PairedDifference] | None = None  # what the probe adds to the control (IncrementalMetrics)
    block: BlockChecks | None = None  # places against their block (IncrementalMetrics)
    r2_beyond_group: PairedDifference | None = None  # ridge on block one-hot + activations, one penalty for both
    within_block_beats: dict[str, PairedDifference] | None = None  # within-block Spearman, probe - control
    within_block_spearman: dict[str, float | None] | None = None
    within_block_spearman_ci_low: float | None = None  # the probe's
    within_block_spearman_ci_high: float | None = None
    within_block_r2: dict[str, float | None] | None = None
    eras: dict[str, EraScores] | None = None


class SpacetimeSummary(Saved, RootModel[dict[str, dict[str, dict[str, SummaryEntry]]]]):
    """``metrics/spacetime/summary.json``: ``{dataset: {model: {prompt: entry}}}``, what CI compares."""

    model_config = ConfigDict(frozen=True)
