"""Typed, validated view of ``params.yaml``.

One section per concern, each a frozen pydantic model that forbids unknown keys, so a typo in
``params.yaml`` (or in ``dvc exp run -S``) fails at load with the key's path and the valid choices
instead of being silently ignored. Stages call :func:`load_params` once and pass the typed
sections to the library.

Every field that changes a result is written out in ``params.yaml`` (:func:`unstated_settings`,
checked by ``tests/unit/test_params_yaml.py``), so that DVC sees it; the code defaults below are
for library and test use. Two explicit markers exempt a field: ``NO_RESULT_EFFECT`` (politeness,
caching and timeouts of the live sources: the rows fetched are the same) and ``FILE_SOURCE_ONLY``
(fields of a dataset of your own, which the validator requires exactly when ``source: file``).
Karel profiles (``karel.profiles``, ``karel.probing``) are overlays: ``default`` states every field,
any other profile only what differs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .registry import DATASETS

# json_schema_extra markers, read by unstated_settings
NO_RESULT_EFFECT = {"affects_results": False}
FILE_SOURCE_ONLY = {"applies_to": "source: file"}


class ConfigError(ValueError):
    """``params.yaml`` is malformed; the message names the offending key and the valid choices."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- data


class ColumnMapping(Section):
    """Which columns of a user's own file play which role (``source: file``)."""

    text: str = Field(description="column holding the entity string fed to the model")
    latitude: str | None = None
    longitude: str | None = None
    date: str | None = Field(None, description="a year, a date or a datetime column (time datasets)")
    groups: list[str] = Field(default_factory=list, description="columns usable as holdout blocks")
    popularity: str | None = None
    entity_type: str | None = None
    split: str | None = Field(None, description="boolean is-test column; seeded random split if absent")
    split_group: str | None = Field(
        None, description="for a seeded split made here: rows sharing a value never straddle train and test"
    )


class DatasetConfig(Section):
    """One entity dataset: where its raw rows come from and how they are filtered."""

    source: Literal["snapshot", "live", "file"] = "snapshot"
    min_popularity: float = Field(
        0,
        ge=0,
        description="keep rows whose popularity (page views, or the dataset's own field) exceeds this; "
        "0 turns the filter off, so rows without a popularity are kept",
    )
    max_entities: int | None = Field(None, gt=0, description="seeded subsample after filtering; null keeps all (the paper)")
    year_range: tuple[int | None, int | None] | None = Field(
        None, description="time datasets: keep calendar years within [start, end] (inclusive; null = open)"
    )
    test_fraction: float = Field(0.2, gt=0, lt=1, description="for splits made here (no is_test column)")
    dedup_decimals: int = Field(
        1, ge=0, le=6, description="places: coordinates are rounded to this many decimals to find duplicates"
    )
    # ``source: file`` only: a dataset of the user's own
    path: str | None = Field(None, json_schema_extra=FILE_SOURCE_ONLY)
    kind: Literal["place", "time"] | None = Field(None, json_schema_extra=FILE_SOURCE_ONLY)
    columns: ColumnMapping | None = Field(None, json_schema_extra=FILE_SOURCE_ONLY)
    prompt: str | None = Field(
        None, description="main prompt prefix for a dataset of your own", json_schema_extra=FILE_SOURCE_ONLY
    )
    familiarity: Literal["all", "known", "unknown"] = Field(
        "all", description="probe only the entities the model knows (known), does not know (unknown), or all; "
        "the probes and generalization stages filter by the familiarity stage's labels (worldprobe.familiarity.labels)"
    )

    @model_validator(mode="after")
    def _file_fields(self) -> DatasetConfig:
        own = ("path", "kind", "columns")
        if self.source == "file":
            missing = [k for k in own if getattr(self, k) is None]
            if missing:
                raise ValueError(f"source: file needs {', '.join(missing)}")
            targets = ("latitude", "longitude") if self.kind == "place" else ("date",)
            unmapped = [t for t in targets if getattr(self.columns, t) is None]
            if unmapped:
                raise ValueError(f"kind: {self.kind} needs columns.{' and columns.'.join(unmapped)}")
        elif any(getattr(self, k) is not None for k in own):
            raise ValueError(f"{', '.join(own)} apply only to source: file")
        if self.year_range and None not in self.year_range and self.year_range[0] > self.year_range[1]:
            raise ValueError(f"year_range {list(self.year_range)}: start is after end")
        return self


class LiveConfig(Section):
    """Endpoints and politeness settings of the live sources (unused with ``source: snapshot``).

    The NYT API key is read from the environment variable ``NYT_API_KEY`` only, never from here, so
    that it cannot end up in ``params.yaml``, ``dvc.lock`` or an experiment's parameters.
    """

    dbpedia_endpoint: str = "https://dbpedia.org/sparql"
    wikidata_endpoint: str = "https://query.wikidata.org/sparql"
    wikidata_min_sitelinks: int = Field(
        20, ge=0, description="people and colleges need at least this many Wikipedia/Wikimedia sitelinks"
    )
    pageviews_url: str = "https://wikimedia.org/api/rest_v1/metrics/pageviews/per-article"
    pageviews_project: str = "en.wikipedia"
    pageviews_agent: Literal["all-agents", "user", "spider", "automated"] = "user"
    pageviews_start: str = Field("20180101", pattern=r"^\d{8}$", description="YYYYMMDD, first day counted")
    pageviews_end: str = Field("20221231", pattern=r"^\d{8}$", description="YYYYMMDD, last day counted")
    nyt_archive_url: str = "https://api.nytimes.com/svc/archive/v1"
    nyt_months: tuple[str, str] = ("2010-01", "2020-12")
    nyt_seconds_per_request: float = Field(
        12.0, ge=0, description="the Archive API allows 5 requests a minute", json_schema_extra=NO_RESULT_EFFECT
    )
    nyc_poi_url: str = "https://data.cityofnewyork.us/resource/rxuy-2muj.json"
    us_places_url: str | list[str] | None = Field(
        None, description="simplemaps-style CSV(s) of US cities/zips/counties: URL(s) or local path(s)"
    )
    user_agent: str = Field(
        "worldprobe/0.1 (https://github.com/worldprobe/worldprobe; research use)", json_schema_extra=NO_RESULT_EFFECT
    )
    page_size: int = Field(10000, gt=0, description="rows per SPARQL / Socrata page (LIMIT/OFFSET)")
    max_retries: int = Field(
        5, ge=0, description="retries of a request on 429/5xx/connection errors", json_schema_extra=NO_RESULT_EFFECT
    )
    backoff_seconds: float = Field(
        1.0, ge=0, description="exponential backoff factor between retries", json_schema_extra=NO_RESULT_EFFECT
    )
    requests_per_second: float = Field(
        50.0, gt=0, description="rate limit per endpoint, over all workers", json_schema_extra=NO_RESULT_EFFECT
    )
    workers: int = Field(
        8, gt=0, description="concurrent page-view requests (still rate limited)", json_schema_extra=NO_RESULT_EFFECT
    )
    timeout_seconds: float = Field(60.0, gt=0, json_schema_extra=NO_RESULT_EFFECT)
    cache_dir: str = Field(
        "cache/live", description="resumable cache of finished requests; delete to refetch",
        json_schema_extra=NO_RESULT_EFFECT,
    )

    @model_validator(mode="after")
    def _ranges(self) -> LiveConfig:
        if self.pageviews_start > self.pageviews_end:
            raise ValueError("pageviews_start must not be after pageviews_end")
        for month in self.nyt_months:
            if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
                raise ValueError(f"nyt_months: {month!r} is not a YYYY-MM month")
        if self.nyt_months[0] > self.nyt_months[1]:
            raise ValueError("nyt_months: the first month is after the last")
        return self


class DataConfig(Section):
    snapshot_dir: str = "../shared/snapshot"
    datasets: dict[str, DatasetConfig]

    @model_validator(mode="after")
    def _known_datasets(self) -> DataConfig:
        for name, ds in self.datasets.items():
            if name not in DATASETS and ds.source != "file":
                raise ValueError(
                    f"unknown dataset {name!r}: valid built-in datasets are {', '.join(DATASETS)}; "
                    "a dataset of your own needs source: file with path, kind and columns"
                )
            if name in DATASETS and ds.source == "file":
                raise ValueError(f"{name!r} is a built-in dataset; give your own file another name")
        return self


# --------------------------------------------------------------------------- models and activations


class ModelConfig(Section):
    """The language model to probe: a registry name or any Hugging Face id / local path."""

    name: str = "gemma-3-270m"
    device: str = "cpu"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "float32", description="auto: bfloat16 where the device computes it natively (CUDA with bf16, a CPU with "
        "AVX512-BF16 or AMX), float32 elsewhere; the activation store records the dtype used"
    )
    device_map: str | None = Field(None, description='"auto" shards a model too large for one GPU')
    revision: str | None = None


class ComparedModel(ModelConfig):
    """One model of the model axis (``models.<name>``, keyed by its registry name, Hugging Face id or local
    path): probed beside ``model`` at matched entities, without prompt variants."""

    name: str = Field("", json_schema_extra={"affects_results": False},
                      description="filled in from the key under models:")
    max_entities: int = Field(3000, gt=1, description="a seeded subsample of the prompt variants' entities, the same "
                              "for every model of the axis, drawn with the split's train/test proportions")


class RayConfig(Section):
    """Where and how the Ray backend runs the extraction (``activations.backend: ray``)."""

    address: str | None = Field(
        None, description='a running cluster ("auto", "ray://head:10001"); null: RAY_ADDRESS if set, else a local Ray'
    )
    replicas: int = Field(1, gt=0, description="model replicas (Ray actors), each loading the model once")
    num_gpus_per_replica: float = Field(0, ge=0, description="GPUs per replica: 1 per GPU; 2 for a 70B model in bf16")
    batch_size: int = Field(
        256, gt=0, description="entities per task sent to a replica; a multiple of activations.batch_size, so the "
        "forward batches (and the bytes) are the local backend's"
    )


PromptName = Literal["main", "empty", "random", "all_caps", "no_period"]  # the variants worldprobe.lm.prompts builds


class ActivationsConfig(Section):
    backend: Literal["local", "ray"] = Field("local", description="local: this process; ray: replicas on a Ray cluster")
    ray: RayConfig = RayConfig()
    prompts: list[PromptName] = ["main", "empty", "random"]
    controls: list[Literal["random_weights"]] = ["random_weights"]
    control_prompts: list[PromptName] = ["main"]
    random_prefix_tokens: int = Field(10, ge=1)
    batch_size: int = Field(32, gt=0)
    threads: int = Field(2, gt=0)
    store_dtype: Literal["float32", "float16"] = "float32"
    variant_entities: int | None = Field(
        5000, gt=1, description="every prompt but the real model's main one (variants, and the "
        "controls' prompts) runs on this seeded subsample of the entities, drawn with the split's train/test "
        "proportions; null = every entity")

    @model_validator(mode="after")
    def _whole_batches(self) -> ActivationsConfig:
        if self.ray.batch_size % self.batch_size:
            raise ValueError(
                f"ray.batch_size ({self.ray.batch_size}) must be a multiple of batch_size ({self.batch_size})"
            )
        return self


# --------------------------------------------------------------------------- probes


class AlphaGrid(Section):
    """Ridge penalties ``logspace(min_exp, max_exp, num)``, wide because a new model's best alpha is unknown."""

    min_exp: float = -2.0
    max_exp: float = 7.0
    num: int = Field(37, ge=2)

    @model_validator(mode="after")
    def _ordered(self) -> AlphaGrid:
        if self.max_exp <= self.min_exp:
            raise ValueError(f"max_exp ({self.max_exp}) must exceed min_exp ({self.min_exp})")
        return self


class MLPProbeConfig(Section):
    """The nonlinear probe of the generalization stage (one hidden ReLU layer, AdamW, early stopping)."""

    hidden: int = Field(256, gt=0, description="hidden ReLU units")
    weight_decays: list[float] = Field(
        [0.01, 0.1, 1.0, 3.0, 10.0, 30.0, 100.0], min_length=1,
        description="AdamW weight decays; the best on validation is kept and flagged when it is the smallest or "
        "largest (widen the grid then)",
    )
    lr: float = Field(1e-3, gt=0)
    batch_size: int = Field(128, gt=0)
    max_epochs: int = Field(200, gt=0)
    patience: int = Field(10, gt=0, description="epochs without a better validation loss before stopping")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="share of the train split held out for early stopping "
                                "(whole groups where the split holds out groups)")
    seeds: int = Field(3, ge=1, description="networks trained from this many seeds (initialisation, minibatch order, "
                       "validation rows); the first chooses the weight decay, the others train at it; R² reported as mean and spread")


class SurfaceConfig(Section):
    """TF-IDF character n-grams of the entity string: the surface-form control."""

    ngram_min: int = Field(1, ge=1)
    ngram_max: int = Field(4, ge=1)
    max_features: int = Field(50000, gt=0)
    max_loo_rows: int = Field(
        5000, ge=0, description="up to this many training rows the ridge picks alpha by exact leave-one-out (an n x n "
        "eigendecomposition, cost n³); above it by K-fold CV, K = kfold (SparseRidgeKFold, same grid)"
    )
    kfold: int = Field(5, ge=2, description="folds of the CV above max_loo_rows")

    @model_validator(mode="after")
    def _ordered(self) -> SurfaceConfig:
        if self.ngram_max < self.ngram_min:
            raise ValueError(f"ngram_max ({self.ngram_max}) is below ngram_min ({self.ngram_min})")
        return self


class ProbesConfig(Section):
    standardize: bool = Field(True, description="z-score activations on the train split (False = paper's raw)")
    alphas: AlphaGrid = AlphaGrid()
    mlp: MLPProbeConfig = MLPProbeConfig()
    surface: SurfaceConfig = SurfaceConfig()
    pca_components: list[int] = Field(
        [2, 4, 6, 8, 10, 15, 20, 30, 40, 50, 75, 100],
        description="k of the PCA-k probes (the full-dimension probe is always added); k >= d is skipped",
    )
    pca_fit: Literal["standardized_train", "raw_all"] = Field(
        "standardized_train", description="PCA-k probes: PCA fitted on the train split's standardised activations "
        "(standardized_train, no test input seen) or, as the paper's code, on the raw activations of all entities, "
        "train and test (raw_all)"
    )
    top_neurons: int = Field(10, gt=0)
    group_folds: int = Field(
        5, ge=2, description="where the split holds out whole groups (validity.split_groups), alpha and best layer "
        "are chosen by GroupKFold over those groups with this many folds; leave-one-out elsewhere"
    )
    holdout_blocks: int = Field(
        10, gt=0, description="block / entity-type holdout: hold out each of the K largest groups in turn"
    )
    min_holdout_test: int = Field(
        5, ge=2, description="a group needs this many test-split entities to be held out (fewer: reported, skipped)"
    )
    threads: int | None = Field(
        1, gt=0, description="BLAS and torch threads while fitting probes; 1 is fastest for these small "
        "matrices on a busy machine (spinning threads stall), null leaves the libraries' default"
    )

    @model_validator(mode="after")
    def _positive_components(self) -> ProbesConfig:
        bad = [k for k in self.pca_components if k < 1]
        if bad:
            raise ValueError(f"pca_components must be >= 1, got {bad}")
        return self


# --------------------------------------------------------------------------- learning curve


class LearningCurveConfig(Section):
    """Probe, surface and random-weights control on the same nested seeded subsamples of the train split."""

    sizes: list[int | Literal["all"]] = Field(
        [250, 500, 1000, 2000, 4000, "all"], min_length=1,
        description="train sizes; sizes above the train split are skipped, all = the whole train split",
    )

    @model_validator(mode="after")
    def _positive(self) -> LearningCurveConfig:
        bad = [s for s in self.sizes if s != "all" and s < 3]
        if bad:
            raise ValueError(f"learning-curve sizes must be >= 3 (a ridge needs 3 rows) or 'all', got {bad}")
        return self


# --------------------------------------------------------------------------- validity


class SplitGroup(Section):
    """The column whose values a dataset's train/test split keeps together (``worldprobe.spacetime.validity``)."""

    column: str = Field(description="entity-table column; rows sharing a value are all train or all test")
    own_group_values: list[str] = Field(
        description="values that mean 'no group': each such row is its own group (NYC complexid 0)")


class ValidityConfig(Section):
    """What the headline probe adds beyond its controls and the dataset's blocks (``worldprobe.spacetime.validity``)."""

    split_groups: dict[str, SplitGroup] = Field(
        {"nyc": SplitGroup(column="complexid", own_group_values=["0"]),
         "art": SplitGroup(column="creator", own_group_values=[])},
        description="datasets whose split holds out whole groups: bootstrap intervals resample those groups and "
        "selection uses grouped K-fold; datasets not named are split (and resampled) by entity",
    )
    n_boot: int = Field(1000, ge=100, description="bootstrap resamples for every interval of the probes stage")
    min_block_test: int = Field(
        5, ge=2, description="within-block metrics use blocks with at least this many test entities")
    era_split_year: dict[str, float] = Field(
        {"people": 1500}, description="time datasets scored by era too: before this year vs this year or later")


class IncrementalConfig(Section):
    """What the probe adds to each control (``worldprobe.spacetime.incremental``); its intervals take
    ``validity.n_boot`` resamples and ``validity.split_groups``, as the probes stage's do."""

    folds: int = Field(10, ge=2, description="the least-squares fits of control and probe predictions are "
                       "cross-fitted over this many folds of the test rows (whole split groups per fold)")


# --------------------------------------------------------------------------- familiarity


class FamiliarityConfig(Section):
    """Does the model know the entity? A few-shot question per dataset (``worldprobe.familiarity.labels``)."""

    shots: int = Field(3, ge=0, description="few-shot examples in the shared prompt prefix, drawn (seeded) from "
                       "train entities that are never labelled, each with a different answer")
    train_sample: int | None = Field(
        500, gt=0, description="train entities labelled (seeded) for the known-only and knowledge probes; null = all")
    test_sample: int | None = Field(
        500, gt=0, description="test entities labelled (seeded): the split metrics are scored on them; null = all. "
        "A dataset with familiarity: known | unknown labels every entity (its probes train and test on them)")
    top_k: int = Field(5, ge=1, description="places: the gold answer among the k best-scored candidates (top-k)")
    min_candidate_entities: int = Field(
        3, ge=1, description="places: an answer (country, state, borough) is a candidate if at least this many "
        "entities of the table have it; rarer gold answers are counted unknown (gold_in_candidates false)")
    max_new_tokens: int = Field(8, gt=0, description="time: greedy answer length in tokens")
    year_tolerance: dict[str, float] = Field(
        {"people": 10, "art": 2, "headlines": 1},
        description="time: the answer counts as known within this many years of the true year, per dataset")
    default_year_tolerance: float = Field(5, ge=0, description="time datasets absent from year_tolerance")
    score: Literal["distinct", "sum", "mean"] = Field(
        "distinct", description="places: a candidate's score, as the readout computes it: distinct = log-prob of "
        "its shortest token prefix no other candidate shares (the model's choice among the candidates; cheap), "
        "sum = sequence log-prob, mean = per-token mean (favours long names)")
    batch_size: int = Field(16, gt=0)
    threads: int = Field(2, gt=0, description="torch threads of the readout")
    bootstrap: int = Field(1000, ge=100, description="bootstrap resamples for every interval: of test entities, or "
                           "of whole split groups where the split holds groups out (validity.split_groups)")
    knowledge_probe_c: list[float] = Field(
        [1e-5, 1e-4, 0.001, 0.01, 0.1, 1.0], min_length=1,
        description="inverse L2 penalties of the per-layer logistic knowledge probe (and its logistic baselines), "
        "chosen by 5-fold CV AUROC on train; a choice at an end of the grid is flagged")

    def tolerance(self, dataset: str) -> float:
        return self.year_tolerance.get(dataset, self.default_year_tolerance)

# --------------------------------------------------------------------------- causal intervention


class InterventionConfig(Section):
    """The causal test (stage ``intervene``): edit along probe directions at a sweep of layers, read what the
    model says, ablate the probe subspace.

    Readout rows per dataset = n_entities x layers x (targets x 2 x (len(ratios) + 2 x len(control_ratios))
    + 2 x len(ablation_iterations) + 1), plus the unedited reading.
    """

    datasets: list[Literal["world", "people"]] = Field(
        ["world", "people"], description="world: country readout -> lat/lon; people: century readout -> birth year"
    )
    n_entities: int = Field(100, gt=1, description="test-split entities edited (seeded subsample)")
    first_layer: int = Field(1, ge=0, description="the first store layer edited")
    layer_step: int = Field(2, gt=0, description="edit every layer_step-th store layer up to the last block's input")
    ratios: list[float] = Field(
        [0.01, 0.03, 0.1, 0.3, 1.0], min_length=1,
        description="probe edit sizes, as ‖δ‖ / median ‖residual‖ at the edited position; each at +δ and -δ",
    )
    control_ratios: list[float] = Field(
        [0.03, 0.3], min_length=1, description="sizes of the control edits (a subset of ratios: the paired verdicts)"
    )
    ablation_iterations: list[int] = Field(
        [1, 4], min_length=1,
        description="ablated probe subspaces: this many nullspace-projection probes per target (1: the probes themselves)",
    )
    nullspace_rows: int = Field(4000, gt=10, description="train rows (seeded) the nullspace probes and the PCA basis are fitted on")
    pca_components: int = Field(50, gt=1, description="the orthogonal control lies in this top-PCA subspace")
    n_candidates: int = Field(40, gt=1, description="world: most frequent train-split countries offered")
    batch_size: int = Field(64, gt=0)
    threads: int = Field(2, gt=0)
    n_boot: int = Field(1000, ge=100, description="bootstrap resamples of the entities for every interval")

    @model_validator(mode="after")
    def _sizes(self) -> InterventionConfig:
        if any(r <= 0 for r in self.ratios):
            raise ValueError("ratios are positive (each edit is made at +δ and -δ)")
        if not set(self.control_ratios) <= set(self.ratios):
            raise ValueError(f"control_ratios {self.control_ratios} must be among ratios {self.ratios}: "
                             "the verdicts pair the probe and its controls at equal size")
        return self


# --------------------------------------------------------------------------- Karel


CORPUS_FIELDS = ("grid_size", "spec_examples", "heldout_examples", "train_lengths", "test_lengths",
                 "wall_prob", "marker_prob", "n_train", "n_val", "n_test")


class KarelProfile(Section):
    """Sizes of one Karel run; ``karel.profile`` picks one of ``karel.profiles``."""

    # corpus
    grid_size: int = Field(4, ge=2, description="interior cells per side (the border wall is added)")
    spec_examples: int = Field(5, ge=1, description="input/output pairs in each text (the specification)")
    heldout_examples: int = Field(5, ge=0, description="extra pairs per task, never shown, scored by synthesis")
    train_lengths: tuple[int, int] = Field((1, 6), description="program lengths [min, max] of train and val")
    test_lengths: tuple[int, int] = Field((1, 6), description="program lengths [min, max] of test")
    wall_prob: float = Field(0.1, ge=0, lt=1)
    marker_prob: float = Field(0.1, ge=0, le=1)
    n_train: int = Field(50000, gt=0)
    n_val: int = Field(500, gt=0)
    n_test: int = Field(500, gt=0)
    # model and training
    d_model: int = Field(128, gt=0)
    n_layers: int = Field(4, gt=0)
    n_heads: int = Field(4, gt=0)
    batch_size: int = Field(32, gt=0)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_steps: int = Field(200, ge=1, description="linear warmup, then cosine decay to 10 % at max_steps")
    max_steps: int = Field(6000, gt=0)
    max_minutes: float | None = Field(None, gt=0, description="wall-clock cap; the run then ends early")
    checkpoint_every: int = Field(500, gt=0, description="checkpoints at step 0, every N steps and the last step")
    log_every: int = Field(50, gt=0, description="train/val loss rows in plots/karel/loss.csv")
    loss_on: Literal["all", "program"] = Field("all", description="next-token loss on every token or the program only")
    threads: int = Field(1, gt=0, description="torch CPU threads for training (results depend on it in the last digits); "
                         "2 help only on idle cores: spinning threads stall a shared machine")
    # traces and probes
    probe_input: int | Literal["all"] = Field(0, description="which spec input the traces execute on, or all of "
                                              "them (one row per input, each with the same hidden state)")
    probe_hidden: int = Field(64, gt=0, description="hidden width of the MLP probes")

    @model_validator(mode="after")
    def _consistent(self) -> KarelProfile:
        for name in ("train_lengths", "test_lengths"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ValueError(f"{name} must be [min, max] with 1 <= min <= max, got [{lo}, {hi}]")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        if self.probe_input != "all" and not 0 <= self.probe_input < self.spec_examples:
            raise ValueError(f"probe_input={self.probe_input} must be 'all' or index a spec example "
                             f"(0 to {self.spec_examples - 1})")
        return self

    @property
    def corpus_fields(self) -> dict:
        """The settings the corpus depends on (its metadata records these and nothing else)."""
        return self.model_dump(mode="json", include=set(CORPUS_FIELDS))

    @property
    def probe_inputs(self) -> list[int]:
        return list(range(self.spec_examples)) if self.probe_input == "all" else [self.probe_input]


KAREL_FEATURES = ("mean", "concat", "layers")  # mean over layers, all layers side by side, each layer alone


class KarelProbing(Section):
    """Probe set and probe training of one Karel profile (``karel.probing.<profile>``).

    Apart from :class:`KarelProfile` on purpose: the corpus metadata and the training fingerprint
    embed the whole profile, so a probe setting there would invalidate the trained model.
    The probe tasks are fresh seeded draws (streams ``karel/<seed>/probe_<split>``, the train
    distribution), never seen in training; synthesis accuracy stays on the corpus's test split.
    """

    train_specs: int = Field(5000, gt=0, description="tasks whose generated programs train the probes")
    val_specs: int = Field(1000, gt=0, description="tasks on which regularisation and early stopping are chosen")
    test_specs: int = Field(1500, gt=0, description="tasks on which every probe and baseline is scored")
    max_train_rows: int = Field(20000, gt=0, description="probe-train rows drawn at random beyond this (the authors "
                                "draw 100k); bounds the cost of early checkpoints that write long degenerate programs")
    offsets: list[int] = Field([-1, 0, 1, 2], description="facing after action k+o for the state that produces "
                               "action k; -1 is the state that has read the previous action")
    features: list[Literal["mean", "concat", "layers"]] = Field(list(KAREL_FEATURES), description="feature sets of "
                                                                 "the linear probes")
    full_features: list[Literal["mean", "concat", "layers"]] = Field(["mean"], description="feature sets whose "
                                                                      "linear probes also get the alternative semantics")
    tested_features: list[Literal["mean", "concat", "layers"]] = Field(
        ["mean", "concat"], description="feature sets of the linear probes on the fixed (teacher-forced) probe "
        "set, and of the paired tests against the text nulls in both probe sets")
    control_back: int = Field(2, ge=2, description="the distance control reads action k - control_back at the "
                              "state that writes action k (k - 1 is the state's own token, no distance)")
    bootstraps: int = Field(2000, ge=100, description="resamples of the paired intervals (test programs) and the "
                            "slope intervals (checkpoints)")
    linear_C: list[float] = Field([0.01, 0.1, 1.0], min_length=1, description="inverse L2 strengths of the "
                                  "logistic regression; the best on val is kept")
    linear_max_iter: int = Field(100, gt=0, description="Newton iterations; a fit that hits it is reported unconverged")
    linear_tol: float = Field(1e-4, gt=0)
    mlp_features: list[Literal["mean", "concat", "layers"]] = Field(["mean", "concat"], description="feature sets "
                                                                     "of the MLP probes")
    mlp_every: int = Field(6, gt=0, description="MLP probes at every N-th checkpoint (and always the last)")
    mlp_lr: float = Field(0.02, gt=0, description="AdamW, the authors' value")
    mlp_weight_decay: float = Field(0.2, ge=0, description="on weights only, the authors' value")
    mlp_dropout: float = Field(0.2, ge=0, lt=1)
    mlp_final_lr: float = Field(1e-3, gt=0, le=1, description="the learning rate decays exponentially to this "
                                "fraction of mlp_lr at mlp_max_steps (the authors: 0.95^150 = 5e-4)")
    mlp_batch_size: int = Field(1024, gt=1)
    mlp_max_steps: int = Field(1500, gt=0)
    mlp_eval_every: int = Field(100, gt=0, description="steps between val checks")
    mlp_patience: int = Field(5, gt=0, description="val checks without a better accuracy on any head before stopping")
    mlp_slack: float = Field(0.01, ge=0, description="an MLP below the linear probe's val accuracy by more than this "
                             "is no upper bound of it: its score is left out (and counted)")

    @model_validator(mode="after")
    def _consistent(self) -> KarelProbing:
        if sorted(set(self.offsets)) != self.offsets or self.offsets[0] < -1 or 0 not in self.offsets:
            raise ValueError(f"offsets must be increasing, >= -1 and include 0, got {self.offsets}")
        for name in ("full_features", "mlp_features", "tested_features"):
            extra = set(getattr(self, name)) - set(self.features)
            if extra:
                raise ValueError(f"{name} {sorted(extra)} must also be in features {self.features}")
        return self


class KarelConfig(Section):
    profile: str = "default"
    profiles: dict[str, KarelProfile] = Field(
        description="``default`` states every field; another profile is an overlay on it (only what differs)"
    )
    probing: dict[str, KarelProbing] = Field(
        default_factory=dict, description="probe settings per profile name, overlays on ``default`` like the "
        "profiles; a profile without an entry gets ``default``'s (or the code defaults where there is none)"
    )
    alt_semantics: list[Literal["flip", "move_turns"]] = ["flip", "move_turns"]
    device: str = Field("cpu", description="torch device for training and synthesis, e.g. cuda")

    @model_validator(mode="before")
    @classmethod
    def _overlay_on_default(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        merged = dict(raw)
        for key in ("profiles", "probing"):
            entries = raw.get(key)
            if not isinstance(entries, dict) or not isinstance(entries.get("default"), dict):
                continue
            base = entries["default"]
            merged[key] = {name: {**base, **(p or {})} if isinstance(p, dict | None) else p
                           for name, p in entries.items()}
        return merged

    @model_validator(mode="after")
    def _known_profile(self) -> KarelConfig:
        if self.profile not in self.profiles:
            raise ValueError(f"unknown profile {self.profile!r}: valid profiles are {', '.join(self.profiles)}")
        return self

    @property
    def active(self) -> KarelProfile:
        return self.profiles[self.profile]

    @property
    def active_probing(self) -> KarelProbing:
        return self.probing.get(self.profile, self.probing.get("default", KarelProbing()))


# --------------------------------------------------------------------------- all of params.yaml


class Params(Section):
    seed: int = 0
    data: DataConfig
    live: LiveConfig = LiveConfig()
    model: ModelConfig = ModelConfig()
    models: dict[str, ComparedModel] = Field({}, description="the model axis: each model probed beside `model` at "
                                             "matched entities ({} = `model` alone)")
    activations: ActivationsConfig = ActivationsConfig()
    probes: ProbesConfig = ProbesConfig()
    learning_curve: LearningCurveConfig = LearningCurveConfig()
    validity: ValidityConfig = ValidityConfig()
    incremental: IncrementalConfig = IncrementalConfig()
    familiarity: FamiliarityConfig = FamiliarityConfig()
    intervention: InterventionConfig = InterventionConfig()
    karel: KarelConfig

    @field_validator("models", mode="before")
    @classmethod
    def _named_by_their_keys(cls, models: Any) -> Any:
        if not isinstance(models, dict):
            return models
        named = {}
        for key, entry in models.items():
            entry = dict(entry or {})
            if entry.setdefault("name", key) != key:
                raise ValueError(f"models.{key}.name: the key is the name; leave name out")
            named[key] = entry
        return named

    @model_validator(mode="after")
    def _axis_excludes_the_model(self) -> Params:
        if self.model.name in self.models:
            raise ValueError(f"models: {self.model.name!r} is `model` itself (probed at every entity); take it off "
                             f"the axis: dvc exp run -S model.name={self.model.name} -S '~models.{self.model.name}'")
        return self

    def for_model(self, key: str) -> Params:
        """These params with ``models.<key>`` as ``model``, its activations on the axis subsample (main prompt
        and each control's main prompt only)."""
        if key not in self.models:
            raise ConfigError(f"model {key!r} is not under models: in params.yaml: {', '.join(self.models) or 'none'}")
        entry = self.models[key]
        activations = self.activations.model_copy(update={"prompts": ["main"], "control_prompts": ["main"]})
        return self.model_copy(update={"model": ModelConfig(**entry.model_dump(exclude={"max_entities"})),
                                       "activations": activations})

    @model_validator(mode="after")
    def _validity_of_known_datasets(self) -> Params:
        known = list(DATASETS) + [d for d in self.data.datasets if d not in DATASETS]  # a subset may be run
        for key in ("split_groups", "era_split_year"):
            unknown = sorted(set(getattr(self.validity, key)) - set(known))
            if unknown:
                raise ValueError(f"validity.{key} names unknown dataset(s) {unknown}; valid: {', '.join(known)}")
        return self


def unstated_settings(raw: dict[str, Any]) -> list[str]:
    """Dotted paths of the result-changing fields that ``raw`` (a loaded ``params.yaml``) leaves to
    their code default; empty when the file states every one. Karel profiles and probe settings other
    than ``default`` are overlays on it, so only ``default`` must be complete."""

    def walk(model: type[BaseModel], node: Any, where: str) -> list[str]:
        missing = []
        for name, field in model.model_fields.items():
            extra = field.json_schema_extra or {}
            if extra.get("affects_results") is False or "applies_to" in extra:
                continue
            path = f"{where}{name}"
            if not isinstance(node, dict) or name not in node:
                missing.append(path)
                continue
            value, annotation = node[name], field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                missing += walk(annotation, value, f"{path}.")
            elif get_origin(annotation) is dict and issubclass(get_args(annotation)[1], BaseModel):
                overlays = path in ("karel.profiles", "karel.probing")
                entries = {"default": (value or {}).get("default")} if overlays else (value or {})
                for key, entry in entries.items():
                    missing += walk(get_args(annotation)[1], entry, f"{path}.{key}.")
        return missing

    return walk(Params, raw, "")


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    return f"{where}: {error['msg']}"


def parse_params(raw: Any, origin: str = "params.yaml") -> Params:
    """Validate an already-loaded mapping; every problem is listed in one :class:`ConfigError`."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping of sections at the top level, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "\n  ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{origin} is invalid:\n  {problems}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such params file (run from the repository root)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return parse_params(raw, str(path))

