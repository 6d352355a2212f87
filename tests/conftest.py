"""Shared fixtures: one real local SparkSession, small generated tile sets, an exported network."""

from __future__ import annotations

import copy
import fcntl
import functools
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pyspark.sql import SparkSession

from aerial_landuse import settings
from aerial_landuse.core.networks.onnx_graphs import ONNXNetwork, export_onnx
from aerial_landuse.core.tiles.demo_textures import LAND_USE_CLASSES, labelled_tile
from aerial_landuse.framework.hooks import spark_conf
from aerial_landuse.settings import jars_in
from aerial_landuse.storage import TileFolder
from aerial_landuse.tools.azurite import Azurite, running_azurite
from tests.spark_conf import class_archive

warnings.filterwarnings("ignore", message=".*register_new_resolver.*")

ROOT = Path(__file__).resolve().parents[1]
NETWORK = "efficientnet_lite0"  # what the test copies of the project run (copy_project)
MODEL = f"{NETWORK}_logistic_regression"
REGION, EARLIER_REGION = "middlesexma2016", "middlesexma2010"  # the demo region's two years
SMALL_DEMO = (
    "demo_data.train_tiles_per_class=12,demo_data.test_tiles_per_class=6,"
    "demo_data.region.rows=4,demo_data.region.cols=5,"
    "demo_data.change.site_radius_tiles=1.2,demo_data.change.development_sites=2,"
    "demo_data.rasters.quad_px=448"  # the NAIP-like demo quads: tests write their own rasters
)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    conf = spark_conf(
        {
            # a failed task is tried twice, as a cluster's executors retry (spark.task.maxFailures):
            # a Python worker lost on a loaded machine does not fail a test
            "spark.master": "local[2,2]",
            "spark.driver.memory": "2g",
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "2",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.pyspark.python": sys.executable,
            "spark.jars": jars_in(str(ROOT / ".jars" / "synapseml")),
        }
    )
    session = SparkSession.builder.appName("aerial-landuse-tests").config(conf=conf).getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@functools.cache
def _base_parameters() -> dict:
    loader = settings.CONFIG_LOADER_CLASS(
        str(ROOT / "conf"), env="local", **settings.CONFIG_LOADER_ARGS
    )
    return loader["parameters"]


def parameters(block: str | None = None, **overrides) -> dict:
    """The project's parameters (conf/base, the one home of their values), or one block of them,
    with ``overrides``: what a node receives in a default run."""
    values = copy.deepcopy(_base_parameters())
    return {**(values[block] if block else values), **overrides}


def write_labelled_folder(
    root: Path,
    per_class: int,
    classes: tuple[str, ...] = LAND_USE_CLASSES,
    size: int = 64,
    seed: int = 0,
) -> Path:
    """``root/<Class>/<class>_<i>.png`` synthetic tiles."""
    for k, label in enumerate(classes):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = labelled_tile(np.random.default_rng([seed, k, i]), label, size, 0.0)
            Image.fromarray(pixels).save(root / label / f"{label.lower()}_{i:03d}.png")
    return root


def folder(root: Path, labelled: bool = True) -> TileFolder:
    """A tile folder as the catalog loads it (the active SparkSession, lazy image loaders)."""
    from aerial_landuse.datasets import TileFolderDataset

    return TileFolderDataset(str(root.resolve()), labelled).load()


@pytest.fixture(scope="session")
def lite0_network() -> ONNXNetwork:
    """efficientnet_lite0 with its real ImageNet weights, exported once per test session."""
    return export_onnx("efficientnet_lite0", pretrained=True)


def write_raster_region(folder: Path, houses_from_block: int) -> None:
    """Two NAIP-like 4-band COG quads (UTM 19N, 1 m, nodata collars, overlapping; 992 m x 512 m
    from 310,000 m E) of forest, with houses east of 32 m block ``houses_from_block``, and no
    tile_summaries.csv: a raster region of 24 cells, 8 of them whole."""
    from aerial_landuse.core.tiles.demo_rasters import MosaicLayout, write_quads
    from aerial_landuse.core.tiles.demo_textures import LAND_USE_CLASSES

    classes = np.full((16, 31), LAND_USE_CLASSES.index("Developed"))
    classes[:, :houses_from_block] = LAND_USE_CLASSES.index("Forest")
    layout = MosaicLayout(quad_px=512, overlap_px=32, collar_px=8)
    write_quads(folder, "naip", classes, 32.0, layout, 5)


def write_labelled_raster_set(imagery: Path, land_cover: Path) -> None:
    """A labelled raster set: two NAIP-like COG quads (as ``write_raster_region``'s, 992 m x
    512 m) of Forest, Cultivated and Developed bands, 320 m wide, west to east, and an NLCD-like
    30 m land-cover COG of the same ground in CONUS Albers (the project's class table), with a
    woody wetland (code 90, excluded) in the forest."""
    from aerial_landuse.core.tiles.demo_rasters import MosaicLayout, land_cover_layer, write_quads

    names = ("Forest", "Cultivated", "Developed")
    classes = np.repeat([LAND_USE_CLASSES.index(name) for name in names], [10, 10, 11])
    classes = np.tile(classes, (16, 1))
    layout = MosaicLayout(quad_px=512, overlap_px=32, collar_px=8)
    write_quads(imagery, "naip", classes, 32.0, layout, 11)
    table = parameters("ingest")["land_cover"]["classes"]
    land_cover.mkdir(parents=True, exist_ok=True)
    wetland = (90, layout.left + 100.0, layout.top - 400.0)
    land_cover_layer(classes, 32.0, layout, table, wetland).write(land_cover / "nlcd.tif")


SPARK_CONF = Path(__file__).parent / "spark_conf"
CLASS_ARCHIVE_VARIABLE = "AERIAL_TEST_CLASS_ARCHIVE"  # set by `make test`
_SHARED = {}  # this test run's folder shared by its processes (_shared_folder_known)


@pytest.fixture(scope="session", autouse=True)
def _shared_folder_known(tmp_path_factory) -> None:
    _SHARED["path"] = _shared_between_processes(tmp_path_factory)


@functools.cache
def spark_settings() -> dict[str, str]:
    """How the Spark drivers of the tests' subprocesses are configured: spark_conf/'s
    spark-defaults.conf (it says why) plus a class-data-sharing archive of the JVM classes a
    driver loads (spark_conf/class_archive.py): the one `make test` made for this .venv (its
    folder in CLASS_ARCHIVE_VARIABLE), else one made by the first subprocess of this test run
    that needs it (the other test process waits)."""
    if "path" not in _SHARED:  # a caller outside a pytest session
        return {"SPARK_CONF_DIR": str(SPARK_CONF)}
    made = os.environ.get(CLASS_ARCHIVE_VARIABLE)
    if made and (Path(made) / class_archive.DEFAULTS).is_file():
        folder = Path(made)
    else:
        folder = _SHARED["path"] / "spark_conf"
        with _file_lock(_SHARED["path"] / "spark-conf.lock"):
            if not (folder / class_archive.DEFAULTS).exists():
                class_archive.make(folder)
    return class_archive.environment(folder, folder / class_archive.DEFAULTS)


def run_environment() -> dict[str, str]:
    """What a `kedro` or tool subprocess of the tests runs with: no telemetry, this Python for
    Spark's workers, lines wide enough not to wrap, short-lived JVMs' settings
    (spark_settings)."""
    return {
        **spark_settings(),
        **os.environ,
        "DO_NOT_TRACK": "1",
        "KEDRO_DISABLE_TELEMETRY": "true",
        "PYSPARK_PYTHON": sys.executable,
        "COLUMNS": "200",
    }


def kedro(project: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    """Run ``kedro *args`` in ``project``; returns everything it printed."""
    environment = {**run_environment(), **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "kedro", *args],
        check=False,
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check:
        assert done.returncode == 0, (
            f"kedro {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-8000:]}"
        )
    return done.stdout + done.stderr


def run_tool(command: list[str], cwd: Path | None = None) -> tuple[int, str]:
    """``command`` (one of the project's tools) in its own process group, so that Spark's JVM
    and workers (and torch's) are stopped with it; its exit status and everything it printed."""
    from aerial_landuse.tools.processes import stop_groups

    process = subprocess.Popen(
        command, cwd=cwd, env=run_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = process.communicate(timeout=3000)
    finally:
        stop_groups([process.pid])
    return process.returncode, output


def copy_project(destination: Path, network: str = NETWORK) -> Path:
    """conf/ (all environments), src/ and pyproject.toml of this project, with empty data/;
    its default network is ``network`` (None: the project's own)."""
    destination.mkdir(parents=True)
    shutil.copytree(
        ROOT / "conf",
        destination / "conf",
        ignore=shutil.ignore_patterns("credentials.yml", "local"),
    )
    shutil.copy(
        ROOT / "conf" / "base" / "credentials.yml",
        destination / "conf" / "base" / "credentials.yml",
    )
    (destination / "conf" / "local").mkdir()
    # Test copies run the frozen network in every environment (as `make run
    # NETWORK=efficientnet_lite0`) and fit the classifier's given hyperparameters
    # (train.preset=as_given): no fine-tuning and no hyperparameter search in each copy (the
    # search alone is a minute per model on 72 tiles). test_default_run_e2e.py runs the project's
    # own default, both included; tests/pipelines/train tests the search.
    if network is not None:
        _set_line(destination / "conf" / "base" / "globals.yml", "pretrained_model: ", network)
        _set_line(destination / "conf" / "base" / "parameters_train.yml", "  preset: ", "as_given")
    shutil.copytree(
        ROOT / "src",
        destination / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(ROOT / name, destination / name)
    (destination / ".jars").symlink_to(ROOT / ".jars")  # SynapseML's jars, resolved by make
    return destination


def _set_line(path: Path, key: str, value: str) -> None:
    """The line of ``path`` that starts with ``key`` set to ``key + value`` (it must be there)."""
    text, count = re.subn(rf"(?m)^{re.escape(key)}.*$", key + value, path.read_text())
    assert count == 1, f"{path} has {count} lines starting {key!r}"
    path.write_text(text)


@pytest.fixture(scope="session")
def e2e_template(tmp_path_factory) -> Path:
    """The project after `make run`'s steps on a small demo set with two broken tiles: built once
    for all test processes (the first to need it builds, the others wait); never changed, only
    copied (``copy_of_e2e``)."""
    shared = _shared_between_processes(tmp_path_factory)
    template = shared / "e2e-template" / "aerial-landuse"
    with _file_lock(shared / "e2e-template.lock"):
        if not (template.parent / "built").exists():
            shutil.rmtree(template.parent, ignore_errors=True)
            _build_e2e_project(template)
            (template.parent / "built").touch()
    return template


@pytest.fixture(scope="session")
def e2e_project(e2e_template, tmp_path_factory) -> Path:
    """This process's copy of the e2e template, shared by its modules that only add outputs."""
    return copy_of_e2e(e2e_template, tmp_path_factory.mktemp("e2e"))


def copy_of_e2e(template: Path, folder: Path) -> Path:
    """A copy of the e2e template in ``folder`` (its data, outputs and MLflow store), for a
    module that changes or kills what the others read."""
    project = folder / "aerial-landuse"
    shutil.copytree(template, project, symlinks=True)
    _relocate_mlflow_store(project / "mlflow.db", template, project)
    return project


def _shared_between_processes(tmp_path_factory) -> Path:
    """The folder that every test process of this pytest run shares: pytest-xdist's workers
    each have a base temp under one root of the run; a plain run has its own."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """``path`` locked for this process while the block runs (the others wait)."""
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _relocate_mlflow_store(database: Path, old: Path, new: Path) -> None:
    """The copied MLflow store's artifact locations moved from ``old`` to ``new`` (sqlite keeps
    them as absolute paths): every text column of every table."""
    with closing(sqlite3.connect(database)) as store, store:
        tables = [
            row[0] for row in store.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            for column in store.execute(f'PRAGMA table_info("{table}")').fetchall():
                if column[2].upper().startswith(("VARCHAR", "TEXT")):
                    store.execute(
                        f'UPDATE "{table}" SET "{column[1]}" = replace("{column[1]}", ?, ?)',
                        (str(old), str(new)),
                    )


def _build_e2e_project(destination: Path) -> None:
    project = copy_project(destination)
    kedro(project, "run", "--pipelines=demo_data", "--params", SMALL_DEMO)
    raw = project / "data" / "01_raw"
    (raw / "train" / "Forest" / "broken.png").write_bytes(b"not a png at all")
    (raw / "test" / "Shrub" / "truncated.png").write_bytes(
        (raw / "test" / "Shrub" / "shrub_0000.png").read_bytes()[:400]
    )
    kedro(project, "run", "--pipelines=pretrained")
    (project / "run.log").write_text(kedro(project, "run"))  # what the console showed


# `make test` runs two test processes (pytest-xdist, a module to one process at a time, in this
# order): the longest modules start first, so that short ones fill in around them and both
# processes end together; Azurite's modules apart, as they take turns on the emulator's port.
LONGEST_FIRST = (
    "tests/test_cluster_e2e.py",
    "tests/test_default_run_e2e.py",
    "tests/tools/test_quality.py",
    "tests/test_e2e.py",
    "tests/tools/test_azurite_e2e.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules of LONGEST_FIRST first, in that order; the others as collected."""
    rank = {module: i for i, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


_PORT_HELD = {"depth": 0}


@contextmanager
def emulator_port_held() -> Iterator[None]:
    """The storage emulator's port for this test process alone while the block runs: `make test`
    runs two test processes (pytest-xdist, a module per process at a time) and one Azurite at a
    time can serve there, where Spark's Hadoop client reaches it; the other process waits."""
    if _PORT_HELD["depth"]:  # held already by this process (flock is per open file)
        yield
        return
    with _file_lock(Path(tempfile.gettempdir()) / "aerial-landuse-tests-emulator-port.lock"):
        _PORT_HELD["depth"] += 1
        try:
            yield
        finally:
            _PORT_HELD["depth"] -= 1


@pytest.fixture(scope="module")
def azurite(tmp_path_factory) -> Iterator[Azurite]:
    """A real Azurite blob server, fresh for each test module that uses it: on the storage
    emulator's port, where Spark's Hadoop client reaches it (one at a time, so per module)."""
    with emulator_port_held(), running_azurite(tmp_path_factory.mktemp("azurite")) as server:
        yield server


@pytest.fixture
def tracking(tmp_path, monkeypatch) -> Iterator[str]:
    """A fresh MLflow store (sqlite in the test's folder) as the tracking URI, put back after:
    set_tracking_uri also sets MLFLOW_TRACKING_URI, which monkeypatch restores. Runs start in
    the store's Default experiment (an experiment an earlier test set is in another store)."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("Default")
    yield uri
    mlflow.set_tracking_uri(previous)


@pytest.fixture(autouse=True)
def _tracking_store_left_as_found():
    """mlflow.set_tracking_uri also sets MLFLOW_TRACKING_URI, which every later `kedro run`
    subprocess inherits (their runs then go to another store): a test must put it back."""
    before = os.environ.get("MLFLOW_TRACKING_URI") or None  # set_tracking_uri("") leaves ""
    yield
    after = os.environ.get("MLFLOW_TRACKING_URI") or None
    assert after == before, f"MLFLOW_TRACKING_URI left as {after!r} (use monkeypatch.setenv)"
