"""Transient storage faults are retried a bounded number of times, each retry logged."""

from __future__ import annotations

import logging

import pytest

from aerial_landuse.storage import retry


@pytest.fixture(autouse=True)
def no_waits(monkeypatch):
    """Three attempts (two by default), no back-off: the policy, not the clock, is tested."""
    monkeypatch.setattr(retry, "BACKOFF_S", (0.0,) * 5)
    monkeypatch.setattr(retry, "ATTEMPTS", 3)


def _failing(exc: Exception) -> tuple[list[int], object]:
    """(calls so far, an operation that always raises ``exc``)."""
    calls: list[int] = []

    def operation() -> bytes:
        calls.append(1)
        raise exc

    return calls, operation


def test_a_transient_fault_is_retried_and_logged(caplog):
    calls = []

    def flaky() -> bytes:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("connection reset by peer")
        return b"tile"

    with caplog.at_level(logging.WARNING, logger=retry.__name__):
        assert retry.with_retries(flaky, "Reading abfs://train/x.png") == b"tile"
    assert len(calls) == 3
    assert [r.getMessage().split(" failed")[0] for r in caplog.records] == [
        "Reading abfs://train/x.png"
    ] * 2
    assert "attempt 2 of 3" in caplog.records[0].getMessage()  # (3 attempts here; 2 by default)


def test_the_retries_are_bounded_and_lasting_errors_are_not_retried():
    calls, down = _failing(TimeoutError("no answer"))
    with pytest.raises(TimeoutError):
        retry.with_retries(down, "Reading x")
    assert len(calls) == retry.ATTEMPTS

    missing, gone = _failing(FileNotFoundError("x.png"))
    with pytest.raises(FileNotFoundError):
        retry.with_retries(gone, "Reading x")
    assert len(missing) == 1


def test_an_outage_is_not_blamed_on_the_tile(tmp_path):
    """A read that fails because the storage is down fails the task instead of quarantining."""
    from aerial_landuse.core.inference import read_and_decode
    from aerial_landuse.core.tiles.images import TileLimits
    from aerial_landuse.storage import Storage

    limits = TileLimits(32, 40, 1 << 20)

    class Down(Storage):
        def read_bytes(self, path: str, limit: int | None = None) -> bytes:
            raise ConnectionRefusedError(f"Cannot connect to host 127.0.0.1:10000 ({path})")

    with pytest.raises(ConnectionRefusedError):
        read_and_decode(Down(), "abfs://train/Forest/x.png", 224, limits)
    (tmp_path / "x.png").write_bytes(b"not a png")  # a bad tile is still quarantined
    assert read_and_decode(Storage(), str(tmp_path / "x.png"), 224, limits).startswith(
        "UnidentifiedImageError"
    )
