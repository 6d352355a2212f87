"""The run's parameters checked before any node runs: types, ranges, the names of networks and
classifiers, and names that become paths (model, data set) as safe identifiers, so that a typo
fails in a second with the parameter's name, not after featurize with a stack trace."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from aerial_landuse.core.contracts import (
    BASE_NETWORKS,
    CLASSIFIER_NAMES,
    TTA_VIEWS,
    is_network_name,
)
from aerial_landuse.core.errors import UserInputError

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}")  # +: fused networks


def _safe_name(value: str) -> str:
    if not SAFE_NAME.fullmatch(value) or ".." in value:
        raise ValueError(
            "must be a plain name (letters, digits, _ . + -; no / or ..): it becomes a folder "
            "under the project's data"
        )
    return value


def _network(value: str) -> str:
    if not is_network_name(value):
        raise ValueError(
            f"must be one of {list(BASE_NETWORKS)}, one of them + '_int8' or '_finetuned', "
            "or two of those joined by '+' (features fused)"
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


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class IngestParameters(_Block):
    test_fraction: Annotated[float, Field(gt=0, lt=1)] | None = None
    sample_frac: Share = 1.0
    score_sample_frac: Share = 1.0
    seed: int = 42
    max_quarantined_share: Annotated[float, Field(ge=0, le=1)] = 0.05
    min_tile_side: Count = 32
    max_tile_megapixels: Annotated[float, Field(gt=0)] = 40.0
    rows_per_partition: Count = 256


class FeaturizeParameters(_Block):
    pretrained_model: Network
    tta_views: Views = 1
    backend: Literal["onnxruntime", "synapseml"] = "onnxruntime"
    batch_size: Count = 16
    onnx_threads: Count = 1
    decode_threads: Count = 1
    decode_ahead: Annotated[int, Field(ge=0)] = 2
    rows_per_partition: Count = 512


class TuningParameters(_Block):
    method: Literal["cross_validation", "train_validation_split"] = "cross_validation"
    folds: Annotated[int, Field(ge=2)] = 3
    train_ratio: Annotated[float, Field(gt=0, lt=1)] = 0.75
    metric: str = "accuracy"
    parallelism: Count = 1
    seed: int = 42
    grids: dict[Classifier, dict[str, list[Any]] | None] = {}


class TrainParameters(_Block):
    pretrained_model: Network
    tta_views: Views = 1
    classifier: Classifier
    model_name: SafeName
    preset: Literal["tuned", "seed"] = "seed"
    tuning: TuningParameters = TuningParameters()
    hyperparameters: dict[Classifier, dict[str, Any] | None] = {}


class FinetuneParameters(_Block):
    pretrained_model: Network
    validation_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2
    max_tiles: Count | None = None
    max_epochs: Count = 15
    patience: Count = 4
    batch_size: Count = 32
    learning_rate: Annotated[float, Field(gt=0)] = 1e-3
    backbone_lr_factor: Annotated[float, Field(ge=0)] = 0.1
    weight_decay: Annotated[float, Field(ge=0)] = 1e-4
    label_smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.1
    trainable_blocks: Annotated[int, Field(ge=-1)] = -1
    crop_scale: tuple[Share, Share] = (0.5, 1.0)
    colour_jitter: Annotated[float, Field(ge=0, le=1)] = 0.2
    seed: int = 42
    num_processes: Count = 1
    local_mode: bool = True
    use_gpu: bool | Literal["auto"] = "auto"


class SmoothingParameters(_Block):
    radius: Annotated[int, Field(ge=0, le=10)] = 1
    weights: Literal["gaussian", "uniform"] = "gaussian"
    sigma: Annotated[float, Field(gt=0)] = 0.7


class ScoreParameters(_Block):
    model_name: SafeName
    pretrained_model: Network
    tta_views: Views = 1
    smoothing: SmoothingParameters = SmoothingParameters()


class ChangeParameters(_Block):
    title: str = "Land-use change"
    before: RegionName
    after: RegionName
    labels: Literal["smoothed", "raw"] = "raw"
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.8
    threshold_sweep: list[Annotated[float, Field(ge=0, le=1)]] = []
    match_on: Literal["bounds", "filename"] = "bounds"
    max_offset_m: Annotated[float, Field(gt=0)] = 30.0
    review_tiles: Count = 24


class RunParameters(BaseModel):
    """The blocks every pipeline shares; other keys (report, compare...) are their nodes'."""

    model_config = ConfigDict(extra="allow")

    dataset: SafeName
    pretrained_model: Network
    tta: Views = 1
    classifier: Classifier
    model_name: SafeName  # or best: the top MLflow run's model
    region: RegionName
    ingest: IngestParameters
    featurize: FeaturizeParameters
    finetune: FinetuneParameters
    train: TrainParameters
    score: ScoreParameters
    change: ChangeParameters


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
