"""The layers of docs/architecture.md hold: import-linter's contracts in pyproject.toml."""

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
    )


def test_every_layer_contract_is_kept() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_contract_the_code_breaks_is_reported(tmp_path: Path) -> None:
    """The checker sees the package's imports: storage does import the core (its errors), so a
    contract forbidding that is reported broken."""
    config = tmp_path / "importlinter.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "aerial_landuse"\n\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "storage without the core"\ntype = "forbidden"\n'
        'source_modules = ["aerial_landuse.storage"]\n'
        'forbidden_modules = ["aerial_landuse.core"]\n'
    )
    result = lint_imports("--config", str(config))
    assert result.returncode != 0
    assert "aerial_landuse.storage" in result.stdout and "BROKEN" in result.stdout
