import logging
import sys

import pytest

from aerial_landuse.core.library_output import prints_logged

logger = logging.getLogger("tests.library_output")


def test_printed_lines_become_log_records_also_when_the_block_raises(caplog):
    with caplog.at_level(logging.INFO, logger=logger.name), pytest.raises(RuntimeError):
        with prints_logged(logger, stderr=True):
            print("Loaded pretrained weights for efficientnet-lite0")
            print("Created version '1' of model 'x'.\n", file=sys.stderr)
            raise RuntimeError("after the prints")
    assert [r.getMessage() for r in caplog.records] == [
        "Loaded pretrained weights for efficientnet-lite0",
        "Created version '1' of model 'x'.",
    ]


def test_only_the_streams_asked_for_are_captured(capsys, caplog):
    with caplog.at_level(logging.INFO, logger=logger.name), prints_logged(logger):
        print("to stderr", file=sys.stderr)
    assert capsys.readouterr().err == "to stderr\n" and not caplog.records
