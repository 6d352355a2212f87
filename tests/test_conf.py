"""Configuration invariants: one catalog per kind of storage, secrets only from the environment."""

import subprocess
from pathlib import Path

import pytest
import yaml

from aerial_landuse import settings

CONF = Path(__file__).resolve().parents[1] / "conf"


def _storage_kind(env: Path) -> str | None:
    globals_ = env / "globals.yml"
    found = yaml.safe_load(globals_.read_text()) if globals_.exists() else None
    return ((found or {}).get("storage") or {}).get("kind")


BLOB_ENVS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and _storage_kind(p) == "blob")


def loader(env: str, **runtime_params):
    return settings.CONFIG_LOADER_CLASS(
        str(CONF), env=env, runtime_params=runtime_params, **settings.CONFIG_LOADER_ARGS
    )


def test_one_catalog_for_every_environment():
    assert BLOB_ENVS == ["azure", "azurite", "cluster", "hdinsight"]
    catalogs = sorted(p.relative_to(CONF).as_posix() for p in CONF.glob("*/catalog*.yml"))
    assert catalogs == ["base/catalog.yml", "quality/catalog.yml"]
    for env in BLOB_ENVS:  # where the data lives, Spark, and at most a parameter of their own
        files = {p.name for p in (CONF / env).iterdir()}
        assert files <= {"globals.yml", "spark.yml", "parameters_featurize.yml"}, env
    # `make quality` only points the raw labelled folder at DATA (README's "Your own tiles")
    quality = yaml.safe_load((CONF / "quality" / "catalog.yml").read_text())
    assert sorted(quality) == ["score_tiles", "train_tiles"]


def test_blob_environments_differ_only_in_their_globals(monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "exampleaccount")
    urls = {env: loader(env)["catalog"]["train_tiles"]["path"] for env in BLOB_ENVS}
    assert urls == {
        "azurite": "abfs://train",
        "azure": "abfs://train",
        "cluster": "abfs://train",
        "hdinsight": "wasbs://train@your-storage-account.blob.core.windows.net",
    }
    run = loader("hdinsight", storage_account="mine")["catalog"]["metrics"]["dataset"]["filepath"]
    assert run.startswith("wasbs://predictions@mine.blob.core.windows.net/")


def test_the_labelled_folders_are_named_by_parameters_as_regions_are():
    """train_folder, test_folder and land_cover_folder pick the labelled data set's folders
    (containers on blob storage), as region picks the region's: make run trains a second data
    set, the demo's quads labelled by their land cover, beside the tile folders."""
    folders = {"train_folder": "naipdemo2016", "land_cover_folder": "nlcddemo2016"}
    local = loader("local", **folders)["catalog"]
    assert local["train_tiles"]["path"].endswith("data/01_raw/naipdemo2016")
    assert local["land_cover"]["path"].endswith("data/01_raw/nlcddemo2016")
    assert local["test_tiles"]["path"].endswith("data/01_raw/test")
    blob = loader("azurite", test_folder="mytest", **folders)["catalog"]
    paths = [blob[name]["path"] for name in ("train_tiles", "test_tiles", "land_cover")]
    assert paths == ["abfs://naipdemo2016", "abfs://mytest", "abfs://nlcddemo2016"]
    default = loader("azurite")["catalog"]["land_cover"]["path"]
    assert default == "abfs://landcover" and loader("local")["catalog"]["land_cover"][
        "path"
    ].endswith("data/01_raw/landcover")  # one name for the folder and its container


@pytest.mark.parametrize("env", ["local", *BLOB_ENVS])
def test_every_stored_dataset_lives_where_the_environment_keeps_its_data(env, monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "exampleaccount")
    catalog = loader(env)["catalog"]
    places = {}
    for name, entry in catalog.items():
        if name.startswith("_") or not isinstance(entry, dict):
            continue
        inner = entry["dataset"] if isinstance(entry.get("dataset"), dict) else entry
        place = inner.get("filepath") or inner.get("path")
        if place:
            places[name] = (place, inner.get("credentials") or entry.get("credentials"))
    assert len(places) > 60
    for name, (place, credentials) in places.items():
        if env == "local":
            assert place.startswith("data/") and credentials is None, name
        else:
            assert place.split("://")[0] in {"abfs", "wasbs"}, name
            assert credentials == "azure_storage", name


def test_reading_the_configuration_asks_mlflow_nothing(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9/unreachable")
    catalog = loader("local", model_name="best")["catalog"]
    assert catalog["scoring_model"]["model_name"] == "best"  # resolved by the ChosenModel hook
    assert catalog["metrics"]["dataset"]["filepath"].endswith("/best/metrics.json")
    chosen_loader = loader("local", model_name="best")
    chosen_loader.choose_model("m_lightgbm")  # what the ChosenModel hook does
    chosen = chosen_loader["catalog"]
    assert chosen["metrics"]["dataset"]["filepath"].endswith("/m_lightgbm/metrics.json")
    assert chosen["scoring_model"]["chosen"] == "m_lightgbm"


def test_an_unknown_storage_kind_is_refused_with_the_fix(tmp_path):
    import shutil

    conf = tmp_path / "conf"
    shutil.copytree(CONF / "base", conf / "base")
    (conf / "odd").mkdir()
    (conf / "odd" / "globals.yml").write_text("storage: {kind: s3}\n")
    with pytest.raises(ValueError, match="storage.kind is 's3'.*local, blob"):
        settings.CONFIG_LOADER_CLASS(str(conf), env="odd", **settings.CONFIG_LOADER_ARGS)


def test_an_environment_parameter_file_overrides_single_keys():
    featurize = loader("hdinsight")["parameters"]["featurize"]
    base = loader("local")["parameters"]["featurize"]
    assert featurize == base  # hdinsight sets rows_per_partition only, to the base value
    assert set(
        yaml.safe_load((CONF / "hdinsight" / "parameters_featurize.yml").read_text())["featurize"]
    ) == {"rows_per_partition"}


def test_model_name_follows_the_run_parameters():
    params = loader("local", classifier="random_forest")["parameters"]
    assert params["train"]["model_name"] == "efficientnet_lite0_finetuned_random_forest"
    assert params["score"]["model_name"] == params["train"]["model_name"]
    catalog = loader("local", classifier="random_forest")["catalog"]
    assert catalog["metrics"]["dataset"]["filepath"].endswith(
        "efficientnet_lite0_finetuned_random_forest/metrics.json"
    )


def test_no_committed_config_holds_a_secret_value():
    credentials = yaml.safe_load((CONF / "base" / "credentials.yml").read_text())
    for entry in credentials.values():
        for value in entry.values():
            assert str(value).startswith("${oc.env:"), value


def test_tta_and_fine_tuning_name_their_own_features_models_and_network_files():
    catalog = loader("local", pretrained_model="efficientnet_lite0_finetuned", tta=8)["catalog"]
    assert catalog["pretrained_network"]["filepath"] == (
        "data/06_models/pretrained/finetuned/demo/efficientnet_lite0_finetuned.onnx"
    )
    assert catalog["{tile_set}_features"]["filepath"] == (
        "data/04_feature/demo/efficientnet_lite0_finetuned_tta8/{tile_set}.parquet"
    )
    assert catalog["metrics"]["dataset"]["filepath"].endswith(
        "efficientnet_lite0_finetuned_tta8_logistic_regression/metrics.json"
    )
    plain = loader("local", pretrained_model="efficientnet_lite0")["catalog"]
    assert (
        plain["pretrained_network"]["filepath"]
        == "data/06_models/pretrained/efficientnet_lite0.onnx"
    )
    default = loader("local")["catalog"]  # the project's default: fine-tuned on the data set
    assert (
        default["pretrained_network"]["filepath"]
        == "data/06_models/pretrained/finetuned/demo/efficientnet_lite0_finetuned.onnx"
    )


def test_the_default_model_name_splits_back_into_its_parts():
    from aerial_landuse.core.contracts import split_model_name, train_command

    assert split_model_name("efficientnet_lite0+efficientnet_lite2_tta8_lightgbm") == (
        "efficientnet_lite0+efficientnet_lite2",
        "lightgbm",
        8,
    )
    assert split_model_name("efficientnet_lite0_finetuned_logistic_regression") == (
        "efficientnet_lite0_finetuned",
        "logistic_regression",
        1,
    )
    assert split_model_name("my_model") is None
    assert "pretrained_model=efficientnet_lite2,classifier=random_forest,tta=4" in train_command(
        "efficientnet_lite2_tta4_random_forest"
    )


@pytest.mark.parametrize("env", ["local", "quality", *BLOB_ENVS])
def test_every_environment_catalog_resolves_and_instantiates(env, monkeypatch):
    from kedro.io import DataCatalog

    from aerial_landuse.pipeline_registry import register_pipelines

    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "exampleaccount")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", "ZXhhbXBsZQ==")
    config = loader(env)
    catalog = DataCatalog.from_config(config["catalog"], config["credentials"])
    for pipeline in register_pipelines().values():
        for name in pipeline.datasets():
            if not name.startswith("params:") and name != "parameters":
                catalog.get(name)  # resolves factory patterns and builds the dataset


def test_hdinsight_asks_maven_for_the_synapseml_version_of_the_local_jars():
    import re

    pom = (CONF.parent / "tools" / "synapseml" / "pom.xml").read_text()
    local = re.search(r"<synapseml.version>([^<]+)</synapseml.version>", pom).group(1)
    packages = yaml.safe_load((CONF / "hdinsight" / "spark.yml").read_text())[
        "spark.jars.packages"
    ].split(",")
    artifacts = set(
        re.findall(r"<groupId>com.microsoft.azure</groupId><artifactId>([^<]+)</artifactId>", pom)
    )
    assert {p.split(":")[1] for p in packages} == artifacts
    assert {p.split(":")[2] for p in packages} == {local}


def test_a_local_parameter_file_with_one_key_keeps_the_others(tmp_path):
    import shutil

    shutil.copytree(CONF, tmp_path / "conf", ignore=shutil.ignore_patterns("local"))
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "conf" / "local" / "parameters_ingest.yml").write_text(
        "ingest:\n  test_fraction: 0.5\n"
    )
    runtime = {"train": {"hyperparameters": {"random_forest": {"maxDepth": 20}}}}
    params = settings.CONFIG_LOADER_CLASS(
        str(tmp_path / "conf"), env="local", runtime_params=runtime, **settings.CONFIG_LOADER_ARGS
    )["parameters"]
    assert params["ingest"]["test_fraction"] == 0.5 and params["ingest"]["seed"] == 42
    assert params["train"]["classifier"] == "logistic_regression"
    assert params["train"]["hyperparameters"]["random_forest"]["maxDepth"] == 20
    assert params["train"]["hyperparameters"]["random_forest"]["numTrees"] == 200


def test_outputs_are_kept_apart_per_data_set_name():
    catalog = loader("local", dataset="rsscn7")["catalog"]
    assert "/rsscn7/" in catalog["{tile_set}_features"]["filepath"]
    assert catalog["trained_model"]["path"].endswith(
        "trained/rsscn7/efficientnet_lite0_finetuned_logistic_regression"
    )
    assert catalog["trained_model"]["network"].endswith(
        "/finetuned/rsscn7/efficientnet_lite0_finetuned.onnx"
    )
    assert loader("local")["parameters"]["dataset"] == "demo"


def test_default_paths_are_anchored_to_the_project_root(tmp_path, monkeypatch):
    """A notebook runs in notebooks/: the MLflow store, Spark's log configuration and the jars
    must still be the project's, not files relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = loader("local")
    config.config_patterns["mlflow"] = ["mlflow*"]  # as kedro-mlflow's hook adds it
    root = CONF.parent
    assert config["mlflow"]["server"]["mlflow_tracking_uri"] == f"sqlite:///{root / 'mlflow.db'}"
    java_options = config["spark"]["spark.driver.extraJavaOptions"]
    assert f"-Dlog4j2.configurationFile={root / 'conf/base/log4j2.properties'}" in java_options
    jars = config["spark"]["spark.jars"]
    assert all(jar.startswith(str((root / ".jars").resolve())) for jar in jars.split(",") if jar)
    # a ``path`` (not a key of our own) is one that Kedro's context makes absolute
    assert config["catalog"]["scoring_model"]["path"] == "data/06_models/trained/demo"


def test_make_runs_the_projects_default_model():
    """`make run` and `kedro run` alone agree: the Makefile reads the default from globals.yml."""
    globals_ = yaml.safe_load((CONF / "base" / "globals.yml").read_text())
    printed = subprocess.run(
        [
            "make",
            "-s",
            "-f",
            "Makefile",
            "--eval=show: ; @echo $(NETWORK) $(MODEL) $(DATASET) $(REGION) $(REGION_BEFORE) "
            "$(RASTERS_BEFORE) $(RASTERS_AFTER)",
            "show",
        ],
        cwd=CONF.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    network = globals_["pretrained_model"]
    assert printed == [
        network,
        f"{network}_{globals_['classifier']}",
        globals_["dataset"],
        globals_["region"],
        globals_["change"]["before"],
        globals_["demo_rasters"]["before"],  # the demo as GeoTIFFs, scored by make run too
        globals_["demo_rasters"]["after"],
    ]
