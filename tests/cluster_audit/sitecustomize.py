"""Loaded by every executor Python of the cluster tests (spark.executorEnv.PYTHONPATH): records
each file an executor opens under the driver's project folder, so a test can prove none did."""

import os
import sys

_FORBIDDEN = os.environ.get("AERIAL_FORBIDDEN_PATH")
_LOG = os.environ.get("AERIAL_AUDIT_LOG")


def _audit(event: str, args: tuple) -> None:
    if event != "open" or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    path = os.path.abspath(os.fsdecode(args[0]))
    if path.startswith(_FORBIDDEN) and not path.startswith(_LOG):
        with open(_LOG, "a") as log:
            log.write(f"{os.getpid()} {path}\n")


if _FORBIDDEN and _LOG:
    sys.addaudithook(_audit)
