"""One home for writing outputs safely, on any fsspec filesystem: whole versions only, one writer
at a time, readers that never change storage.

- **One writer per output**: a writer holds the output's lock while it writes and publishes (a
  ``flock`` on a lock file in the machine's temporary folder, named by the output's path,
  locally; a 60 s lease, renewed while held, on the ``<path>.__lock__`` blob elsewhere). Both end with the process: a killed run never leaves a
  lock behind. A second writer waits, saying who it waits for.
- **Staged under a unique name**: ``<path>.__writing__-<token>``; a resumable writer may take
  over the staging of a stopped run of the same job (``reuse``); the writer removes the others.
- **Published whole**: the completion marker (``_SUCCESS``) is written last, then the folder
  replaces the previous one in two moves (old aside to ``<path>.__previous__``, new in place). On
  object storage, where a move is a copy, the marker is copied last and deleted first, so a
  folder without its marker is never trusted, and a kill mid-copy leaves the previous version.
- **Readers never write**: ``complete_version`` reads the output, or the previous version while
  a writer is between its two moves; the next writer (under the lock) repairs what a kill left.
  ``read_one_version`` reads a folder of several files as one version (the marker holds its id).
- **Single files** (a network, a GeoPackage) are written to a unique temporary name and moved in.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from aerial_landuse.core.errors import storage_outage_in

logger = logging.getLogger(__name__)
T = TypeVar("T")

STAGING_SUFFIX = ".__writing__"
PREVIOUS_SUFFIX = ".__previous__"
LOCK_SUFFIX = ".__lock__"
SUCCESS_FILE = "_SUCCESS"
LEASE_S = 60  # a blob lease's length; renewed every third of it while the writer lives
LOCK_WAIT_S = 6 * 3600  # how long a writer waits for another writer of the same output


class OutputLockTimeout(TimeoutError):
    """Another run held an output's lock for longer than a writer waits."""


def unique_name(path: str, suffix: str) -> str:
    """``<path><suffix>-<token>``: a name no other writer uses."""
    return f"{path.rstrip('/')}{suffix}-{uuid.uuid4().hex[:12]}"


def is_local(fs: Any) -> bool:
    protocol = fs.protocol
    return "file" in ((protocol,) if isinstance(protocol, str) else tuple(protocol))


@contextlib.contextmanager
def output_lock(fs: Any, path: str, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold ``path``'s writer lock (waits for another writer; released when the block ends)."""
    lock = _LocalLock(path) if is_local(fs) else _BlobLease(fs, path)
    lock.acquire(wait_s)
    try:
        yield
    except BaseException as exc:
        lock.release(storage_lost=storage_outage_in(exc) is not None)
        raise
    lock.release()


@contextlib.contextmanager
def writing_folder(fs: Any, path: str, reuse: Callable[[str], bool] | None = None) -> Iterator[str]:
    """Under ``path``'s lock: a staging folder to fill (a new one, or a stopped run's staging that
    ``reuse`` accepts); when the block ends without an error the marker is written and the folder
    published. On an error the staging stays (a resumable writer takes it over next time)."""
    path = path.rstrip("/")
    with output_lock(fs, path):
        _repair(fs, path)
        staging = _claim_staging(fs, path, reuse)
        yield staging
        fs.pipe_file(f"{staging}/{SUCCESS_FILE}", uuid.uuid4().hex.encode())  # this version's id
        _publish(fs, staging, path)


def unique_file_name(path: str) -> str:
    """A unique name beside the file ``path`` (a path or a URL) with its extension kept, for the
    writers that go by it (matplotlib): ``<stem>.__writing__-<token>.<extension>``."""
    folder, slash, name = path.rpartition("/")
    stem, dot, extension = name.partition(".")
    return f"{folder}{slash}{stem}{STAGING_SUFFIX}-{uuid.uuid4().hex[:12]}{dot}{extension}"


@contextlib.contextmanager
def whole_file(fs: Any, path: str, temporary: str) -> Iterator[None]:
    """Under ``path``'s lock, the block writes ``temporary`` (a ``unique_file_name``), which then
    replaces ``path`` (a rename locally, one blob commit elsewhere); removed if the block fails."""
    with output_lock(fs, path):
        try:
            yield
            _move_file(fs, temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                if fs.exists(temporary):
                    fs.rm(temporary)


def write_file(fs: Any, path: str, write: Callable[[Any], None]) -> None:
    """Write the single file ``path`` whole: ``write(handle)`` fills a temporary file first."""
    temporary = unique_file_name(path)
    with whole_file(fs, path, temporary), fs.open(temporary, "wb") as handle:
        write(handle)


def staging_folders(fs: Any, path: str) -> list[str]:
    """The staging folders of ``path`` that writers left or are filling, by name."""
    pattern = f"{path.rstrip('/')}{STAGING_SUFFIX}-*"
    return sorted(p.rstrip("/") for p in fs.glob(pattern) if fs.isdir(p))


def complete_version(fs: Any, path: str) -> str | None:
    """The folder that holds ``path``'s complete output (its marker): ``path`` itself, or the
    previous version while a writer is between its two moves (or was killed there). Reads only."""
    path = path.rstrip("/")
    for folder in (path, path + PREVIOUS_SUFFIX):
        if fs.exists(f"{folder}/{SUCCESS_FILE}"):
            return folder
    return None


def read_one_version(fs: Any, path: str, read: Callable[[str], T]) -> T | None:
    """``read(folder)`` of one complete version of ``path`` (None: there is none). A folder of
    several files is read again when a writer replaced it meanwhile: its marker holds the
    version's id, the same before and after the read, else the files may be of two versions."""
    while True:
        folder = complete_version(fs, path)
        if folder is None:
            return None
        try:
            version = fs.cat_file(f"{folder}/{SUCCESS_FILE}")
            result = read(folder)
            if fs.cat_file(f"{folder}/{SUCCESS_FILE}") == version:
                return result
        except FileNotFoundError:
            pass  # moved aside by a writer mid-read
        logger.debug("%s was replaced while being read: reading it again", path)


def is_complete(fs: Any, path: str) -> bool:
    """Whether ``path`` has a complete output to read (``complete_version``)."""
    return complete_version(fs, path) is not None


def _claim_staging(fs: Any, path: str, reuse: Callable[[str], bool] | None) -> str:
    claimed = None
    for staging in staging_folders(fs, path):
        if claimed is None and reuse is not None and reuse(staging):
            claimed = staging
            continue
        logger.info("Removing %s, left by a run that did not finish", staging)
        fs.rm(staging, recursive=True)
    if claimed is None:
        claimed = unique_name(path, STAGING_SUFFIX)
        fs.makedirs(claimed, exist_ok=True)
    return claimed


def _repair(fs: Any, path: str) -> None:
    """Writer side, under the lock: put back the previous version a kill left aside (between the
    two moves), or drop it when the new one is in place."""
    previous = path + PREVIOUS_SUFFIX
    if not fs.exists(previous):
        return
    if fs.exists(f"{path}/{SUCCESS_FILE}") or not fs.exists(f"{previous}/{SUCCESS_FILE}"):
        fs.rm(previous, recursive=True)
        return
    logger.warning("Restoring %s: a run stopped while replacing it", path)
    if fs.exists(path):
        fs.rm(path, recursive=True)  # a half-copied new version, without its marker
    _move_folder(fs, previous, path)


def _publish(fs: Any, staging: str, path: str) -> None:
    """Move the complete ``staging`` to ``path``, replacing the previous output."""
    previous = path + PREVIOUS_SUFFIX
    if fs.exists(path):
        _move_folder(fs, path, previous)
    _move_folder(fs, staging, path)
    if fs.exists(previous):
        fs.rm(previous, recursive=True)


def _move_folder(fs: Any, source: str, target: str) -> None:
    """A rename on a local disk (atomic, and refused onto an existing folder rather than nesting
    into it); on object storage, where folders are name prefixes, a server-side copy of each file
    with the marker copied last, then the source deleted marker first."""
    if is_local(fs):
        os.rename(fs._strip_protocol(source), fs._strip_protocol(target))
        return
    files = [f for f in fs.find(source) if not f.endswith("/")]
    markers = [f for f in files if f.endswith(f"/{SUCCESS_FILE}")]
    others = [f for f in files if f not in markers]
    for batch in (others, markers):
        if batch:
            fs.copy(batch, [target + f[len(source) :] for f in batch])
    if markers:
        fs.rm(markers)
    fs.rm(source, recursive=True)


def _move_file(fs: Any, source: str, target: str) -> None:
    if is_local(fs):
        os.replace(fs._strip_protocol(source), fs._strip_protocol(target))
    else:
        fs.copy(source, target)  # one blob, committed whole by the service
        fs.rm(source)


class _LocalLock:
    """``flock`` on a lock file named by the output's absolute path, in the machine's temporary
    folder (none lands in data/, where a tile folder would list it): the kernel releases it when
    the process ends."""

    def __init__(self, path: str) -> None:
        absolute = os.path.abspath(path.rstrip("/").removeprefix("file://"))
        name = hashlib.sha256(absolute.encode()).hexdigest()[:32] + ".lock"
        self._path = os.path.join(tempfile.gettempdir(), "aerial-landuse-locks", name)
        self._fd: int | None = None

    def acquire(self, wait_s: float) -> None:
        os.makedirs(os.path.dirname(self._path) or ".", exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _wait_for(lambda: _try_flock(fd), self._path, wait_s)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self, storage_lost: bool = False) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class _BlobLease:
    """A lease on the ``<path>.__lock__`` blob, renewed by a thread while held: a run that dies
    stops renewing it, and it lapses within ``LEASE_S`` seconds."""

    def __init__(self, fs: Any, path: str) -> None:
        self._fs = fs
        self._path = path.rstrip("/") + LOCK_SUFFIX
        self._lease: Any = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self, wait_s: float) -> None:
        if not self._fs.exists(self._path):
            with contextlib.suppress(Exception):  # another writer made (and leased) it
                self._fs.pipe_file(self._path, b"")
        _wait_for(self._try_lease, self._path, wait_s)
        self._renewer = threading.Thread(target=self._renew, daemon=True, name="output-lease")
        self._renewer.start()

    def release(self, storage_lost: bool = False) -> None:
        """End the lease; with the storage lost, let it lapse (within LEASE_S) rather than wait
        for a renewal and a release that retry against an endpoint that does not answer."""
        self._stop.set()
        if storage_lost:
            logger.info("Left the lease on %s to lapse within %d s", self._path, LEASE_S)
            self._lease = None
            return
        if self._renewer is not None:
            self._renewer.join()
        if self._lease is not None:
            with contextlib.suppress(Exception):  # it lapses by itself otherwise
                self._run(self._lease.release())
            self._lease = None

    def _try_lease(self) -> bool:
        from azure.core.exceptions import HttpResponseError
        from azure.storage.blob.aio import BlobLeaseClient

        container, blob, _ = self._fs.split_path(self._path)
        client = self._fs.service_client.get_blob_client(container, blob)
        lease = BlobLeaseClient(client)
        try:
            self._run(lease.acquire(lease_duration=LEASE_S))
        except HttpResponseError as exc:
            if exc.status_code == 409:  # another writer holds it
                return False
            raise
        self._lease = lease
        return True

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_S / 3):
            try:
                self._run(self._lease.renew())
            except Exception as exc:  # noqa: BLE001 - an outage: the write itself will fail
                logger.warning("Could not renew the lease on %s: %s", self._path, exc)

    def _run(self, coroutine: Any) -> Any:
        from fsspec.asyn import sync

        return sync(self._fs.loop, lambda: coroutine)


def _wait_for(attempt: Callable[[], bool], lock: str, wait_s: float) -> None:
    """Call ``attempt`` until it takes the lock, saying once (then every 5 min) what it waits for."""
    deadline, said = time.monotonic() + wait_s, 0.0
    while not attempt():
        now = time.monotonic()
        if now >= deadline:
            raise OutputLockTimeout(
                f"Another run has been writing the output locked by {lock} for over "
                f"{wait_s:.0f} s. Wait for it to finish, or stop it; a run that was killed "
                "releases its lock by itself (a blob lease within a minute)."
            )
        if now - said >= 300:
            logger.info("Waiting for another run that is writing the output locked by %s", lock)
            said = now
        time.sleep(0.5)
