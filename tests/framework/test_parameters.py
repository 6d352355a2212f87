"""Parameters are checked before any work, each problem named by its dotted key."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from pydantic import BaseModel

from aerial_landuse.core.errors import UserInputError
from aerial_landuse.framework.parameters import RunParameters, validate_parameters
from tests.test_conf import loader


@pytest.mark.parametrize("env", ["local", "azurite", "cluster", "quality"])
def test_every_environment_parameters_are_valid(env):
    validate_parameters(loader(env)["parameters"])


BAD = {  # runtime parameter -> words of the error
    "classifier=svm": "classifier = 'svm': must be one of",
    "pretrained_model=vgg99": "pretrained_model = 'vgg99': must be one of",
    "model_name=../../../../x": "model_name = '../../../../x': must be a plain name",
    "model_name=a/b": "model_name = 'a/b': must be a plain name",
    "dataset=..": "dataset = '..': must be a plain name",
    "featurize.batch_size=0": "featurize.batch_size = 0: Input should be greater than or equal to 1",
    "featurize.backend=tensorflow": "featurize.backend = 'tensorflow'",
    "ingest.sample_frac=abc": "ingest.sample_frac = 'abc': Input should be a valid number",
    "ingest.sample_frac=1.5": "ingest.sample_frac = 1.5: Input should be less than or equal to 1",
    "ingest.test_fraction=1": "ingest.test_fraction = 1: Input should be less than 1",
    "ingest.min_tile_side=0": "ingest.min_tile_side = 0",
    "ingest.sampel_frac=0.5": "ingest.sampel_frac = 0.5: not a known parameter (a typo?)",
    "region=../x": "region = '../x': must be 3-63 lowercase letters",
    "region=Middlesex_2016": "region = 'Middlesex_2016': must be 3-63 lowercase letters",
    "before=a/b": "change.before = 'a/b': must be 3-63 lowercase letters",
    "change.min_confidence=2": "change.min_confidence = 2: Input should be less than or equal to 1",
    "change.match_on=names": "change.match_on = 'names'",
    "score.smoothing.weights=box": "score.smoothing.weights = 'box'",
    "score.smoothing.radius=-1": "score.smoothing.radius = -1",
    "tta=3": "tta = 3: must be one of [1, 2, 4, 8]",
    "pretrained_model=efficientnet_lite0_int8_finetuned": "must be one of",
    "pretrained_model=resnet18+alexnet+efficientnet_lite0": "must be one of",
    "train.preset=best": "train.preset = 'best'",
    "train.tuning.folds=1": "train.tuning.folds = 1",
    "finetune.trainable_blocks=-2": "finetune.trainable_blocks = -2",
    "finetune.validation_fraction=1": "finetune.validation_fraction = 1",
}


@pytest.mark.parametrize("runtime", sorted(BAD))
def test_a_bad_parameter_is_named_with_what_is_wrong(runtime):
    key, value = runtime.split("=", 1)
    *blocks, name = key.split(".")
    runtime_params = {name: yaml.safe_load(value)}  # as `kedro run --params` parses it
    for block in reversed(blocks):
        runtime_params = {block: runtime_params}
    with pytest.raises(UserInputError) as raised:
        validate_parameters(loader("local", **runtime_params)["parameters"])
    assert BAD[runtime] in str(raised.value)


def test_best_is_a_model_name():
    validate_parameters(loader("local", model_name="best")["parameters"])


NAMES = [
    "efficientnet_lite1",
    "efficientnet_lite2_int8",
    "efficientnet_lite0_finetuned",
    "efficientnet_lite0_finetuned_int8",
    "efficientnet_lite0+efficientnet_lite2",
    "efficientnet_lite0_finetuned+resnet18",
]


@pytest.mark.parametrize("network", NAMES)
def test_network_names_of_every_kind_are_valid_with_tta(network):
    params = loader("local", pretrained_model=network, tta=8)["parameters"]
    validate_parameters(params)
    assert params["featurize"]["tta_views"] == 8
    assert params["model_name"] == f"{network}_tta8_logistic_regression"


def _schema_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, field in model.model_fields.items():
        paths.append((*prefix, name))
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            paths += _schema_paths(field.annotation, (*prefix, name))
    return paths


SCHEMA_PATHS = _schema_paths(RunParameters)


def test_no_parameter_has_a_default_in_code():
    """The YAML holds each value: a default in the schema would be a second, drifting copy."""
    with_defaults = [".".join(path) for path in SCHEMA_PATHS if not _field(path).is_required()]
    assert with_defaults == []


def _field(path: tuple[str, ...]):
    model: type[BaseModel] = RunParameters
    for name in path[:-1]:
        model = model.model_fields[name].annotation
    return model.model_fields[path[-1]]


@pytest.mark.parametrize("path", [".".join(p) for p in SCHEMA_PATHS])
def test_every_schema_key_is_in_the_yaml(path):
    """Removing a key from conf/base is an error that names it (the schema has no fallback)."""
    params = copy.deepcopy(loader("local")["parameters"])
    *blocks, name = path.split(".")
    block = params
    for key in blocks:
        block = block[key]
    del block[name]
    with pytest.raises(UserInputError, match=rf"{re.escape(path)}: Field required"):
        validate_parameters(params)


def test_every_yaml_key_is_in_the_schema():
    """A key in conf/base that the schema does not know is refused as a typo; walk the YAML."""
    params = loader("local")["parameters"]
    known = {".".join(p) for p in SCHEMA_PATHS}
    free_form = {  # per-classifier Spark params; land-cover code -> class
        "train.tuning.grids",
        "train.hyperparameters",
        "ingest.land_cover.classes",
    }

    def walk(values: dict, prefix: str) -> list[str]:
        keys = []
        for key, value in values.items():
            path = f"{prefix}{key}"
            keys.append(path)
            if isinstance(value, dict) and path not in free_form:
                keys += walk(value, f"{path}.")
        return keys

    assert sorted(set(walk(params, "")) - known) == []
