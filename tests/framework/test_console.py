import logging
import logging.config
from pathlib import Path

import yaml

from aerial_landuse.framework.console import (
    THIRD_PARTY_NOTICES,
    plain_logging,
    quiet_third_party_warnings,
)

PROJECT_LOGGING = Path(__file__).parents[2] / "conf" / "logging.yml"


def test_piped_logging_writes_plain_lines_with_the_projects_levels(capsys):
    config = plain_logging(yaml.safe_load(PROJECT_LOGGING.read_text()))
    assert config["root"]["handlers"] == ["plain"] and list(config["handlers"]) == ["plain"]
    assert config["loggers"]["kedro.framework.project"]["level"] == "WARNING"
    root, names = logging.getLogger(), [*config["loggers"], "kedro.io"]
    kept = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in names})
    logging.config.dictConfig(config)
    try:
        logging.getLogger("kedro.io").info("Loading data from %s", "x" * 300)
        logging.getLogger("kedro.framework.project").info("Using 'conf/logging.yml' as ...")
    finally:
        root.handlers[:], root.level = kept[0], kept[1]
        for name, level in kept[2].items():
            logging.getLogger(name).setLevel(level)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1  # not wrapped, and Kedro's notice about the file is not shown
    assert lines[0].endswith("x  [kedro.io]") and " INFO " in lines[0]  # not padded


def test_kedros_async_hint_is_dropped_and_its_progress_kept(caplog):
    quiet_third_party_warnings()
    runner = logging.getLogger("kedro.runner.sequential_runner")
    with caplog.at_level(logging.INFO):
        runner.info(
            "Using synchronous mode for loading and saving data. Use the --async flag for ..."
        )
        runner.info("Completed 1 out of 3 tasks")
    assert [r.getMessage() for r in caplog.records] == ["Completed 1 out of 3 tasks"]
    assert "kedro.runner.sequential_runner" in THIRD_PARTY_NOTICES


def test_kedro_viz_notice_on_a_partial_run_is_dropped(caplog):
    """kedro-viz's own run hook, called as Kedro calls it for ``--pipelines=score``."""
    from kedro_viz.integrations.kedro.run_hooks import PipelineRunStatusHook

    quiet_third_party_warnings()
    with caplog.at_level(logging.INFO):
        PipelineRunStatusHook().before_pipeline_run(
            {"pipeline_names": ["score"], "runner": "SequentialRunner"}, pipeline=None
        )
    assert not [r for r in caplog.records if "Workflow tracking" in r.getMessage()]
