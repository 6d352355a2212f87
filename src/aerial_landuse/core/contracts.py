"""Data contracts that several pipelines, datasets and tools share (the bottom layer: imports pyspark
types only). A pipeline never imports another pipeline, and a tool never imports a pipeline's nodes:
both import what they share from here.
"""

from __future__ import annotations

import re

from pyspark.sql import types as T

from aerial_landuse.core.networks.registry import TTA_VIEWS, features_name, is_network_name

# A node tag: the node needs no Spark; a `kedro run` of such nodes alone starts no JVM (hooks.py)
DRIVER_ONLY = "driver_only"

# ---- names users choose with --params (networks: core/networks/registry.py) ---------------
CLASSIFIER_NAMES = ("logistic_regression", "random_forest", "lightgbm")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}")  # +: fused networks
SAFE_NAME_RULE = (
    "a plain name (letters, digits, _ . + -; no / or ..): it becomes a folder under the "
    "project's data"
)


def is_safe_name(value: object) -> bool:
    """A name that becomes a folder (model, data set): nothing that leaves its parent folder."""
    return isinstance(value, str) and bool(SAFE_NAME.fullmatch(value)) and ".." not in value


def default_model_name(network: str, classifier: str, tta_views: int = 1) -> str:
    """The model name a run uses unless --params model_name=... says otherwise."""
    return f"{features_name(network, tta_views)}_{classifier}"


def split_model_name(model_name: str) -> tuple[str, str, int] | None:
    """(network, classifier, TTA views) of a default model name, or None for a name of the
    user's own."""
    for classifier in CLASSIFIER_NAMES:
        features = model_name.removesuffix(f"_{classifier}")
        if features == model_name:
            continue
        network, views = features, 1
        stem, _, suffix = features.rpartition("_tta")
        if stem and suffix.isdigit() and int(suffix) in TTA_VIEWS:
            network, views = stem, int(suffix)
        if is_network_name(network):
            return network, classifier, views
    return None


def train_command(model_name: str, dataset: str | None = None) -> str:
    """The command that trains and evaluates ``model_name`` on existing features (the network's
    features come from ``kedro run --params pretrained_model=<network>``)."""
    parts = split_model_name(model_name)
    if parts is not None:
        params = [f"pretrained_model={parts[0]}", f"classifier={parts[1]}"]
        if parts[2] != 1:
            params.append(f"tta={parts[2]}")
    else:
        params = [
            f"model_name={model_name}",
            "pretrained_model=<network>",
            "classifier=<classifier>",
        ]
    if dataset:
        params.append(f"dataset={dataset}")
    return f"kedro run --pipelines=train,evaluate --params {','.join(params)}"


# ---- tile index (ingest) --------------------------------------------------------------------
# id: "<folder>/<relpath>" for labelled tiles (folder = train or test, also in ``split``: the folder
# a tile was listed from; the train/test split itself is decided later, SPLIT_COLUMNS), the relpath
# for tiles to score
BOUND_COLUMNS = ["llcrnrlat", "llcrnrlon", "urcrnrlat", "urcrnrlon"]  # decimal degrees
LISTING_COLUMNS = ["id", "path", "filename", "label", "split", *BOUND_COLUMNS]
LISTING_SCHEMA = T.StructType(
    [T.StructField(c, T.StringType()) for c in ["id", "path", "filename", "label", "split"]]
    + [T.StructField(c, T.DoubleType()) for c in BOUND_COLUMNS]
)
PROBE_FIELDS = [
    T.StructField("width", T.IntegerType()),
    T.StructField("height", T.IntegerType()),
    T.StructField("mode", T.StringType()),
    T.StructField("format", T.StringType()),
    T.StructField("error", T.StringType()),
]

# ---- features (featurize): the tile index plus these; error set = the network could not read it
FEATURE_FIELDS = [
    T.StructField("features", T.ArrayType(T.FloatType())),
    T.StructField("error", T.StringType()),
]

# ---- the split (train pipeline): one row per listed labelled tile ---------------------------
# folder: where it was listed (train/test); state: featurized | quarantined_ingest |
# quarantined_featurize; split: train/test as decided by the split parameters; used: in the sample
SPLIT_COLUMNS = ["id", "path", "label", "folder", "split", "state", "used"]
# The fine-tuning split file: each train tile's role there (train | validation | not_used).
FINETUNE_SPLIT_COLUMNS = ["id", "path", "label", "role"]

# ---- quarantine: one row per tile that could not be used, at any stage ----------------------
QUARANTINE_COLUMNS = ["path", "split", "label", "stage", "reason"]
# A labelled raster set's cells that the land-cover raster leaves without a class (mixed, water,
# outside it) are listed in the ingest quarantine with this stage, and counted apart (unlabelled)
UNLABELLED_STAGE = "label"
IGNORED_COLUMNS = ["path", "split", "reason"]  # files of a tile folder that are not tiles

# ---- predictions (score) ----------------------------------------------------------------------
PROBABILITY_PREFIX = "prob_"


def probability_column(label: str) -> str:
    return f"{PROBABILITY_PREFIX}{label}"


def classes_of(predictions) -> list[str]:  # noqa: ANN001 (a pandas frame; contracts import no pandas)
    """The class labels of a predictions table, from its ``prob_<class>`` columns."""
    return sorted(
        c.removeprefix(PROBABILITY_PREFIX)
        for c in predictions.columns
        if c.startswith(PROBABILITY_PREFIX)
    )


# ---- tile_summaries.csv: ``true_label``, where the true class of a tile to score is known -----
def true_labels(tile_summaries):  # noqa: ANN001, ANN201 (pandas in, pandas out)
    """True class by file name where tile_summaries.csv has one (the demo regions), else None."""
    if tile_summaries is None or "true_label" not in tile_summaries.columns:
        return None
    return tile_summaries.drop_duplicates("filename").set_index("filename")["true_label"]


# ---- run history (MLflow): parameter keys as kedro-mlflow flattens them ----------------------
MODEL_PARAM = "train.model_name"
DATASET_PARAM = "data.name"  # the labelled data set a run trained and tested on
TRACKED_PARAMS = {
    "params.data.name": "dataset",
    "params.train.model_name": "model_name",
    "params.train.pretrained_model": "network",
    "params.train.classifier": "classifier",
    "params.ingest.sample_frac": "sample_frac",
    "params.tiles.train": "train_tiles",
    "params.tiles.test": "test_tiles",
}
