"""Start and stop Azurite, the local Azure Blob Storage server, for `make azurite` and the tests.

    python -m aerial_landuse.tools.azurite start [--port 10000] [--folder .azurite]
    python -m aerial_landuse.tools.azurite stop  [--folder .azurite]

Azurite comes from npm (tools/azurite, pinned). It serves the storage emulator's account,
``devstoreaccount1`` with the emulator's published key (the same on every machine, reachable from
127.0.0.1 only), on port 10000: that is the only place Spark's Hadoop client reaches a local blob
server (storage/hadoop.py), and Spark writes trained models there. The connection string goes to
``<folder>/connection.env`` (mode 600, git-ignored).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from azure.storage.blob._shared.parser import DEVSTORE_ACCOUNT_KEY

from aerial_landuse.storage.hadoop import EMULATOR_ACCOUNT, EMULATOR_PORT
from aerial_landuse.tools import project_root
from aerial_landuse.tools.processes import (
    record_groups,
    recorded_groups,
    stop_groups,
    write_private,
)

ACCOUNT = EMULATOR_ACCOUNT
# The storage emulator's well-known key, published by Microsoft (not a secret: it opens only an
# emulator); taken from the Azure SDK, which holds it for its UseDevelopmentStorage=true strings.
EMULATOR_KEY = DEVSTORE_ACCOUNT_KEY


def azurite_bin() -> Path:
    """Azurite's blob server: $AZURITE_BIN, else the project's npm install (make azurite-install)."""
    default = project_root() / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
    return Path(os.environ.get("AZURITE_BIN", default))


@dataclass(frozen=True)
class Azurite:
    port: int
    key: str
    folder: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={self.key};BlobEndpoint={self.endpoint};"


def _wait_for(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"Azurite exited with code {process.returncode}; see its log in the data folder."
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"Azurite did not listen on 127.0.0.1:{port} within {timeout:.0f} s.")


def launch(folder: Path, port: int) -> tuple[Azurite, subprocess.Popen]:
    """Start Azurite's blob service on 127.0.0.1:``port`` with its data under ``folder``."""
    binary = azurite_bin()
    if not binary.exists():
        raise RuntimeError(f"Azurite is not installed at {binary}: run `make azurite-install`.")
    _check_free(port)
    server = Azurite(port, EMULATOR_KEY, folder.resolve())
    (folder / "blob").mkdir(parents=True, exist_ok=True)
    log = open(folder / "azurite.log", "ab")  # noqa: SIM115 - the server outlives this function
    process = subprocess.Popen(
        [
            str(binary),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(folder / "blob"),
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
            "--silent",
        ],
        env={k: v for k, v in os.environ.items() if k != "AZURITE_ACCOUNTS"},
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    _wait_for(port, process)
    return server, process


def _check_free(port: int) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(
                f"127.0.0.1:{port} is already in use. Azurite serves there because Spark's Hadoop "
                "client reaches a local blob server only on the storage emulator's port: stop "
                "what listens there (an Azurite of `make azurite`: `make azurite-stop`)."
            )


@contextmanager
def running_azurite(folder: Path, port: int = EMULATOR_PORT) -> Iterator[Azurite]:
    """Azurite for the duration of the block (tests)."""
    server, process = launch(folder, port)
    try:
        yield server
    finally:
        stop_groups([process.pid])
        process.wait()


def start(folder: Path, port: int) -> None:
    pid_file = folder / "azurite.pid"
    if pid_file.exists() and recorded_groups(pid_file)[0]:
        pid = recorded_groups(pid_file)[0][0]
        print(f"Azurite is already running (pid {pid}); `make azurite-stop` stops it.")  # noqa: T201
        return
    server, process = launch(folder, port)
    record_groups(pid_file, [process.pid])
    env_file = folder / "connection.env"
    write_private(
        env_file, f"export AZURE_STORAGE_CONNECTION_STRING='{server.connection_string}'\n"
    )
    print(f"Azurite blob service on {server.endpoint} (data in {folder}/blob).")  # noqa: T201
    print(f"Point the azurite environment at it with:  source {env_file}")  # noqa: T201


def stop(folder: Path) -> None:
    pid_file = folder / "azurite.pid"
    if not pid_file.exists():
        print("Azurite is not running (no pid file).")  # noqa: T201
        return
    running, stale = recorded_groups(pid_file)
    stop_groups(running)
    pid_file.unlink()
    if stale:
        print(f"Azurite (pid {stale[0]}) had already stopped; nothing else was signalled.")  # noqa: T201
    for pid in running:
        print(f"Stopped Azurite (pid {pid}).")  # noqa: T201


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start or stop the project's Azurite.")
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--folder", type=Path, default=Path(".azurite"))
    parser.add_argument("--port", type=int, default=EMULATOR_PORT)
    args = parser.parse_args(argv)
    try:
        start(args.folder, args.port) if args.action == "start" else stop(args.folder)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
