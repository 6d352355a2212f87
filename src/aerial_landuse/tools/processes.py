"""Helpers for the servers the tools start (Azurite, Spark's Master and Workers): free ports, and
process groups stopped as a whole, so that no child outlives the tool or test that started it."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import psutil


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def group_alive(pgid: int) -> bool:
    """Whether any process of the group ``pgid`` is still running (its leader, if it is our child
    and has exited, is reaped first: a zombie is not running)."""
    try:
        os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child (started by another command): nothing to reap
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    return True


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def stop_groups(pgids: list[int], grace: float = 30) -> None:
    """SIGTERM every group, wait up to ``grace`` seconds, then SIGKILL what is left.

    The processes must have been started with ``start_new_session=True`` (their PID is their
    group's id); a generous grace keeps this reliable on a loaded machine.
    """
    for pgid in pgids:
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(group_alive(p) for p in pgids):
        time.sleep(0.2)
    for pgid in pgids:
        if group_alive(pgid):
            signal_group(pgid, signal.SIGKILL)


def write_private(path: Path, text: str) -> None:
    """``text`` into ``path`` readable by its owner only, from the first byte (no window in
    which another user can read a key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an existing file keeps its mode otherwise
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def record_groups(path: Path, pids: list[int]) -> None:
    """The process groups a tool started, each with its start time, so that a later stop never
    signals a process that merely reuses the PID after a reboot or a crash."""
    path.write_text("".join(f"{pid} {psutil.Process(pid).create_time():.3f}\n" for pid in pids))


def recorded_groups(path: Path) -> tuple[list[int], list[int]]:
    """(still running, stale) PIDs of ``record_groups``: stale ones have exited or now belong
    to another process, and must not be signalled."""
    running, stale = [], []
    for line in path.read_text().splitlines():
        pid, _, started = line.partition(" ")
        (running if _same_process(int(pid), started) else stale).append(int(pid))
    return running, stale


def _same_process(pid: int, started: str) -> bool:
    try:
        return bool(started) and abs(psutil.Process(pid).create_time() - float(started)) < 0.01
    except (psutil.Error, ValueError):
        return False
