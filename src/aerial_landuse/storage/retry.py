"""A bounded, logged retry for storage reads that meet a transient network fault, on top of the
Azure client's own retries (which it does not log): a short outage costs seconds, not the run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from aerial_landuse.core.errors import transient

logger = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 2  # on top of the Azure client's own 3 retries (15 s+ back-off each)
BACKOFF_S = (5.0,)  # before attempt 2


def with_retries(operation: Callable[[], T], what: str) -> T:
    """``operation()``, retried on a transient fault ATTEMPTS times with BACKOFF_S between."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return operation()
        except Exception as exc:
            if attempt == ATTEMPTS or not transient(exc):
                raise
            pause = BACKOFF_S[attempt - 1]
            logger.warning(
                "%s failed (%s: %s); attempt %d of %d in %.0f s",
                what,
                type(exc).__name__,
                exc,
                attempt + 1,
                ATTEMPTS,
                pause,
            )
            time.sleep(pause)
    raise AssertionError("unreachable")
