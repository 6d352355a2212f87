"""The servers' PID files and key files: a stale PID is never signalled, a key is never readable
by others."""

import os
import stat
import subprocess
import sys

from aerial_landuse.tools import azurite
from aerial_landuse.tools.processes import (
    group_alive,
    record_groups,
    recorded_groups,
    stop_groups,
    write_private,
)


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
    )


def test_a_recorded_group_is_stopped_while_it_is_the_same_process(tmp_path):
    process = _sleeper()
    try:
        record_groups(tmp_path / "pids", [process.pid])
        assert recorded_groups(tmp_path / "pids") == ([process.pid], [])
    finally:
        stop_groups([process.pid])
        process.wait()
    assert recorded_groups(tmp_path / "pids") == ([], [process.pid])


def test_a_pid_that_now_belongs_to_another_process_is_stale_and_left_alone(tmp_path):
    bystander = _sleeper()  # holds the PID a crashed server once had
    try:
        (tmp_path / "azurite.pid").write_text(f"{bystander.pid} 1.000\n")
        assert recorded_groups(tmp_path / "azurite.pid") == ([], [bystander.pid])
        azurite.stop(tmp_path)
        assert group_alive(bystander.pid)
        (tmp_path / "legacy.pid").write_text(f"{bystander.pid}\n")  # no start time: not trusted
        assert recorded_groups(tmp_path / "legacy.pid") == ([], [bystander.pid])
    finally:
        stop_groups([bystander.pid])
        bystander.wait()


def test_private_files_are_owner_only_from_the_start(tmp_path):
    key = tmp_path / "folder" / "account.key"
    write_private(key, "secret")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.read_text() == "secret"
    key.chmod(0o644)
    write_private(key, "new")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.read_text() == "new"
    previous = os.umask(0)
    try:
        write_private(tmp_path / "other.key", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "other.key").stat().st_mode) == 0o600
