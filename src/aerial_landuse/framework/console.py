"""What the console shows: third-party warnings a user can do nothing about are filtered, and log
lines are written whole (not wrapped at 80 columns) when stderr is a file or a pipe."""

from __future__ import annotations

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


class _DropThirdPartyWarnings(logging.Filter):
    """Drops captured warnings (logger ``py.warnings``) matching THIRD_PARTY_WARNINGS: MLflow
    resets the warning filters around its own check, so only the log record can be stopped."""

    patterns = tuple(re.compile(message) for message in THIRD_PARTY_WARNINGS)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not any(p.search(text) for p in self.patterns)


def quiet_third_party_warnings() -> None:
    """Filter the warnings listed in THIRD_PARTY_WARNINGS (Kedro's rich handler logs warnings)."""
    for message in THIRD_PARTY_WARNINGS:
        warnings.filterwarnings("ignore", message=f".*{message}")
    captured = logging.getLogger("py.warnings")
    if not any(isinstance(f, _DropThirdPartyWarnings) for f in captured.filters):
        captured.addFilter(_DropThirdPartyWarnings())


PIPED_WIDTH = 240  # rich wraps at 80 columns when it cannot ask a terminal


def quiet_console() -> None:
    """The ``kedro.init`` entry point: runs before Kedro loads its plugins (settings.py runs too
    late for kedro-mlflow's import warning)."""
    quiet_third_party_warnings()
    widen_piped_console()
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
    """On a file or pipe (make, CI, ``kedro run > run.log``) write each log record on one line
    instead of wrapping it at 80 columns; a terminal keeps its own width."""
    import rich

    console = rich.get_console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH
        os.environ["COLUMNS"] = str(PIPED_WIDTH)  # rich consoles made later (tracebacks)
