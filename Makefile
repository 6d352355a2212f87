# aerial-landuse: `make run` (the main job on demo data) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The project's defaults (conf/base/globals.yml, their one home): what `kedro run` alone runs.
# NETWORK=efficientnet_lite0 runs the frozen network (no torch, no fine-tuning).
GLOBALS := conf/base/globals.yml
global_default = $(shell sed -n 's/^$(1): *\([A-Za-z0-9_+.-]*\).*/\1/p' $(GLOBALS))
global_nested = $(shell sed -n '/^$(1):/,/^[^ ]/s/^  $(2): *\([A-Za-z0-9_+.-]*\).*/\1/p' $(GLOBALS))
NETWORK ?= $(call global_default,pretrained_model)
CLASSIFIER ?= $(call global_default,classifier)
MODEL ?= $(NETWORK)_$(CLASSIFIER)
DATASET ?= $(call global_default,dataset)
# The demo region in two years (change.before / change.after); REGION is scored by default.
REGION := $(call global_default,region)
REGION_BEFORE := $(call global_nested,change,before)
REGION_AFTER := $(call global_nested,change,after)
# The same kind of region as NAIP-like GeoTIFF quads (demo_rasters.before / .after), no tiles cut.
RASTERS_BEFORE := $(call global_nested,demo_rasters,before)
RASTERS_AFTER := $(call global_nested,demo_rasters,after)
# ... and a model trained from the later year's quads, labelled by its NLCD-like land cover
# (the demo's 3.5 x 1.8 km: spatial blocks of 2 x 2 cells, so that every class has train cells)
RASTERS_LAND_COVER := $(call global_nested,demo_rasters,land_cover)
RASTERS_DATASET := $(call global_nested,demo_rasters,dataset)
RASTERS_LABELLED := ,train_folder=$(RASTERS_AFTER),land_cover_folder=$(RASTERS_LAND_COVER),ingest.land_cover.split_block_cells=2
DEMO_FILES := data/01_raw/$(REGION_BEFORE)/tile_summaries.csv data/01_raw/$(RASTERS_AFTER)/quad_0.tif \
  data/01_raw/$(RASTERS_LAND_COVER)/nlcd.tif

export DO_NOT_TRACK := 1
export KEDRO_DISABLE_TELEMETRY := true
export PYSPARK_PYTHON := $(abspath $(BIN)/python)
export PYSPARK_DRIVER_PYTHON := $(abspath $(BIN)/python)


.PHONY: quality install-torch executor-env cluster-up cluster-down upload-cluster run-cluster hdinsight-packages bench bench-region sweep compare mlflow-ui synapseml-jars help install prerequisites demo-data pretrained run test lint viz clean-data azurite-install azurite azurite-stop upload run-azurite

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

prerequisites:
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)."; exit 1; }
	@command -v java >/dev/null || { echo "Java 17 is required for Spark (java not found on PATH)."; exit 1; }
	@java -version 2>&1 | grep -qE 'version "(17|21)' || { echo "Spark 3.5 needs Java 17 (or 21):"; java -version; exit 1; }

$(STAMP): requirements-lock.txt pyproject.toml | prerequisites
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --progress-bar on pip
	$(BIN)/python -m pip install --progress-bar on -r requirements-lock.txt
	$(BIN)/python -m pip install --no-deps -e .
	touch $@

# torch (3+ GB with CUDA) is an extra: the default run exports EfficientNet-Lite0 without it.
TORCH_STAMP := $(VENV)/.installed-torch

$(TORCH_STAMP): requirements-torch-lock.txt | $(STAMP)
	$(BIN)/python -m pip install --progress-bar on -r requirements-torch-lock.txt
	touch $@

install-torch: $(TORCH_STAMP)  ## Add torch to .venv (exports resnet18/alexnet; the tests need it)

JARS_STAMP := .jars/synapseml/.resolved
# Debian's mvn launcher prints colour codes even in batch mode: strip them from the log.
STRIP_ESCAPES := sed -u 's/\x1b\[[0-9;]*m//g'

$(JARS_STAMP): tools/synapseml/pom.xml
	@command -v mvn >/dev/null || { echo "SynapseML's jars come from Maven Central: install Maven (mvn)."; exit 1; }
	@echo "Resolving SynapseML's jars from Maven Central into .jars/synapseml (once, ~50 jars)"
	set -o pipefail; mvn -q -B -ntp -f tools/synapseml/pom.xml dependency:copy-dependencies 2>&1 | $(STRIP_ESCAPES)
	touch $@

synapseml-jars: $(JARS_STAMP)  ## Resolve SynapseML's jars from Maven Central into .jars/synapseml

install: $(STAMP) $(JARS_STAMP)  ## Create .venv with the pinned dependencies, resolve SynapseML's jars

$(DEMO_FILES) &: | $(STAMP)
	$(BIN)/kedro run --pipelines=demo_data

demo-data: $(DEMO_FILES)  ## Write the synthetic demo tiles and GeoTIFF quads (once)

# The network is made once, as the registry says (tools/network.py): a fine-tuned one from the
# labelled tiles (ingest, finetune: torch on the driver), any other exported (pretrained).
NETWORK_TOOL = $(BIN)/python -m aerial_landuse.tools.network $(NETWORK)
NETWORKS_FOLDER := data/06_models/pretrained

pretrained: install demo-data  ## Make the network once: export it, or fine-tune it (NETWORK=<lite>_finetuned; DATASET=, LABELLED=,train_folder=...)
	@set -e; file="$(NETWORKS_FOLDER)/$$($(NETWORK_TOOL) --file $(DATASET))"; \
	if [ -f "$$file" ]; then echo "Network: $$file"; else \
	  if $(NETWORK_TOOL) --needs-torch; then $(MAKE) --no-print-directory install-torch; fi; \
	  $(BIN)/kedro run --pipelines=$$($(NETWORK_TOOL) --pipelines) \
	    --params pretrained_model=$(NETWORK),dataset=$(DATASET)$(LABELLED); fi

run: install demo-data pretrained  ## Run the whole job on the demo data (and its change since the earlier year); print where the reports are
	$(BIN)/kedro run --params pretrained_model=$(NETWORK)
	$(BIN)/kedro run --pipelines=score --params pretrained_model=$(NETWORK),region=$(REGION_BEFORE)
	$(BIN)/kedro run --pipelines=change --params pretrained_model=$(NETWORK)
	$(BIN)/kedro run --pipelines=score,report --params pretrained_model=$(NETWORK),region=$(RASTERS_AFTER)
	$(BIN)/kedro run --pipelines=score --params pretrained_model=$(NETWORK),region=$(RASTERS_BEFORE)
	$(BIN)/kedro run --pipelines=change --params pretrained_model=$(NETWORK),before=$(RASTERS_BEFORE),after=$(RASTERS_AFTER)
	$(MAKE) --no-print-directory pretrained DATASET=$(RASTERS_DATASET) LABELLED=$(RASTERS_LABELLED)
	$(BIN)/kedro run --params pretrained_model=$(NETWORK),dataset=$(RASTERS_DATASET)$(RASTERS_LABELLED),region=$(RASTERS_BEFORE)
	@echo
	@echo "Report: $(abspath data/08_reporting/$(DATASET)/$(MODEL)/$(REGION)/report.html)"
	@echo "Change: $(abspath data/08_reporting/$(DATASET)/$(MODEL)/change_$(REGION_BEFORE)_$(REGION_AFTER)/change_report.html)"
	@echo "GeoTIFF region: $(abspath data/08_reporting/$(DATASET)/$(MODEL)/$(RASTERS_AFTER)/report.html)"
	@echo "  its class COG: $(abspath data/07_model_output/$(DATASET)/$(MODEL)/$(RASTERS_AFTER)/rasters/land_use.tif)"
	@echo "  change: $(abspath data/08_reporting/$(DATASET)/$(MODEL)/change_$(RASTERS_BEFORE)_$(RASTERS_AFTER)/change_report.html)"
	@echo "Trained from a land-cover raster ($(RASTERS_AFTER)'s cells labelled by $(RASTERS_LAND_COVER)), scoring $(RASTERS_BEFORE):"
	@echo "  $(abspath data/08_reporting/$(RASTERS_DATASET)/$(MODEL)/$(RASTERS_BEFORE)/report.html)"

sweep: install demo-data  ## Train + evaluate every network x classifier available offline, then the leaderboard
	$(MAKE) --no-print-directory pretrained NETWORK=efficientnet_lite0
	$(BIN)/python -m aerial_landuse.tools.sweep

DATA ?= ../shared/data/rsscn7-dev
quality: install install-torch  ## Leaderboard of networks x fine-tuning x TTA x classifiers on a labelled folder (DATA=...)
	$(BIN)/python -m aerial_landuse.tools.quality --data $(DATA) $(QUALITY_ARGS)

TILES ?= 2000
# The benchmarks' network: an exported one (e.g. efficientnet_lite0_int8), not a fine-tuned one.
BENCH_NETWORK ?= efficientnet_lite0
bench: install  ## Throughput benchmark: network alone, plain loop, featurize, score (TILES=1000,4000,16000; BENCH_NETWORK=)
	$(MAKE) --no-print-directory pretrained NETWORK=$(BENCH_NETWORK)
	$(BIN)/python -m aerial_landuse.tools.bench --tiles $(TILES) --network $(BENCH_NETWORK)

REGION_TILES ?= 67600
bench-region: install  ## A county-sized region (REGION_TILES=67600) scored and reported: time, memory, file sizes (BENCH_NETWORK=)
	$(MAKE) --no-print-directory pretrained NETWORK=$(BENCH_NETWORK)
	$(BIN)/python -m aerial_landuse.tools.bench --tiles none --region-tiles $(REGION_TILES) --network $(BENCH_NETWORK)

compare: install  ## Leaderboard of the MLflow run history (data/08_reporting/leaderboard.html)
	$(BIN)/kedro run --pipelines=compare

MLFLOW_PORT ?= 5000
# One worker: one user on this machine (mlflow's default of 4 imports the server four times).
mlflow-ui: install  ## Serve the MLflow UI on http://127.0.0.1:$(MLFLOW_PORT)
	$(BIN)/mlflow ui --backend-store-uri $${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db} --host 127.0.0.1 --port $(MLFLOW_PORT) --workers 1

TEST_PROCESSES ?= 2
# The tests' Spark drivers start on a class-data-sharing archive made once for this .venv's JDK
# and jars (tests/spark_conf/class_archive.py says why); without it, each test run makes its own.
TEST_CLASS_ARCHIVE := $(VENV)/test-class-archive
$(TEST_CLASS_ARCHIVE)/spark-defaults.conf: tests/spark_conf/class_archive.py tests/spark_conf/spark-defaults.conf $(STAMP)
	$(BIN)/python tests/spark_conf/class_archive.py $(TEST_CLASS_ARCHIVE)

test: install install-torch azurite-install executor-env $(TEST_CLASS_ARCHIVE)/spark-defaults.conf  ## Run the test suite (real Spark, onnxruntime, Azurite, a standalone cluster)
	$(BIN)/python -m compileall -q src  # bytecode once: each of the tests' ~70 kedro processes would compile src/ again
	AERIAL_TEST_CLASS_ARCHIVE=$(abspath $(TEST_CLASS_ARCHIVE)) $(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder

lint:  install ## ruff (check + format) and the layer contracts (import-linter)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

viz: install  ## Show the pipelines in kedro-viz
	$(BIN)/kedro viz run

clean-data:  ## Remove generated data (keeps the folder layout)
	find data -type f ! -name .gitkeep -delete
	find data -mindepth 2 -type d -empty -delete

# ---- Azure Blob Storage, locally: Azurite from npm (pinned in tools/azurite) ----------------
AZURITE_BIN := tools/azurite/node_modules/.bin/azurite-blob
AZURITE_PORT ?= 10000
AZURITE_ENV := .azurite/connection.env

$(AZURITE_BIN): tools/azurite/package.json tools/azurite/package-lock.json
	@command -v npm >/dev/null || { echo "Azurite needs Node.js 18+ with npm."; exit 1; }
	cd tools/azurite && npm ci --no-audit --no-fund --loglevel=error
	touch $@

azurite-install: $(AZURITE_BIN)  ## Install Azurite into tools/azurite (npm ci)

azurite: install azurite-install  ## Start Azurite on 127.0.0.1:$(AZURITE_PORT), data in .azurite/
	$(BIN)/python -m aerial_landuse.tools.azurite start --port $(AZURITE_PORT) --folder .azurite

azurite-stop:  ## Stop Azurite
	$(BIN)/python -m aerial_landuse.tools.azurite stop --folder .azurite

upload: install demo-data  ## Copy the local tiles into Azurite's containers (skips what is there)
	source $(AZURITE_ENV) && $(BIN)/python -m aerial_landuse.tools.upload --env azurite

run-azurite: upload  ## The whole job against Azurite: export the network there, then kedro run
	source $(AZURITE_ENV) && $(BIN)/kedro run --env=azurite --pipelines=$$($(NETWORK_TOOL) --pipelines) --only-missing-outputs --params pretrained_model=$(NETWORK)
	source $(AZURITE_ENV) && $(BIN)/kedro run --env=azurite --params pretrained_model=$(NETWORK)

# ---- A Spark standalone cluster on this machine (pyspark's Master + 2 Workers) ---------------
EXECUTOR_ENV := dist/executor-env.tar.gz

$(EXECUTOR_ENV): requirements-lock.txt pyproject.toml $(shell find src -name '*.py') | $(STAMP)
	$(BIN)/python -m aerial_landuse.tools.executor_env --output $@

executor-env: $(EXECUTOR_ENV)  ## Pack the executors' lean Python environment (no torch) for spark.archives

cluster-up: install  ## Start a Spark standalone Master (127.0.0.1:7077) and 2 Workers, state in .cluster/
	$(BIN)/python -m aerial_landuse.tools.cluster up --folder .cluster

cluster-down:  ## Stop the standalone cluster (by PID)
	$(BIN)/python -m aerial_landuse.tools.cluster down --folder .cluster

upload-cluster: install demo-data  ## Copy the local tiles into Azurite's containers for the cluster env
	source $(AZURITE_ENV) && $(BIN)/python -m aerial_landuse.tools.upload --env cluster

run-cluster: executor-env upload-cluster  ## The whole job on the standalone cluster, data in Azurite
	source $(AZURITE_ENV) && $(BIN)/kedro run --env=cluster --pipelines=$$($(NETWORK_TOOL) --pipelines) --only-missing-outputs --params pretrained_model=$(NETWORK)
	source $(AZURITE_ENV) && $(BIN)/kedro run --env=cluster --params pretrained_model=$(NETWORK)

hdinsight-packages:  ## Resolve conf/hdinsight's spark.jars.packages from Maven Central (what the cluster will fetch)
	@for c in $$($(BIN)/python -c "import yaml;print(yaml.safe_load(open('conf/hdinsight/spark.yml'))['spark.jars.packages'].replace(',',' '))"); do \
	  echo "resolving $$c"; set -o pipefail; mvn -q -B -ntp dependency:get -Dtransitive=true -Dartifact=$$c 2>&1 | $(STRIP_ESCAPES) || exit 1; done
