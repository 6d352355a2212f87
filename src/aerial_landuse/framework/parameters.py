"""The run's parameters checked before any node runs: types, ranges, the names of networks and
classifiers, and names that become paths (model, data set) as safe identifiers, so that a typo
fails in a second with the parameter's name, not after featurize with a stack trace."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from aerial_landuse.core.contracts import CLASSIFIER_NAMES, SAFE_NAME_RULE, is_safe_name
from aerial_landuse.core.errors import UserInputError
from aerial_landuse.core.networks.registry import BASE_NETWORKS, TTA_VIEWS, is_network_name


def _safe_name(value: str) -> str:
    if not is_safe_name(value):
        raise ValueError(f"must be {SAFE_NAME_RULE}")
    return value


def _network(value: str) -> str:
    if not is_network_name(value):
        raise ValueError(
            f"must be one of {list(BASE_NETWORKS)}, one of them + '_int8', '_finetuned' or "
            "'_finetuned_int8', or two of those joined by '+' (features fused)"
        )
    return value


def _classifier(value: str) -> str:
    if value not in CLASSIFIER_NAMES:
        raise ValueError(f"must be one of {list(CLASSIFIER_NAMES)}")
    return value


def _views(value: int) -> int:
    if value not in TTA_VIEWS:
        raise ValueError(f"must be one of {list(TTA_VIEWS)} (dihedral views averaged)")
    return value


REGION_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]")


def _region(value: str) -> str:
    if not REGION_NAME.fullmatch(value) or "--" in value:
        raise ValueError(
            "must be 3-63 lowercase letters, digits or single hyphens (it names a folder, and a "
            "blob container on Azure), e.g. middlesexma2016"
        )
    return value


SafeName = Annotated[str, AfterValidator(_safe_name)]
RegionName = Annotated[str, AfterValidator(_region)]
Network = Annotated[str, AfterValidator(_network)]
Classifier = Annotated[str, AfterValidator(_classifier)]
Share = Annotated[float, Field(gt=0, le=1)]
Views = Annotated[int, AfterValidator(_views)]
Count = Annotated[int, Field(ge=1)]
# MulticlassClassificationEvaluator's metricName values (Spark 3.5)
SparkClassificationMetric = Literal[
    "f1",
    "accuracy",
    "weightedPrecision",
    "weightedRecall",
    "weightedTruePositiveRate",
    "weightedFalsePositiveRate",
    "weightedFMeasure",
    "truePositiveRateByLabel",
    "falsePositiveRateByLabel",
    "precisionByLabel",
    "recallByLabel",
    "fMeasureByLabel",
    "logLoss",
    "hammingLoss",
]


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class RasterParameters(_Block):
    """How a region of GeoTIFF/COG files is cut into cells (docs/rasters.md)."""

    tile_size_m: Annotated[float, Field(gt=0)]
    crs: Annotated[int, Field(ge=1024)] | None  # the grid's EPSG code; None: the first file's
    area: tuple[float, float, float, float] | None  # left, bottom, right, top in the grid's CRS
    bands: tuple[Count, Count, Count]
    max_nodata_share: Annotated[float, Field(ge=0, le=1)]
    resampling: Literal["average", "bilinear", "cubic", "lanczos", "nearest"]
    stac_asset: str


class LandCoverParameters(_Block):
    """How the cells of a labelled raster set are labelled and split (docs/rasters.md)."""

    classes: dict[int, str | None]  # land-cover code -> land-use class; None: excluded
    min_label_purity: Share
    class_column: str  # the land-use class of each polygon of a labelled polygon layer
    split_block_cells: Count
    test_block_share: Annotated[float, Field(gt=0, lt=1)]


class IngestParameters(_Block):
    test_fraction: Annotated[float, Field(gt=0, lt=1)] | None
    sample_frac: Share
    score_sample_frac: Share
    seed: int
    max_quarantined_share: Annotated[float, Field(ge=0, le=1)]
    min_tile_side: Count
    max_tile_megapixels: Annotated[float, Field(gt=0)]
    max_tile_bytes: Count
    follow_external_links: bool
    rows_per_partition: Count
    raster: RasterParameters
    land_cover: LandCoverParameters


class FeaturizeParameters(_Block):
    pretrained_model: Network
    tta_views: Views
    backend: Literal["onnxruntime", "synapseml"]
    batch_size: Count
    onnx_threads: Count
    decode_threads: Count
    decode_ahead: Annotated[int, Field(ge=0)]
    rows_per_partition: Count


class TuningParameters(_Block):
    method: Literal["cross_validation", "train_validation_split"]
    folds: Annotated[int, Field(ge=2)]
    train_ratio: Annotated[float, Field(gt=0, lt=1)]
    metric: SparkClassificationMetric
    parallelism: Count
    seed: int
    grids: dict[Classifier, dict[str, list[Any]] | None]


class TrainParameters(_Block):
    pretrained_model: Network
    tta_views: Views
    classifier: Classifier
    model_name: SafeName
    # tuned: the grid search of ``tuning``; as_given: ``hyperparameters`` as they are
    preset: Literal["tuned", "as_given"]
    tuning: TuningParameters
    hyperparameters: dict[Classifier, dict[str, Any] | None]


class FinetuneParameters(_Block):
    pretrained_model: Network
    validation_fraction: Annotated[float, Field(gt=0, lt=1)]
    max_tiles: Count | None
    max_epochs: Count
    patience: Count
    batch_size: Count
    learning_rate: Annotated[float, Field(gt=0)]
    backbone_lr_factor: Annotated[float, Field(ge=0)]
    weight_decay: Annotated[float, Field(ge=0)]
    label_smoothing: Annotated[float, Field(ge=0, lt=1)]
    trainable_blocks: Annotated[int, Field(ge=-1)]
    crop_scale: tuple[Share, Share]
    colour_jitter: Annotated[float, Field(ge=0, le=1)]
    seed: int
    num_processes: Count
    local_mode: bool
    use_gpu: bool | Literal["auto"]


class PretrainedParameters(_Block):
    pretrained_model: Network
    pretrained_weights: bool
    calibration_tiles: Count
    seed: int


class SmoothingParameters(_Block):
    radius: Annotated[int, Field(ge=0, le=10)]
    weights: Literal["gaussian", "uniform"]
    sigma: Annotated[float, Field(gt=0)]


class ScoreParameters(_Block):
    model_name: SafeName
    pretrained_model: Network
    tta_views: Views
    smoothing: SmoothingParameters


class ReportParameters(_Block):
    title: str
    data_note: str
    gallery_tiles_per_class: Annotated[int, Field(ge=0)]
    max_quarantine_rows: Annotated[int, Field(ge=0)]
    seed: int
    review_tiles: Count


class ChangeParameters(_Block):
    title: str
    before: RegionName
    after: RegionName
    labels: Literal["smoothed", "raw"]
    min_confidence: Annotated[float, Field(ge=0, le=1)]
    threshold_sweep: list[Annotated[float, Field(ge=0, le=1)]]
    match_on: Literal["bounds", "filename"]
    max_offset_m: Annotated[float, Field(gt=0)]
    review_tiles: Count


class CompareParameters(_Block):
    metric: str
    max_runs_in_figure: Count
    dataset: SafeName | None


class DemoRegionParameters(_Block):
    rows: Count
    cols: Count
    north_lat: Annotated[float, Field(ge=-90, le=90)]
    west_lon: Annotated[float, Field(ge=-180, le=180)]


class DemoChangeParameters(_Block):
    before_year: int
    after_year: int
    development_sites: Annotated[int, Field(ge=0)]
    forest_clearings: Annotated[int, Field(ge=0)]
    site_radius_tiles: Annotated[float, Field(gt=0)]


class DemoRasterParameters(_Block):
    crs: Annotated[str, Field(pattern=r"^EPSG:326(0[1-9]|[1-5][0-9]|60)$")]  # a UTM zone (north)
    quads: Count
    quad_px: Count
    resolution: Annotated[float, Field(gt=0)]
    overlap_px: Annotated[int, Field(ge=0)]
    collar_px: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _quads_fit_the_layout(self) -> DemoRasterParameters:
        from aerial_landuse.core.tiles.demo_rasters import MosaicLayout

        MosaicLayout(quad_px=self.quad_px, overlap_px=self.overlap_px, collar_px=self.collar_px)
        return self


class DemoDataParameters(_Block):
    seed: int
    tile_size: Count
    tile_size_m: Annotated[float, Field(gt=0)]
    train_tiles_per_class: Count
    test_tiles_per_class: Count
    edge_mix_probability: Annotated[float, Field(ge=0, le=1)]
    region: DemoRegionParameters
    change: DemoChangeParameters
    rasters: DemoRasterParameters


class RunParameters(BaseModel):
    """Every parameter of conf/base/parameters*.yml: its rule here, its value (the default) in
    the YAML and nowhere else, so no field has a default in code. Keys given only with
    ``--params`` that the catalog reads (``select_by``, ``before``, ``after``,
    ``storage_account``) are allowed beside them."""

    model_config = ConfigDict(extra="allow")

    dataset: SafeName
    pretrained_model: Network
    tta: Views
    features: SafeName
    classifier: Classifier
    model_name: SafeName  # or best: the top MLflow run's model
    region: RegionName
    ingest: IngestParameters
    featurize: FeaturizeParameters
    finetune: FinetuneParameters
    pretrained: PretrainedParameters
    train: TrainParameters
    score: ScoreParameters
    report: ReportParameters
    change: ChangeParameters
    compare: CompareParameters
    demo_data: DemoDataParameters


def validate_parameters(params: dict[str, Any]) -> None:
    """Raise a UserInputError listing every parameter that is wrong, by its dotted name."""
    try:
        RunParameters.model_validate(params)
    except ValidationError as exc:
        problems = [_problem(error) for error in exc.errors()]
        raise UserInputError(
            "Parameter(s) not valid (conf/base/parameters*.yml, or --params):\n  "
            + "\n  ".join(problems)
        ) from None


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    given = error.get("input")
    if error["type"] == "missing" or isinstance(given, dict):
        return f"{where}: {_message(error)}"
    return f"{where} = {given!r}: {_message(error)}"


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "not a known parameter (a typo?)"
    return str(error["msg"]).removeprefix("Value error, ")
