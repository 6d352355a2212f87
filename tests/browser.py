"""Headless Chromium for the tests that check what a user sees: screenshots, DOMs, layout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

# Appended to a copy of a page: the widest element's right edge once the page has laid out.
_MEASURE = (
    "<script>addEventListener('load', () => {"
    " document.documentElement.dataset.scrollWidth = document.documentElement.scrollWidth; });"
    "</script>"
)


def chromium() -> str:
    """Debian's Chromium; CI installs it (.ci/run), elsewhere the test says how."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail(
                "Chromium is missing in CI: .ci/run should have installed it (apt-get install chromium)."
            )
        pytest.skip("Chromium not installed (apt-get install chromium) - CI runs this test.")
    return found


def rendered_dom(page: Path, profile: Path, window: str = "1280,900") -> str:
    """The page's DOM after its scripts ran in headless Chromium with a ``window`` of w,h px."""
    done = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            f"--user-data-dir={profile}",
            f"--window-size={window}",
            "--dump-dom",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,  # a loaded machine starts a browser slowly
    )
    return done.stdout


def page_width(html: str, folder: Path, window_width: int = 1280) -> int:
    """How wide the page ``html`` lays out in a ``window_width`` px window (its scroll width):
    wider than the window means the reader scrolls sideways."""
    page = folder / "measured.html"
    page.write_text(html.replace("</body>", f"{_MEASURE}</body>"))
    dom = rendered_dom(page, folder / "profile", f"{window_width},900")
    return int(re.search(r'data-scroll-width="(\d+)"', dom).group(1))
