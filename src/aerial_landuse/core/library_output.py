"""Lines a library prints (rather than logs) become log records, so the console and a log file
hold one format: efficientnet_lite_pytorch prints "Loaded pretrained weights", MLflow prints
"Successfully registered model" and "Created version" to stderr."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, redirect_stderr, redirect_stdout


@contextmanager
def prints_logged(
    logger: logging.Logger, stdout: bool = True, stderr: bool = False
) -> Iterator[None]:
    """Lines printed within the block to ``stdout`` (and ``stderr``) are logged as INFO records
    of ``logger`` when the block ends, also when it raises."""
    printed = io.StringIO()
    try:
        with (
            redirect_stdout(printed) if stdout else nullcontext(),
            redirect_stderr(printed) if stderr else nullcontext(),
        ):
            yield
    finally:
        for line in printed.getvalue().splitlines():
            if line.strip():
                logger.info("%s", line.strip())
