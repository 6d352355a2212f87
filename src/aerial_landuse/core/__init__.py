"""The core: tiles, networks, inference, geometry and classifiers. It imports neither Kedro nor
MLflow, so the lean executor environment runs it (import-linter checks this)."""
