"""Outputs replaced only when the new one is complete, on any fsspec filesystem.

A folder output (Parquet parts, a model) is written beside its final place, ``<path>.__writing__``,
and moved in only when complete: the previous good output stays readable until then, and a run
killed or failed mid-write leaves it intact. The switch is two moves (old aside to
``<path>.__previous__``, new in place) and a delete; a run killed between the two moves is
repaired by ``recover`` the next time the output is looked at. Completeness is a ``_SUCCESS``
file written last (Spark's own marker), so a half-written folder is never trusted.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

STAGING_SUFFIX = ".__writing__"
PREVIOUS_SUFFIX = ".__previous__"
SUCCESS_FILE = "_SUCCESS"


def fresh_staging(fs: Any, path: str) -> str:
    """An empty staging folder for a new ``path`` (what a killed run left there is removed)."""
    staging = path.rstrip("/") + STAGING_SUFFIX
    if fs.exists(staging):
        logger.info("Removing %s, left by a run that did not finish", staging)
        fs.rm(staging, recursive=True)
    return staging


def publish(fs: Any, staging: str, path: str) -> None:
    """Move the complete ``staging`` folder to ``path``, replacing the previous output."""
    path = path.rstrip("/")
    previous = path + PREVIOUS_SUFFIX
    if fs.exists(previous):
        fs.rm(previous, recursive=True)
    if fs.exists(path):
        move_folder(fs, path, previous)
    move_folder(fs, staging, path)
    if fs.exists(previous):
        fs.rm(previous, recursive=True)


def recover(fs: Any, path: str) -> None:
    """Put the previous output back when a run stopped between the two moves of ``publish``."""
    path = path.rstrip("/")
    previous = path + PREVIOUS_SUFFIX
    if not fs.exists(path) and fs.exists(previous):
        logger.warning("Restoring %s: a run stopped while replacing it", path)
        move_folder(fs, previous, path)


def move_folder(fs: Any, source: str, target: str) -> None:
    """A rename on a local disk (atomic); on object storage, where folders are name prefixes,
    a server-side copy of each file, then the source deleted (fsspec's recursive ``mv`` trips
    over adlfs's virtual folders)."""
    if "file" in _protocols(fs):
        fs.mv(source, target, recursive=True)
        return
    files = [f for f in fs.find(source) if not f.endswith("/")]
    fs.copy(files, [target + f[len(source.rstrip("/")) :] for f in files])
    fs.rm(source, recursive=True)


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def is_complete(fs: Any, path: str) -> bool:
    """Whether ``path`` holds a complete output (its ``_SUCCESS`` marker), after ``recover``."""
    recover(fs, path)
    return fs.exists(f"{path.rstrip('/')}/{SUCCESS_FILE}")
