"""What the console shows: third-party warnings a user can do nothing about are filtered, and on
a file or a pipe log records are written one plain line each (not padded, wrapped or boxed)."""

from __future__ import annotations

import copy
import logging
import os
import re
import sys
import warnings
from typing import Any

from aerial_landuse.core.errors import plain_error_message

# (message regex, why it is not the user's to act on)
THIRD_PARTY_WARNINGS = (
    # kedro-mlflow's KedroPipelineModel has no type hints; MLflow warns on every kedro command.
    r"Add type hints to the `predict` method",
    # kedro-viz 12.5 still uses FastAPI's ORJSONResponse.
    r"ORJSONResponse is deprecated",
    # Kedro 1.7 itself still calls OmegaConf's deprecated register_new_resolver.
    r"register_new_resolver\(\) is deprecated",
)
# logger -> messages it logs that are not the user's to act on
THIRD_PARTY_NOTICES = {
    "py.warnings": THIRD_PARTY_WARNINGS,
    # Kedro's hint on every run to try --async: Spark reads and writes on its own threads.
    "kedro.runner.sequential_runner": (r"^Using synchronous mode for loading and saving data",),
    # kedro-viz's run hook, on every run of part of the pipelines in a KedroSession (the
    # benchmarks' and the quality sweep's): only that its event file is left for full runs.
    "kedro_viz.integrations.kedro.run_hooks": (r"^Workflow tracking is disabled",),
}


class _DropMessages(logging.Filter):
    """Drops records whose message matches one of ``patterns``: MLflow resets the warning
    filters around its own check, so a captured warning's log record is what can be stopped."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        super().__init__()
        self.patterns = tuple(re.compile(pattern) for pattern in patterns)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not any(p.search(text) for p in self.patterns)


def quiet_third_party_warnings() -> None:
    """Filter the warnings and notices listed in THIRD_PARTY_NOTICES (Kedro's rich handler logs
    warnings). Logger filters outlive Kedro's later logging configuration."""
    for message in THIRD_PARTY_WARNINGS:
        warnings.filterwarnings("ignore", message=f".*{message}")
    for name, patterns in THIRD_PARTY_NOTICES.items():
        target = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) for f in target.filters):
            target.addFilter(_DropMessages(patterns))


PIPED_WIDTH = 240  # rich wraps at 80 columns when it cannot ask a terminal


def quiet_console() -> None:
    """The ``kedro.init`` entry point: runs before Kedro loads its plugins (settings.py runs too
    late for kedro-mlflow's import warning)."""
    quiet_third_party_warnings()
    widen_piped_console()
    log_plainly_when_piped()
    print_user_errors_plainly()


TRACEBACK_VARIABLE = "AERIAL_LANDUSE_TRACEBACK"


def print_user_errors_plainly() -> None:
    """An error in the user's input (errors.UserInputError, also when Kedro wrapped it) and a
    lost storage connection are printed once, as a message that says what to do, without a
    traceback; anything else keeps the full traceback,
    and so does every error when AERIAL_LANDUSE_TRACEBACK=1. Installed again (once) after
    Kedro configured the project's logging, which reinstalls rich's traceback hook."""
    previous = sys.excepthook
    if getattr(previous, "plain_user_errors", False):
        return

    def hook(kind: type[BaseException], exc: BaseException, trace: Any) -> None:
        message = plain_error_message(exc)
        if message is None or os.environ.get(TRACEBACK_VARIABLE):
            previous(kind, exc, trace)
            return
        sys.stderr.write(f"\nError: {message} {TRACEBACK_VARIABLE}=1 shows it.)\n")

    hook.plain_user_errors = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def widen_piped_console() -> None:
    """On a file or pipe (make, CI, ``kedro run > run.log``) rich output that is not a log record
    (tracebacks, a user's own logging configuration) is not wrapped at 80 columns; a terminal
    keeps its own width."""
    import rich

    console = rich.get_console()
    if not _on_terminal() and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH
        os.environ["COLUMNS"] = str(PIPED_WIDTH)  # rich consoles made later (tracebacks)


def log_plainly_when_piped() -> None:
    """On a file or pipe, log through a plain handler with conf/logging.yml's ``plain`` format:
    rich pads every record to the console's width and breaks longer ones mid-word. A terminal
    keeps rich; so does a logging configuration without a ``plain`` formatter (a user's
    KEDRO_LOGGING_CONFIG, or a command run outside the project folder)."""
    from kedro.framework.project import LOGGING, configure_logging

    config = copy.deepcopy(dict(LOGGING))
    if _on_terminal() or "plain" not in config.get("formatters", {}):
        return
    configure_logging(plain_logging(config))
    logging.captureWarnings(True)  # rich's handler did this; warnings stay in the log


def plain_logging(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with its handlers replaced by one plain stream handler on stdout (where
    Kedro's rich handler writes, so ``kedro run > run.log`` still catches the log)."""
    plain = {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stdout"}
    loggers = {
        name: {key: value for key, value in logger.items() if key != "handlers"}
        for name, logger in config.get("loggers", {}).items()
    }
    root = {**config.get("root", {}), "handlers": ["plain"]}
    return {**config, "handlers": {"plain": plain}, "loggers": loggers, "root": root}


def _on_terminal() -> bool:
    import rich

    return rich.get_console().is_terminal
